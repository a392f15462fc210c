//go:build unix

package runsapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/apitest"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/field"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// One window through its life: a claim, a refused second claim that says
// who runs it, a renew, a success, a third claim refused as succeeded, a
// resent complete, and the record.
func TestClaimRenewComplete(t *testing.T) {
	e := newRunEnv(t, runsapi.Options{}, api.Options{})
	resp, body := apitest.Do(t, http.MethodPost, e.url+"/runs/report/claim?window=2026-12-07&lease=10s", "", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("claim = %d %s", resp.StatusCode, body)
	}
	a := decode[runsapi.RunBody](t, body)
	if a.Job != "report" || a.Window != "2026-12-07" || a.Attempt != 1 || a.Fence == 0 || a.LeaseMS != 10000 || len(a.RunID) != 32 {
		t.Fatalf("claim = %+v", a)
	}
	if got := resp.Header.Get("X-Baton-Fence"); got != strconv.FormatUint(a.Fence, 10) {
		t.Errorf("X-Baton-Fence = %q; want %d", got, a.Fence)
	}

	c := e.refused(t, "/runs/report/claim?window=2026-12-07", "running")
	if c.Last == nil || c.Last.RunID != a.RunID || c.Last.Identity != "sidecar-1" || c.Last.Fence != a.Fence ||
		c.Last.Status != "running" || c.RemainingMS <= 0 || c.RemainingMS > 10000 || c.Window != "2026-12-07" || c.Job != "report" {
		t.Errorf("409 = %+v; want the running attempt", c)
	}
	if _, err := time.Parse(time.RFC3339Nano, c.Last.Start); err != nil {
		t.Errorf("start %q: %v", c.Last.Start, err)
	}

	r := decode[runsapi.RunBody](t, e.call(t, http.MethodPost, "/runs/report/renew?run_id="+a.RunID, http.StatusOK))
	if r != a {
		t.Errorf("renew = %+v; want %+v", r, a)
	}
	for range 2 { // the second is a resend after a lost answer
		d := decode[runsapi.CompleteBody](t, e.call(t, http.MethodPost, "/runs/report/complete?run_id="+a.RunID+"&status=ok", http.StatusOK))
		if d.Status != "succeeded" || d.RunID != a.RunID || d.Window != a.Window || d.Fence != a.Fence || d.Attempt != 1 {
			t.Errorf("complete = %+v", d)
		}
	}

	c = e.refused(t, "/runs/report/claim?window=2026-12-07", "succeeded")
	if c.Last == nil || c.Last.RunID != a.RunID || c.Last.Fence != a.Fence || c.Last.Status != "succeeded" || c.Last.End == "" || c.RemainingMS != 0 {
		t.Errorf("409 = %+v; want the success", c)
	}
	if _, err := time.Parse(time.RFC3339Nano, c.Last.End); err != nil {
		t.Errorf("end %q: %v", c.Last.End, err)
	}
	// After the success, the run may neither renew nor fail.
	s := decode[runsapi.ConflictBody](t, e.call(t, http.MethodPost, "/runs/report/renew?run_id="+a.RunID, http.StatusConflict))
	if s.State != "stale" || s.RunID != a.RunID || s.Last == nil || s.Last.Status != "succeeded" {
		t.Errorf("renew after success = %+v", s)
	}
	e.call(t, http.MethodPost, "/runs/report/complete?run_id="+a.RunID+"&status=failed", http.StatusConflict)

	// Another window runs, with a larger fence.
	b := e.claim(t, "/runs/report/claim?window=2026-12-08")
	if b.Fence <= a.Fence || b.LeaseMS != runsapi.DefaultLease.Milliseconds() {
		t.Errorf("next window %+v after %+v", b, a)
	}
	info := e.inspect(t, "report")
	if info.LastSuccess == nil || info.LastSuccess.RunID != a.RunID || info.LastFailure != nil ||
		len(info.Running) != 1 || info.Running[0].RunID != b.RunID || len(info.Recent) != 2 || info.Recent[0].RunID != b.RunID {
		t.Errorf("GET = %+v", info)
	}
	if n := e.rec.count("claim conflict"); n != 2 {
		t.Errorf("recorded %d refused claims; want 2", n)
	}
}

