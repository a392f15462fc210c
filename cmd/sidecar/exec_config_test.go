package main

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/supervisor"
)

// Any valid --lease-ttl alone is a valid `baton run`: the default
// --kill-grace follows the timings, keeps the stop's slack, and is
// supervisor.DefaultKillGrace with the default timings.
func TestEveryLeaseTTLAloneIsAValidExecConfig(t *testing.T) {
	for _, tc := range []struct {
		ttl  string
		want time.Duration // 0: just in (0, max]
	}{
		{"3ms", 0}, // the smallest TTL the election accepts
		{"10ms", 0},
		{"500ms", 0},
		{"1s", 0},
		{"2s", 0},
		{"3s", 750 * time.Millisecond}, // margin 1s, less a quarter
		{"6s", 1500 * time.Millisecond},
		{"15s", supervisor.DefaultKillGrace},
		{"60s", supervisor.DefaultKillGrace},
		{"1h", supervisor.DefaultKillGrace},
	} {
		for _, how := range []string{"flag", "env"} {
			t.Run(tc.ttl+"/"+how, func(t *testing.T) {
				args := []string{"--lock", "j", "--", "true"}
				vars := map[string]string{}
				if how == "flag" {
					args = append([]string{"--lease-ttl", tc.ttl}, args...)
				} else {
					vars["BATON_LEASE_TTL"] = tc.ttl
				}
				var stderr strings.Builder
				c, err := parseRunConfig(args, env(vars), &stderr)
				if err != nil {
					t.Fatalf("--lease-ttl %s alone: %v", tc.ttl, err)
				}
				// The rule, spelled out: the stop's budget is the smaller of
				// the margin and the release timeout, its slack a quarter
				// of that, at most 1s.
				g, budget := c.Exec.KillGrace, min(c.LeaseTTL-c.RenewDeadline, c.ReleaseTimeout)
				if slack := min(time.Second, budget/4); g <= 0 || g+slack > budget {
					t.Errorf("default --kill-grace %v leaves less than the slack %v of the budget %v", g, slack, budget)
				}
				if tc.want != 0 && g != tc.want {
					t.Errorf("default --kill-grace %v, want %v", g, tc.want)
				}
			})
		}
	}
}

// An explicit --kill-grace that leaves the stop less than its slack exits
// 2 and names the flag and the rule; one that leaves exactly the slack is
// accepted.
func TestKillGraceKeepsTheSlack(t *testing.T) {
	addr := undialedRedis(t)
	for _, tc := range []struct {
		name  string
		flags []string
		ok    bool
		want  string
	}{
		{"3s ttl, grace at the slack", []string{"--lease-ttl", "3s", "--kill-grace", "750ms"}, true, ""},
		{"3s ttl, grace into the slack", []string{"--lease-ttl", "3s", "--kill-grace", "800ms"}, false, "--kill-grace must be greater than 0 and at most 750ms (got 800ms)"},
		{"3s ttl, grace just below the margin", []string{"--lease-ttl", "3s", "--kill-grace", "999ms"}, false, "at most 750ms"},
		{"15s ttl, grace at the slack", []string{"--kill-grace", "4s"}, true, ""},
		{"15s ttl, grace into the slack", []string{"--kill-grace", "4500ms"}, false, "at most 4s (got 4.5s)"},
		{"release timeout", []string{"--lease-ttl", "1m", "--release-timeout", "2s", "--kill-grace", "1600ms"}, false, "at most 1.5s (got 1.6s)"},
		{"from the environment", []string{"--lease-ttl", "3s"}, false, "at most 750ms (got 1s)"},
		{"zero", []string{"--kill-grace", "0s"}, false, "--kill-grace must be greater than 0"},
		{"negative", []string{"--kill-grace", "-1s"}, false, "--kill-grace must be greater than 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			if tc.name == "from the environment" {
				vars["BATON_KILL_GRACE"] = "1s"
			}
			args := append(append([]string{"--lock", "j", "--redis-addr", addr}, tc.flags...), "--", "true")
			var stderr strings.Builder
			_, err := parseRunConfig(args, env(vars), &stderr)
			if tc.ok {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil {
				// run would start the sidecar.
				t.Fatalf("accepted; want exit 2 naming --kill-grace and %q", tc.want)
			}
			var stdout strings.Builder
			if code := run(append([]string{"run"}, args...), env(vars), &stdout, &stderr); code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr %s", code, exitUsage, stderr.String())
			}
			for _, want := range []string{tc.want, "less a slack of a quarter of that, at most 1s"} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q lacks %q", stderr.String(), want)
				}
			}
		})
	}
}
