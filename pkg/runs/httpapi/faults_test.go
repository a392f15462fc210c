//go:build unix

package runsapi_test

import (
	"bytes"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/apitest"
	"github.com/baton-dev/baton/internal/redistest"

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

// replyDropper is a TCP proxy in front of Redis that, while armed, mutes
// each connection on which a request holding the trigger goes by: the
// request runs in Redis, and no reply comes back on that connection, as
// when the network fails after the request.
type replyDropper struct {
	ln      net.Listener
	target  string
	trigger []byte
	armed   atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

func newReplyDropper(t *testing.T, target, trigger string) *replyDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyDropper{ln: ln, target: target, trigger: []byte(trigger)}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *replyDropper) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		var muted atomic.Bool
		p.wg.Go(func() {
			pump(s, c, func(b []byte) bool { // requests
				if p.armed.Load() && bytes.Contains(b, p.trigger) {
					muted.Store(true)
				}
				return true
			})
		})
		p.wg.Go(func() { pump(c, s, func([]byte) bool { return !muted.Load() }) }) // replies
	}
}

// pump copies src to dst, each chunk that pass lets through, until either
// fails, and then closes both.
func pump(dst, src net.Conn, pass func([]byte) bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && pass(buf[:n]) {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// When a call runs in Redis but its answer is lost, the API answers 503,
// and a retry finds what the call wrote: a claim's attempt counts, ended
// as lost, so the retry runs the next attempt; a complete is recorded, and
// its retry, with the same status, answers 200.
func TestRedisAnswerLost(t *testing.T) {
	setup := func(t *testing.T) (*runEnv, *replyDropper) {
		srv := redistest.Start(t)
		// Claim and complete name the window's key; Resume does not.
		p := newReplyDropper(t, srv.Addr(), ":run:w:w")
		c := redis.NewClient(&redis.Options{Addr: p.ln.Addr().String(), MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		e := newRunEnvOn(t, c, srv.Client(), runsapi.Options{AttemptTimeout: 300 * time.Millisecond}, api.Options{})
		// Load the scripts, so that the muted EVALSHA is the call itself.
		w := e.claim(t, "/runs/j/claim?window=warm-up")
		e.call(t, http.MethodPost, "/runs/j/complete?status=ok&run_id="+w.RunID, http.StatusOK)
		return e, p
	}
	t.Run("claim", func(t *testing.T) {
		e, p := setup(t)
		p.armed.Store(true)
		e.call(t, http.MethodPost, "/runs/j/claim?window=w&lease=2s", http.StatusServiceUnavailable)
		p.armed.Store(false)
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
		p.armed.Store(true)
		e.call(t, http.MethodPost, "/runs/j/complete?run_id="+a.RunID+"&status=ok", http.StatusServiceUnavailable)
		p.armed.Store(false)
		if info := e.inspect(t, "j"); info.LastSuccess == nil || info.LastSuccess.RunID != a.RunID {
			t.Fatalf("GET = %+v; want the unanswered success recorded", info)
		}
		e.call(t, http.MethodPost, "/runs/j/complete?run_id="+a.RunID+"&status=ok", http.StatusOK)
		e.refused(t, "/runs/j/claim?window=w", "succeeded")
	})
}
