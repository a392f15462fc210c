//go:build unix

package runsapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/baton-dev/baton/internal/apitest"

	"github.com/baton-dev/baton/pkg/api"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
	"github.com/baton-dev/baton/test/chaos"
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

// When a call runs in Redis but its answer is lost, the API answers 503,
// and a retry finds what the call wrote: a claim's attempt counts, ended
// as lost, so the retry runs the next attempt; a complete is recorded, and
// its retry, with the same status, answers 200.
func TestRedisAnswerLost(t *testing.T) {
	// The request that runs in Redis and gets no answer is the next one
	// that names window w's key: claim and complete do; Resume does not.
	const lostTrigger = ":run:w:w"
	setup := func(t *testing.T) (*runEnv, *chaos.Proxy) {
		e, p := newProxiedRunEnv(t, runsapi.Options{})
		// Load the scripts, so that the muted EVALSHA is the call itself.
		w := e.claim(t, "/runs/j/claim?window=warm-up")
		e.call(t, http.MethodPost, "/runs/j/complete?status=ok&run_id="+w.RunID, http.StatusOK)
		return e, p
	}
	t.Run("claim", func(t *testing.T) {
		e, p := setup(t)
		fired := p.Arm(lostTrigger, chaos.Stall)
		e.call(t, http.MethodPost, "/runs/j/claim?window=w&lease=2s", http.StatusServiceUnavailable)
		<-fired
		var b runsapi.RunBody
		eventually(t, "a retried claim", func() bool {
			resp, body := apitest.Do(t, http.MethodPost, e.url+"/runs/j/claim?window=w", "", "", nil)
			if resp.StatusCode == http.StatusOK {
				b = decode[runsapi.RunBody](t, body)
			}
			return resp.StatusCode == http.StatusOK
		})
		if b.Attempt != 2 {
			t.Errorf("retried claim = %+v; want attempt 2, after the unanswered one", b)
		}
		info := e.inspect(t, "j")
		if info.LastFailure == nil || info.LastFailure.Window != "w" || info.LastFailure.Attempt != 1 || info.LastFailure.Status != "lost" {
			t.Errorf("GET = %+v; want attempt 1 lost", info)
		}
	})
	t.Run("complete", func(t *testing.T) {
		e, p := setup(t)
		a := e.claim(t, "/runs/j/claim?window=w&lease=1m")
		fired := p.Arm(lostTrigger, chaos.Stall)
		e.call(t, http.MethodPost, "/runs/j/complete?run_id="+a.RunID+"&status=ok", http.StatusServiceUnavailable)
		<-fired
		if info := e.inspect(t, "j"); info.LastSuccess == nil || info.LastSuccess.RunID != a.RunID {
			t.Fatalf("GET = %+v; want the unanswered success recorded", info)
		}
		e.call(t, http.MethodPost, "/runs/j/complete?run_id="+a.RunID+"&status=ok", http.StatusOK)
		e.refused(t, "/runs/j/claim?window=w", "succeeded")
	})
}
