package runs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/field"
	"github.com/baton-dev/baton/pkg/redislock"
	"github.com/baton-dev/baton/pkg/runs"
)

// invalidField fails the test unless err is ErrInvalid wrapping a
// *field.Error that names want.
func invalidField(t *testing.T, err error, want string) {
	t.Helper()
	var fe *field.Error
	if !errors.Is(err, runs.ErrInvalid) || !errors.As(err, &fe) || fe.Field != want {
		t.Fatalf("err = %v, want ErrInvalid naming %s", err, want)
	}
}

// New checks the job's name and the options without a Redis call (the
// client points nowhere).
func TestNewValidates(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	for _, tc := range []struct {
		name  string
		job   string
		opts  runs.Options
		field string // "" when valid
	}{
		{"defaults", "nightly-report.v2_x", runs.Options{}, ""},
		{"bounds", "j", runs.Options{MaxAttempts: 100, Keep: runs.MaxKeep, KeyGrace: time.Millisecond}, ""},
		{"empty job", "", runs.Options{}, "job"},
		{"job with a brace", "a{b}", runs.Options{}, "job"},
		{"job with a colon", "a:b", runs.Options{}, "job"},
		{"job too long", strings.Repeat("j", 129), runs.Options{}, "job"},
		{"negative attempts", "j", runs.Options{MaxAttempts: -1}, "MaxAttempts"},
		{"too many attempts", "j", runs.Options{MaxAttempts: 101}, "MaxAttempts"},
		{"keep below 20", "j", runs.Options{Keep: 19}, "Keep"},
		{"keep above max", "j", runs.Options{Keep: runs.MaxKeep + 1}, "Keep"},
		{"negative grace", "j", runs.Options{KeyGrace: -time.Second}, "KeyGrace"},
		{"grace not whole ms", "j", runs.Options{KeyGrace: 1500 * time.Microsecond}, "KeyGrace"},
		{"min replicas", "j", runs.Options{Lease: redislock.Options{MinReplicas: 1}}, "Lease.MinReplicas"},
		{"bad prefix", "j", runs.Options{Lease: redislock.Options{Prefix: "a b"}}, "Prefix"},
		{"negative attempt timeout", "j", runs.Options{Lease: redislock.Options{AttemptTimeout: -1}}, "AttemptTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := runs.New(c, tc.job, tc.opts)
			if tc.field == "" {
				if err != nil || j.Name() != tc.job {
					t.Fatalf("New: %v", err)
				}
				return
			}
			invalidField(t, err, tc.field)
		})
	}
	if _, err := runs.New(nil, "j", runs.Options{}); !errors.Is(err, runs.ErrInvalid) {
		t.Errorf("nil client: %v", err)
	}
}

// Claim checks its arguments before any Redis call, and so do Complete's
// status and Resume's id: the client points nowhere.
func TestClaimValidates(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	j := newJob(t, c, "j", runs.Options{})
	for _, tc := range []struct {
		name   string
		window string
		lease  time.Duration
		closes time.Time
		field  string
	}{
		{"empty window", "", time.Second, time.Time{}, "window"},
		{"window too long", strings.Repeat("w", runs.MaxWindowLen+1), time.Second, time.Time{}, "window"},
		{"window with a space", "a b", time.Second, time.Time{}, "window"},
		{"window with a brace", "{w}", time.Second, time.Time{}, "window"},
		{"window with a plus", "2026-12-07T03:00:00+01:00", time.Second, time.Time{}, "window"},
		{"window with a slash", "a/b", time.Second, time.Time{}, "window"},
		{"window not ASCII", "é", time.Second, time.Time{}, "window"},
		{"zero lease", "w", 0, time.Time{}, "lease"},
		{"lease not whole ms", "w", 1500 * time.Microsecond, time.Time{}, "lease"},
		{"lease too long", "w", 24*time.Hour + time.Millisecond, time.Time{}, "lease"},
		{"close before 1970", "w", time.Second, time.Unix(-1, 0), "closes"},
		{"close after 2255", "w", time.Second, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), "closes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := j.Claim(t.Context(), tc.window, tc.lease, tc.closes)
			invalidField(t, err, tc.field)
		})
	}
	if err := runs.CheckWindow(strings.Repeat("w", runs.MaxWindowLen)); err != nil {
		t.Errorf("longest window: %v", err)
	}
	if err := runs.CheckWindow(runs.WindowName(time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC))); err != nil {
		t.Errorf("a schedule's window name: %v", err)
	}
	for _, status := range []runs.Status{"", runs.Running, runs.Lost, "ok"} {
		invalidField(t, (&runs.Run{}).Complete(t.Context(), status), "status")
	}
}