// A failed window is retried, up to MaxAttempts, then refused as
// exhausted with the last failure.
func TestFailuresAreRetriedThenExhausted(t *testing.T) {
	e := newRunEnv(t, runsapi.Options{MaxAttempts: 2}, api.Options{})
	var last runsapi.RunBody
	for i := 1; i <= 2; i++ {
		last = e.claim(t, "/runs/nightly/claim?window=w1")
		if last.Attempt != i {
			t.Fatalf("attempt %d; want %d", last.Attempt, i)
		}
		e.call(t, http.MethodPost, "/runs/nightly/complete?run_id="+last.RunID+"&status=failed", http.StatusOK)
	}
	c := e.refused(t, "/runs/nightly/claim?window=w1", "exhausted")
	if c.Last == nil || c.Last.RunID != last.RunID || c.Last.Status != "failed" || c.Last.Attempt != 2 {
		t.Errorf("409 = %+v", c)
	}
	info := e.inspect(t, "nightly")
	if info.LastFailure == nil || info.LastFailure.RunID != last.RunID || info.LastSuccess != nil || len(info.Recent) != 2 {
		t.Errorf("GET = %+v", info)
	}
}

// A run whose lease ran out is stale: once another attempt has the
// window, its renew and complete get 409 naming the current attempt, and
// nothing is written.
func TestAStaleRunIsRefused(t *testing.T) {
	e := newRunEnv(t, runsapi.Options{}, api.Options{})
	a := e.claim(t, "/runs/sync/claim?window=w&lease=50ms")
	var b runsapi.RunBody
	eventually(t, "a second attempt once the first lease ran out", func() bool {
		resp, body := apitest.Do(t, http.MethodPost, e.url+"/runs/sync/claim?window=w", "", "", nil)
		if resp.StatusCode == http.StatusOK {
			b = decode[runsapi.RunBody](t, body)
		}
		return resp.StatusCode == http.StatusOK
	})
	if b.Attempt != 2 || b.Fence <= a.Fence {
		t.Fatalf("second attempt %+v after %+v", b, a)
	}
	for _, path := range []string{"/runs/sync/complete?run_id=" + a.RunID + "&status=ok", "/runs/sync/renew?run_id=" + a.RunID} {
		c := decode[runsapi.ConflictBody](t, e.call(t, http.MethodPost, path, http.StatusConflict))
		if c.State != "stale" || c.RunID != a.RunID || c.Window != "w" || c.Last == nil || c.Last.RunID != b.RunID || c.Last.Status != "running" {
			t.Errorf("POST %s = %+v; want the current attempt", path, c)
		}
	}
	// An unknown run_id is stale too.
	e.call(t, http.MethodPost, "/runs/sync/complete?run_id=0123456789abcdef0123456789abcdef&status=ok", http.StatusConflict)
	info := e.inspect(t, "sync")
	if info.LastSuccess != nil || len(info.Running) != 1 || info.Running[0].RunID != b.RunID ||
		info.LastFailure == nil || info.LastFailure.RunID != a.RunID || info.LastFailure.Status != "lost" {
		t.Errorf("GET = %+v", info)
	}
}

