package jsonshape

import (
	"reflect"
	"testing"
)

type server struct {
	Leader bool   `json:"leader"`
	Fence  uint64 `json:"fence,omitempty"`
}

func TestMismatches(t *testing.T) {
	type same struct {
		Fence uint64 `json:"fence"`
	}
	type missing struct {
		Holder string `json:"holder"`
	}
	type wrongType struct {
		Fence int `json:"fence"`
	}
	for _, tc := range []struct {
		name   string
		copied reflect.Type
		want   int
	}{
		{"a subset in step", reflect.TypeFor[same](), 0},
		{"a field the API lacks", reflect.TypeFor[missing](), 1},
		{"another type", reflect.TypeFor[wrongType](), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Mismatches(tc.copied, reflect.TypeFor[server]())
			if len(got) != tc.want {
				t.Errorf("Mismatches = %q, want %d", got, tc.want)
			}
		})
	}
}
