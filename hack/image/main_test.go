package main

import (
	"errors"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	env := func(k string) string {
		if k == "SOURCE_DATE_EPOCH" {
			return "1780000000"
		}
		return ""
	}
	o, err := parseFlags([]string{"-version", "v2", "-revision", "r2"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if o.ldflags != batonLDFlags("v2", "r2") || o.epoch != "1780000000" || o.out != "bin/images" || !o.oci {
		t.Errorf("options = %+v", o)
	}
	o, err = parseFlags([]string{"-ldflags", "-s", "-source-date-epoch", "5"}, env)
	if err != nil || o.ldflags != "-s" || o.epoch != "5" {
		t.Errorf("options = %+v, %v", o, err)
	}
	for _, args := range [][]string{{"-nope"}, {"extra"}} {
		if _, err := parseFlags(args, env); !errors.Is(err, errUsage) {
			t.Errorf("%q: err = %v, want errUsage", args, err)
		}
	}
}

func TestParseEpoch(t *testing.T) {
	got, err := parseEpoch("1780000000")
	if err != nil || !got.Equal(time.Unix(1780000000, 0)) {
		t.Errorf("parseEpoch = %v, %v", got, err)
	}
	for _, bad := range []string{"", "yesterday", "-1", "1.5"} {
		if _, err := parseEpoch(bad); !errors.Is(err, errUsage) {
			t.Errorf("parseEpoch(%q): err = %v, want errUsage", bad, err)
		}
	}
}
