package httpx

import (
	"strings"
	"testing"
	"time"
)

func TestLeasesCheck(t *testing.T) {
	ok := Leases{Min: 10 * time.Millisecond, Max: time.Hour, Default: time.Minute, StreamDefault: 15 * time.Second}
	for _, tt := range []struct {
		name string
		l    Leases
		want string // "" for valid
	}{
		{"valid", ok, ""},
		{"fraction of a millisecond", Leases{Min: 1500 * time.Microsecond, Max: time.Hour, Default: time.Minute, StreamDefault: time.Minute}, "MinLease must be a whole number of milliseconds"},
		{"min above max", Leases{Min: time.Hour, Max: time.Minute, Default: time.Minute, StreamDefault: time.Minute}, "MinLease must not exceed MaxLease"},
		{"default outside", Leases{Min: time.Second, Max: time.Minute, Default: time.Hour, StreamDefault: time.Minute}, "DefaultLease must lie between MinLease and MaxLease"},
		{"stream default outside", Leases{Min: time.Second, Max: time.Minute, Default: time.Minute, StreamDefault: time.Millisecond}, "StreamLease must lie between"},
	} {
		err := tt.l.Check()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestLeasesParse(t *testing.T) {
	l := Leases{Min: 10 * time.Millisecond, Max: time.Hour}
	for _, tt := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30s", 30 * time.Second, ""},
		{"10ms", 10 * time.Millisecond, ""},
		{"abc", 0, "is not a duration"},
		{"2h", 0, "must lie between"},
		{"5ms", 0, "must lie between"},
		{"10500us", 0, "whole number of milliseconds"},
	} {
		got, err := l.Parse(tt.in)
		if tt.err == "" && (err != nil || got != tt.want) || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("Parse(%q) = %v, %v; want %v, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestValidToken(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{{"abc-DEF_123", true}, {"", false}, {strings.Repeat("a", 129), false}, {strings.Repeat("a", 128), true}, {"a b", false}, {"ä", false}} {
		if got := ValidToken(tt.in, 128); got != tt.want {
			t.Errorf("ValidToken(%q) = %v", tt.in, got)
		}
	}
}