// A window whose close has passed in Redis time is refused as closed,
// and one whose close lies ahead runs.
func TestClosedWindow(t *testing.T) {
	e := newRunEnv(t, runsapi.Options{}, api.Options{})
	c := e.refused(t, "/runs/j/claim?window=old&closes=2020-01-01T00:00:00Z", "closed")
	if c.Last != nil {
		t.Errorf("409 = %+v; want no attempt", c)
	}
	e.claim(t, "/runs/j/claim?window=new&closes="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
}

// Every bad parameter gets a 400 that names it, and nothing reaches Redis.
func TestBadParameters(t *testing.T) {
	e := newRunEnv(t, runsapi.Options{}, api.Options{})
	long := strings.Repeat("n", 129)
	id := "0123456789abcdef0123456789abcdef"
	tests := []struct {
		method, path, body string
		want               string
	}{
		{"POST", "/runs/" + long + "/claim?window=w", "", "job: "},
		{"POST", "/runs/a%7Bb%7D/claim?window=w", "", "job: "},
		{"POST", "/runs/a%3Ab/claim?window=w", "", "job: "},
		{"POST", "/runs/j/claim", "", "window: required"},
		{"POST", "/runs/j/claim?window=", "", "window: "},
		{"POST", "/runs/j/claim?window=" + long, "", "window: "},
		{"POST", "/runs/j/claim?window=a%20b", "", "window: "},
		{"POST", "/runs/j/claim?window=a%7Bb%7D", "", "window: "},
		{"POST", "/runs/j/claim?window=w&lease=1ms", "", "lease: "},
		{"POST", "/runs/j/claim?window=w&lease=25h", "", "lease: "},
		{"POST", "/runs/j/claim?window=w&lease=10.5ms", "", "lease: "},
		{"POST", "/runs/j/claim?window=w&lease=x", "", "lease: "},
		{"POST", "/runs/j/claim?window=w&window=v", "", "window: given 2 times"},
		{"POST", "/runs/j/claim?window=w&closes=tomorrow", "", "closes: "},
		{"POST", "/runs/j/claim?window=w&closes=2026-12-08", "", "closes: "},
		{"POST", "/runs/j/claim?window=w&closes=1969-12-31T00:00:00Z", "", "closes: "},
		{"POST", "/runs/j/claim?window=w&color=red", "", `"color"`},
		{"POST", "/runs/j/claim?window=w", "{}", "request body"},
		{"POST", "/runs/j/stream", "", "window: required"},
		{"POST", "/runs/j/stream?window=w&lease=1ms", "", "lease: "},
		{"POST", "/runs/" + long + "/stream?window=w", "", "job: "},
		{"POST", "/runs/j/renew", "", "run_id: required"},
		{"POST", "/runs/j/renew?run_id=", "", "run_id: "},
		{"POST", "/runs/j/renew?run_id=a%20b", "", "run_id: "},
		{"POST", "/runs/j/renew?run_id=" + strings.Repeat("a", 129), "", "run_id: "},
		{"POST", "/runs/j/renew?run_id=" + id + "&status=ok", "", `"status"`},
		{"POST", "/runs/j/complete?run_id=" + id, "", "status: required"},
		{"POST", "/runs/j/complete?run_id=" + id + "&status=succeeded", "", "status: "},
		{"POST", "/runs/j/complete?run_id=" + id + "&status=OK", "", "status: "},
		{"POST", "/runs/j/complete?status=ok", "", "run_id: "},
		{"POST", "/runs/" + long + "/complete?run_id=" + id + "&status=ok", "", "job: "},
		{"GET", "/runs/" + long, "", "job: "},
		{"GET", "/runs/j?window=w", "", `"window"`},
	}
	before, err := redistest.CommandCalls(t.Context(), e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			ct := ""
			if tt.body != "" {
				ct = "application/json"
			}
			resp, body := apitest.Do(t, tt.method, e.url+tt.path, ct, tt.body, nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%d %s; want 400", resp.StatusCode, body)
			}
			mustContain(t, "error", decode[api.ErrorBody](t, body).Error, tt.want)
		})
	}
	after, err := redistest.CommandCalls(t.Context(), e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	// The INFO of the first read is the only command in between.
	after["info"]--
	for cmd, n := range after {
		if n != before[cmd] {
			t.Errorf("Redis saw %d more %s calls during the bad requests", n-before[cmd], cmd)
		}
	}
	if n, err := e.rdb.DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("DBSIZE = %d, %v; want 0", n, err)
	}
	if n := e.rec.count("claim bad_request"); n == 0 {
		t.Error("bad requests not recorded")
	}
}

