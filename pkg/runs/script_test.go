package runs

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
)

// The scripts refuse arguments they cannot count with an error reply,
// before any write.
func TestScriptArguments(t *testing.T) {
	c := redistest.Start(t).Client()
	j, err := New(c, "j", Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys := j.keys("w")
	for _, tc := range []struct {
		name   string
		script *redis.Script
		args   []any
		want   string
	}{
		{"claim lease", claimScript, []any{"w", "id", "me", "soon", 3, 50, 1000, 0, "ch"}, "runs: lease soon is not a whole number"},
		{"claim close", claimScript, []any{"w", "id", "me", 1000, 3, 50, 1000, "1e20", "ch"}, "runs: close 1e20 is not a whole number"},
		{"renew grace", renewScript, []any{"id", 1000, "-1"}, "runs: grace -1 is not a whole number"},
		{"complete status", completeScript, []any{"id", "running", 1000, "ch"}, "runs: status running is not an end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.script.Run(t.Context(), c, keys, tc.args...).Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if n := c.DBSize(t.Context()).Val(); n != 0 {
				t.Errorf("%d keys written", n)
			}
		})
	}
}
