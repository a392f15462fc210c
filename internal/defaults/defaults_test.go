package defaults_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/defaults"
	"github.com/baton-dev/baton/pkg/field"
)

func TestDurations(t *testing.T) {
	tests := []struct {
		name    string
		a, b    time.Duration // the fields' values before
		wantA   time.Duration
		wantB   time.Duration
		wantErr string // "" for none
	}{
		{name: "zeros take defaults", wantA: time.Second, wantB: time.Minute},
		{name: "set values stay", a: 3 * time.Second, b: time.Hour, wantA: 3 * time.Second, wantB: time.Hour},
		{name: "one set, one zero", b: 5 * time.Millisecond, wantA: time.Second, wantB: 5 * time.Millisecond},
		{name: "smallest positive stays", a: 1, wantA: 1, wantB: time.Minute},
		{name: "negative first", a: -time.Second, b: 0, wantA: -time.Second, wantErr: "A must not be negative (got -1s)"},
		{name: "negative second, first filled", b: -1, wantA: time.Second, wantB: -1, wantErr: "B must not be negative (got -1ns)"},
		{name: "both negative: the first is named", a: -1, b: -2, wantA: -1, wantB: -2, wantErr: "A must not be negative (got -1ns)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tt.a, tt.b
			err := defaults.Durations(
				defaults.Duration{Name: "A", Value: &a, Default: time.Second},
				defaults.Duration{Name: "B", Value: &b, Default: time.Minute},
			)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Durations: %v", err)
			case tt.wantErr != "" && (!errors.As(err, new(*field.Error)) || err.Error() != tt.wantErr):
				t.Fatalf("Durations error = %v; want a *field.Error %q", err, tt.wantErr)
			}
			if a != tt.wantA || b != tt.wantB {
				t.Errorf("fields = %v, %v; want %v, %v", a, b, tt.wantA, tt.wantB)
			}
		})
	}
}

func TestDurationsNone(t *testing.T) {
	if err := defaults.Durations(); err != nil {
		t.Fatalf("Durations() = %v; want nil", err)
	}
}

func ExampleDurations() {
	opts := struct{ Timeout, Interval time.Duration }{Interval: 2 * time.Second}
	err := defaults.Durations(
		defaults.Duration{Name: "Timeout", Value: &opts.Timeout, Default: 5 * time.Second},
		defaults.Duration{Name: "Interval", Value: &opts.Interval, Default: time.Second},
	)
	fmt.Println(opts.Timeout, opts.Interval, err)

	opts.Timeout = -time.Second
	err = defaults.Durations(defaults.Duration{Name: "Timeout", Value: &opts.Timeout, Default: 5 * time.Second})
	fmt.Println(fmt.Errorf("mypkg: %w", err))
	// Output:
	// 5s 2s <nil>
	// mypkg: Timeout must not be negative (got -1s)
}