// Wrong methods get a 405 with Allow; the POSTs are guarded by the API's
// token, the GET is not.
func TestMethodsAndToken(t *testing.T) {
	e := newRunEnv(t, runsapi.Options{}, api.Options{Token: "s3cret"})
	for _, tt := range []struct{ method, path, allow string }{
		{"POST", "/runs/j", "GET, HEAD"},
		{"DELETE", "/runs/j", "GET, HEAD"},
		{"GET", "/runs/j/claim", "POST"},
		{"GET", "/runs/j/stream", "POST"},
		{"PUT", "/runs/j/renew", "POST"},
		{"GET", "/runs/j/complete", "POST"},
	} {
		resp, body := apitest.Do(t, tt.method, e.url+tt.path, "", "", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d (Allow %q) %s; want 405 with Allow %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), body, tt.allow)
		}
	}
	for _, path := range []string{"/runs/j/claim?window=w", "/runs/j/stream?window=w", "/runs/j/renew?run_id=x", "/runs/j/complete?run_id=x&status=ok"} {
		e.call(t, http.MethodPost, path, http.StatusUnauthorized)
	}
	auth := http.Header{"Authorization": {"Bearer s3cret"}}
	resp, body := apitest.Do(t, http.MethodPost, e.url+"/runs/j/claim?window=w", "", "", auth)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("claim with the token = %d %s", resp.StatusCode, body)
	}
	e.call(t, http.MethodGet, "/runs/j", http.StatusOK)
	// A cross-origin browser request is refused even with the token.
	hdr := http.Header{"Authorization": {"Bearer s3cret"}, "Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	if resp, _ := apitest.Do(t, http.MethodPost, e.url+"/runs/j/claim?window=v", "", "", hdr); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin claim = %d; want 403", resp.StatusCode)
	}
}

// Invalid options are refused with a *field.Error that names the field.
func TestInvalidOptions(t *testing.T) {
	c := redistest.Start(t).Client()
	for _, tt := range []struct {
		o     runsapi.Options
		field string
	}{
		{runsapi.Options{MaxAttempts: -1}, "MaxAttempts"},
		{runsapi.Options{MaxAttempts: 101}, "MaxAttempts"},
		{runsapi.Options{Keep: 5}, "Keep"},
		{runsapi.Options{DefaultLease: -time.Second}, "DefaultLease"},
		{runsapi.Options{MinLease: time.Minute, MaxLease: time.Second}, "MinLease"},
		{runsapi.Options{MaxLease: 25 * time.Hour}, "MaxLease"},
		{runsapi.Options{DefaultLease: 2 * time.Hour, MaxLease: time.Hour}, "DefaultLease"},
		{runsapi.Options{MinLease: 1500 * time.Microsecond}, "MinLease"},
		{runsapi.Options{Prefix: "a{b}"}, "Prefix"},
		{runsapi.Options{StreamLease: 2 * time.Hour, MaxLease: time.Hour}, "StreamLease"},
		{runsapi.Options{Keepalive: -time.Second}, "Keepalive"},
	} {
		_, err := runsapi.NewRedisRuns(c, tt.o)
		fe, ok := errors.AsType[*field.Error](err)
		if !errors.Is(err, runsapi.ErrInvalidOptions) || !ok || fe.Field != tt.field {
			t.Errorf("NewRedisRuns(%+v) = %v; want ErrInvalidOptions naming %s", tt.o, err, tt.field)
		}
	}
	if _, err := runsapi.NewRedisRuns(nil, runsapi.Options{}); !errors.Is(err, runsapi.ErrInvalidOptions) {
		t.Errorf("nil client: %v", err)
	}
}

// A run still running when more windows than the record keeps are
// claimed after it stays renewable and completable by its id.
func TestARunBeyondTheRecordsKeepStaysReachable(t *testing.T) {
	e := newRunEnv(t, runsapi.Options{}, api.Options{})
	long := e.claim(t, "/runs/report/claim?window=long&lease=60s")
	for i := range 60 {
		o := e.claim(t, fmt.Sprintf("/runs/report/claim?window=o%d&lease=60s", i))
		e.call(t, http.MethodPost, "/runs/report/complete?run_id="+o.RunID+"&status=ok", http.StatusOK)
	}
	e.call(t, http.MethodPost, "/runs/report/renew?run_id="+long.RunID, http.StatusOK)
	e.call(t, http.MethodPost, "/runs/report/complete?run_id="+long.RunID+"&status=ok", http.StatusOK)
	e.refused(t, "/runs/report/claim?window=long&lease=60s", "succeeded")
}
