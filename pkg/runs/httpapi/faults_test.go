//go:build unix

package runsapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// During a black hole (every byte dropped: nothing reaches Redis) each
// call answers 503 within the attempt timeout and leaves Redis as it was;
// once Redis is back, a retry of the same call works.
func TestRedisBlackHole(t *testing.T) {
	t.Run("claim", func(t *testing.T) {
		e, p := newProxiedRunEnv(t, runsapi.Options{})
		p.SetBlackhole(true)
		start := time.Now()
		body := decode[api.ErrorBody](t, e.call(t, http.MethodPost, "/runs/j/claim?window=w", http.StatusServiceUnavailable))
		mustContain(t, "503 error", body.Error, "redis: ")
		t.Logf("FIGURE claim answered 503 %v into a black hole", time.Since(start))
		if n, err := e.rdb.DBSize(t.Context()).Result(); err != nil || n != 0 {
			t.Errorf("DBSIZE = %d, %v after a claim into a black hole; want 0", n, err)
		}
		p.SetBlackhole(false)
		if a := e.claim(t, "/runs/j/claim?window=w"); a.Attempt != 1 {
			t.Errorf("retried claim = %+v; want attempt 1", a)
		}
		if n := e.rec.count("claim error"); n != 1 {
			t.Errorf("recorded %d failed claims; want 1", n)
		}
	})
	t.Run("renew", func(t *testing.T) {
		e, p := newProxiedRunEnv(t, runsapi.Options{})
		a := e.claim(t, "/runs/j/claim?window=w&lease=1m")
		p.SetBlackhole(true)
		e.call(t, http.MethodPost, "/runs/j/renew?run_id="+a.RunID, http.StatusServiceUnavailable)
		p.SetBlackhole(false)
		info := e.inspect(t, "j")
		if len(info.Running) != 1 || info.Running[0].RunID != a.RunID {
			t.Fatalf("GET = %+v after a failed renew; want the run still running", info)
		}
		e.call(t, http.MethodPost, "/runs/j/renew?run_id="+a.RunID, http.StatusOK)
	})
	t.Run("complete", func(t *testing.T) {
		e, p := newProxiedRunEnv(t, runsapi.Options{})
		a := e.claim(t, "/runs/j/claim?window=w&lease=1m")
		p.SetBlackhole(true)
		e.call(t, http.MethodPost, "/runs/j/complete?run_id="+a.RunID+"&status=ok", http.StatusServiceUnavailable)
		e.call(t, http.MethodGet, "/runs/j", http.StatusServiceUnavailable)
		p.SetBlackhole(false)
		info := e.inspect(t, "j")
		if len(info.Running) != 1 || info.LastSuccess != nil {
			t.Fatalf("GET = %+v after a failed complete; want the run still running", info)
		}
		e.call(t, http.MethodPost, "/runs/j/complete?run_id="+a.RunID+"&status=ok", http.StatusOK)
		c := e.refused(t, "/runs/j/claim?window=w", "succeeded")
		if c.Last == nil || c.Last.RunID != a.RunID {
			t.Errorf("409 = %+v; want the retried success", c)
		}
	})
}
