package main

import (
	"bytes"
	"strings"
	"testing"
)

// The runs' flags are checked before any Redis call, and their errors
// name them.
func TestRunsFlags(t *testing.T) {
	addr := undialedRedis(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--runs-max-attempts", "101"}, "--runs-max-attempts must be from 1 to 100"},
		{[]string{"--runs-max-attempts", "-1"}, "--runs-max-attempts must not be negative"},
		{[]string{"--runs-key-prefix", "a:b"}, "--runs-key-prefix"},
		{[]string{"--runs-key-prefix", "baton"}, "--runs-key-prefix must differ from --key-prefix"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"--lock", "j", "--redis-addr", addr}, tc.args...), env(nil), &stdout, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, stderr.String(), exitUsage, tc.want)
			}
		})
	}
}

// A schedule's run lease may be up to 24h without --resign-hold-off,
// which schedule mode does not use: its default does not refuse it.
func TestScheduleLongLease(t *testing.T) {
	for _, tc := range []struct {
		ttl  string
		want string // "" for valid
	}{
		{"1h", ""},
		{"2h", ""},
		{"24h", ""},
		{"25h", "--lease-ttl must be a whole number of milliseconds, at most 24h0m0s, with --schedule"},
	} {
		t.Run(tc.ttl, func(t *testing.T) {
			var stderr bytes.Buffer
			_, err := parseRunConfig([]string{"--lock", "j", "--schedule", "@daily", "--lease-ttl", tc.ttl, "--", "true"}, env(nil), &stderr)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("--lease-ttl %s: %v", tc.ttl, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("--lease-ttl %s: %v, want %q", tc.ttl, err, tc.want)
			}
		})
	}
}

// An empty --schedule is refused, not taken for exec mode.
func TestScheduleEmpty(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseRunConfig([]string{"--lock", "j", "--schedule", "", "--", "true"}, env(nil), &stderr)
	if err == nil || !strings.Contains(err.Error(), "--schedule must not be empty") {
		t.Errorf("--schedule '': %v, want an error naming --schedule", err)
	}
	if _, err := parseRunConfig([]string{"--lock", "j", "--", "true"}, env(map[string]string{"BATON_SCHEDULE": ""}), &stderr); err != nil {
		t.Errorf("an empty BATON_SCHEDULE: %v, want exec mode", err)
	}
}
