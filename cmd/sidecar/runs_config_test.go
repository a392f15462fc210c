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
