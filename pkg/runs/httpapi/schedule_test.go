//go:build unix

package runsapi_test

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/apitest"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/runs"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// scheduleEnv is schedule mode's API on a real redis-server: GET /leader
// of a job every hour, whose run here running returns.
type scheduleEnv struct {
	url     string
	job     *runs.Job
	running atomic.Pointer[runs.Run]
}

func newScheduleEnv(t *testing.T, c *redis.Client) *scheduleEnv {
	t.Helper()
	job, err := runs.New(c, "hourly", runs.Options{Identity: "pod-a"})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := runs.ParseSchedule("@hourly", "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	e := &scheduleEnv{job: job}
	s, err := runsapi.NewSchedule(runsapi.ScheduleOptions{
		Job: job, Schedule: sched, TimeZone: "Europe/Berlin", Identity: "pod-a", Running: e.running.Load,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewRoutesHandler(api.Options{Routes: []api.Routes{s}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.NewServer(h, api.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.url = apitest.Serve(t, srv)
	return e
}

// leader is GET /leader's body, wanting 200.
func (e *scheduleEnv) leader(t *testing.T) runsapi.ScheduleBody {
	t.Helper()
	resp, body := apitest.Do(t, "GET", e.url+"/leader", "", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /leader = %d %s; want 200", resp.StatusCode, body)
	}
	return decode[runsapi.ScheduleBody](t, body)
}

// TestScheduleLeader: GET /leader in schedule mode tells the window open
// now and the next one, in Redis time, the last run by any replica, the
// last success and failure, and whether a run of this replica's runs.
func TestScheduleLeader(t *testing.T) {
	srv := redistest.Start(t)
	e := newScheduleEnv(t, srv.Client())
	ctx := t.Context()

	b := e.leader(t)
	now, err := time.Parse(time.RFC3339Nano, b.Now)
	if err != nil {
		t.Fatalf("now %q: %v", b.Now, err)
	}
	hour := now.Truncate(time.Hour)
	if b.Mode != "schedule" || b.Job != "hourly" || b.Identity != "pod-a" || b.Schedule != "@hourly" || b.TimeZone != "Europe/Berlin" {
		t.Errorf("GET /leader = %+v; want mode schedule, job hourly, identity pod-a, @hourly in Europe/Berlin", b)
	}
	if b.Window != runs.WindowName(hour) || b.NextWindow != runs.WindowName(hour.Add(time.Hour)) {
		t.Errorf("window %s, next %s at %s; want %s and %s", b.Window, b.NextWindow, b.Now, runs.WindowName(hour), runs.WindowName(hour.Add(time.Hour)))
	}
	if b.RunningHere || b.Run != nil || b.LastRun != nil || b.LastSuccess != nil || b.LastFailure != nil {
		t.Errorf("a job that never ran: %+v; want no run", b)
	}

	// A success by another replica, a failure, then a run of this one.
	other, err := runs.New(srv.Client(), "hourly", runs.Options{Identity: "pod-b"})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := other.Claim(ctx, "w1", time.Minute, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ok.Complete(ctx, runs.Succeeded); err != nil {
		t.Fatal(err)
	}
	failed, err := other.Claim(ctx, "w2", time.Minute, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := failed.Complete(ctx, runs.Failed); err != nil {
		t.Fatal(err)
	}
	here, err := e.job.Claim(ctx, "w2", time.Minute, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	e.running.Store(here)
	b = e.leader(t)
	switch {
	case !b.RunningHere || b.Run == nil || b.Run.RunID != here.ID || b.Run.Window != "w2" || b.Run.Attempt != 2 || b.Run.Fence != here.Fence:
		t.Errorf("running here: %v, run %+v; want w2's attempt 2, %s", b.RunningHere, b.Run, here.ID)
	case b.LastRun == nil || b.LastRun.RunID != here.ID || b.LastRun.Status != "running" || b.LastRun.Identity != "pod-a":
		t.Errorf("last run %+v; want this replica's, running", b.LastRun)
	case b.LastSuccess == nil || b.LastSuccess.RunID != ok.ID || b.LastSuccess.Identity != "pod-b" || b.LastSuccess.End == "":
		t.Errorf("last success %+v; want w1's by pod-b, ended", b.LastSuccess)
	case b.LastFailure == nil || b.LastFailure.RunID != failed.ID || b.LastFailure.Status != "failed":
		t.Errorf("last failure %+v; want w2's attempt 1", b.LastFailure)
	}

	if err := here.Complete(ctx, runs.Succeeded); err != nil {
		t.Fatal(err)
	}
	e.running.Store(nil)
	b = e.leader(t)
	if b.RunningHere || b.Run != nil || b.LastRun == nil || b.LastRun.Status != "succeeded" || b.LastSuccess == nil || b.LastSuccess.RunID != here.ID {
		t.Errorf("after the run: running here %v, run %+v, last run %+v, last success %+v; want this run's success", b.RunningHere, b.Run, b.LastRun, b.LastSuccess)
	}
}

// TestScheduleLeaderRefusals: bad parameters get a 400 and wrong methods a
// 405, before any Redis call; the election's other routes are not served;
// a Redis that does not answer gets a 503.
func TestScheduleLeaderRefusals(t *testing.T) {
	srv := redistest.Start(t)
	e := newScheduleEnv(t, srv.Client())
	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/leader?wait=30s", 400, "wait: long-polls are not served in schedule mode"},
		{"GET", "/leader?verbose=1", 400, `unknown query parameter \"verbose\"`},
		{"GET", "/leader?%zz", 400, "query:"},
		{"POST", "/leader", 405, "allowed: GET, HEAD"},
		{"DELETE", "/leader", 405, "allowed: GET, HEAD"},
		{"GET", "/leader/watch", 404, "not served in schedule mode"},
		{"POST", "/leader/release", 404, "not served in schedule mode"},
		{"GET", "/leaders", 404, "no such endpoint"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := apitest.Do(t, tc.method, e.url+tc.path, "", "", nil)
			if resp.StatusCode != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("%s %s = %d %s; want %d with %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.want)
			}
		})
	}
	srv.Kill()
	resp, body := apitest.Do(t, "GET", e.url+"/leader", "", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"error":"redis: `) {
		t.Errorf("GET /leader with Redis down = %d %s; want 503 naming Redis", resp.StatusCode, body)
	}
}

func TestNewScheduleOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { _ = c.Close() })
	job, err := runs.New(c, "j", runs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := runs.ParseSchedule("@daily", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts runsapi.ScheduleOptions
		want string
	}{
		{runsapi.ScheduleOptions{Schedule: sched}, "Job is required"},
		{runsapi.ScheduleOptions{Job: job}, "Schedule is required"},
	} {
		if _, err := runsapi.NewSchedule(tc.opts); !errors.Is(err, runsapi.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSchedule = %v; want ErrInvalidOptions naming %q", err, tc.want)
		}
	}
}
