//go:build linux

package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// apiKind is what one lock API client does in its loop.
type apiKind struct {
	name string
	// path is the route's kind and name, as in Grant.Name.
	path    string
	permits int // a semaphore's; 0 for a lock
	stream  bool
	// fair: 0 never, 1 always, 2 every other acquire.
	fair int
}

// apiClientKinds are the clients of each sidecar: four users of one lock
// (stream and lease form, plain and fair) and a stream user of a 1-permit
// and of a 2-permit semaphore.
var apiClientKinds = []apiKind{
	{"lock-stream", "locks/m", 0, true, 0},
	{"lock-lease", "locks/m", 0, false, 0},
	{"lock-stream-fair", "locks/m", 0, true, 1},
	{"lock-lease-fair", "locks/m", 0, false, 1},
	{"sem1-stream", "semaphores/s1", 1, true, 2},
	{"sem2-stream", "semaphores/s2", 2, true, 2},
}

// apiClient is one application process using the lock API of its slot's
// sidecar; it records every grant it gets in w.grants.
type apiClient struct {
	w    *apiWorld
	name string
	slot *apiSlot
	kind apiKind
	http *http.Client
	rng  *rand.Rand
}

func (w *apiWorld) newClient(name string, s *apiSlot, k apiKind, seed uint64) *apiClient {
	return &apiClient{
		w: w, name: name, slot: s, kind: k,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}},
		rng:  rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)),
	}
}

// apiResult is one answer of the lock API.
type apiResult struct {
	code int
	body []byte
	// at is when the answer's headers came.
	at   int64
	lock httpapi.LockBody
}

// call sends one lock call to n with the API token and reads its answer.
func (c *apiClient) call(ctx context.Context, n *node, method, path string, q map[string]string, timeout time.Duration) (apiResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.apiURL+path+query(q), nil)
	if err != nil {
		return apiResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := c.http.Do(req)
	at := clocks.MonotonicNS()
	if err != nil {
		return apiResult{at: at}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := apiResult{code: resp.StatusCode, body: b, at: at}
	if r.code == http.StatusOK {
		_ = json.Unmarshal(b, &r.lock)
	}
	return r, err
}

func query(q map[string]string) string {
	if len(q) == 0 {
		return ""
	}
	v := url.Values{}
	for k, x := range q {
		v.Set(k, x)
	}
	return "?" + v.Encode()
}

// result names an answer for the stats: its code, "503 busy" for
// --locks-max-held, or "transport error".
func result(r apiResult, err error) string {
	switch {
	case err != nil:
		return "transport error"
	case r.code == http.StatusServiceUnavailable && strings.Contains(string(r.body), "too many locks"):
		return "503 busy"
	}
	return strconv.Itoa(r.code)
}

func (c *apiClient) form() string {
	if c.kind.stream {
		return c.kind.path + " stream"
	}
	return c.kind.path + " lease"
}

func (c *apiClient) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(c.rng.Int64N(int64(hi-lo)+1))
}

// acquireQuery is an acquire's query.
func (c *apiClient) acquireQuery(wait, lease time.Duration, fair bool) map[string]string {
	q := map[string]string{"lease": lease.String()}
	if wait > 0 {
		q["wait"] = wait.String()
	}
	if fair {
		q["fair"] = "true"
	}
	if c.kind.permits > 0 {
		q["permits"] = strconv.Itoa(c.kind.permits)
	}
	return q
}

// loop acquires, holds and releases until ctx ends.
func (c *apiClient) loop(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		fair := c.kind.fair == 1 || (c.kind.fair == 2 && i%2 == 1)
		var backoff bool
		if c.kind.stream {
			backoff = c.streamOnce(ctx, fair)
		} else {
			backoff = c.leaseOnce(ctx, fair)
		}
		d := c.between(0, c.w.lease/10)
		if backoff {
			d += c.w.lease / 5
		}
		sleepCtx(ctx, d)
	}
}

// granted records a grant of c's name through n, which started at at.
func (c *apiClient) granted(n *node, fence uint64, at int64) *Grant {
	return c.w.grants.Granted(Grant{
		Name: c.kind.path, Limit: max(c.kind.permits, 1), Client: c.name, Sidecar: n.name, Fence: fence, Start: at,
	})
}

// leaseOnce takes c's name in the lease form, with a lease of twice the
// run's, holds it for a while, renewing every sixth of the lease, and
// releases it. It reports whether the acquire failed otherwise than by its
// wait.
func (c *apiClient) leaseOnce(ctx context.Context, fair bool) bool {
	n, done := c.w.use(c.slot)
	defer done()
	l := 2 * c.w.lease
	// As far as the client knows, the lease counts from the acquire's
	// sending: a wait of at most half the lease leaves at least half.
	wait := c.between(0, l/2).Truncate(time.Millisecond)
	path := "/" + c.kind.path
	c.w.inject(n, "acquire")
	sent := clocks.MonotonicNS()
	res, err := c.call(ctx, n, http.MethodPost, path, c.acquireQuery(wait, l, fair), wait+attemptTimeout+slack)
	c.w.stats.add("acquire " + result(res, err) + " (" + c.form() + ")")
	if err != nil || res.code != http.StatusOK {
		if err == nil && res.code == http.StatusConflict {
			// One try or a short wait: do not spin on a held lock.
			sleepCtx(ctx, c.between(0, l/4))
		}
		return err != nil || res.code != http.StatusConflict
	}
	g := c.granted(n, res.lock.Fence, res.at)
	leaseEnd := sent + int64(l)
	c.w.grants.Leased(g, leaseEnd)
	holdEnd := res.at + int64(c.between(0, l))
	lastRenew := sent
	rctx := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		now := clocks.MonotonicNS()
		if now >= holdEnd || now >= leaseEnd {
			break
		}
		next := lastRenew + int64(l/6)
		if now < next {
			sleepCtx(ctx, time.Duration(min(holdEnd, next)-now))
			continue
		}
		c.w.inject(n, "renew")
		s := clocks.MonotonicNS()
		r, err := c.call(rctx, n, http.MethodPost, path+"/renew", map[string]string{"token": res.lock.Token}, attemptTimeout+slack)
		c.w.stats.add("renew " + result(r, err))
		if err == nil && r.code == http.StatusOK {
			lastRenew, leaseEnd = s, s+int64(l)
			c.w.grants.Leased(g, leaseEnd)
			continue
		}
		at := r.at
		if at == 0 {
			at = clocks.MonotonicNS()
		}
		c.w.grants.Told(g, "renew "+result(r, err), at)
		break
	}
	c.release(ctx, n, g, res.lock.Token, leaseEnd, nil)
	return false
}

// apiStream is an open stream.
type apiStream struct {
	cancel context.CancelFunc
	body   io.ReadCloser
	// ended is closed when the stream has ended.
	ended chan struct{}
	// ours: the client closed it.
	ours atomic.Bool
}

// streamOnce takes c's name as a stream, holds it for a while and
// releases it by DELETE or by closing the stream. It reports whether the
// acquire failed otherwise than by its wait.
func (c *apiClient) streamOnce(ctx context.Context, fair bool) bool {
	n, done := c.w.use(c.slot)
	defer done()
	l := c.w.lease
	wait := 3 * l
	c.w.inject(n, "acquire")
	sctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(wait+attemptTimeout+slack, cancel)
	req, err := http.NewRequestWithContext(sctx, http.MethodPost, n.apiURL+"/"+c.kind.path+"/stream"+query(c.acquireQuery(wait, l, fair)), nil)
	if err != nil {
		cancel()
		return true
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := c.http.Do(req)
	at := clocks.MonotonicNS()
	timer.Stop()
	if err != nil || resp.StatusCode != http.StatusOK {
		r := apiResult{}
		if err == nil {
			r.code = resp.StatusCode
			r.body, _ = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
		}
		cancel()
		c.w.stats.add("acquire " + result(r, err) + " (" + c.form() + ")")
		return err != nil || r.code != http.StatusConflict
	}
	c.w.stats.add("acquire 200 (" + c.form() + ")")
	fence, _ := strconv.ParseUint(resp.Header.Get("X-Baton-Fence"), 10, 64)
	g := c.granted(n, fence, at)
	st := &apiStream{cancel: cancel, body: resp.Body, ended: make(chan struct{})}
	token := make(chan string, 1)
	go func() {
		defer close(st.ended)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var ev httpapi.LockEvent
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			switch ev.Event {
			case "acquired":
				token <- ev.Token
			case "lost":
				if !st.ours.Load() {
					c.w.grants.Told(g, "lost event", clocks.MonotonicNS())
					c.w.stats.add("stream lost event")
				}
			}
		}
		if !st.ours.Load() {
			c.w.grants.Told(g, "stream ended", clocks.MonotonicNS())
		}
	}()
	var tok string
	select {
	case tok = <-token:
	case <-st.ended:
		c.w.stats.add("stream ended before its acquired event")
		cancel()
		return true
	}
	select {
	case <-time.After(c.between(0, 3*l/2)):
	case <-st.ended:
		cancel()
		return false
	case <-ctx.Done():
		c.closeStream(n, g, st, "stream closed")
		return false
	}
	if c.rng.IntN(2) == 0 {
		c.closeStream(n, g, st, "stream closed")
		return false
	}
	c.release(ctx, n, g, tok, 0, st)
	return false
}

// closeStream closes st: the holder stops using g and gives it back.
func (c *apiClient) closeStream(n *node, g *Grant, st *apiStream, how string) {
	c.w.inject(n, "stream close")
	st.ours.Store(true)
	c.w.grants.Released(g, how, clocks.MonotonicNS())
	st.cancel()
	_ = st.body.Close()
	<-st.ended
}

// release gives g back by DELETE. A DELETE that fails otherwise than by
// lost ownership releases nothing: the holder still holds, and retries
// after a while, a stream's holder may close its stream instead, and after
// three retries it gives up (closing its stream, or stopping to use a
// lease that runs out anyway). leaseEnd is a lease-form grant's lease end
// as the client knows it, 0 for a stream.
func (c *apiClient) release(ctx context.Context, n *node, g *Grant, token string, leaseEnd int64, st *apiStream) {
	l := c.w.lease
	rctx := context.WithoutCancel(ctx)
	for attempt := 0; ; attempt++ {
		op := "DELETE"
		if attempt > 0 {
			op = "DELETE retry"
		}
		c.w.inject(n, op)
		s := clocks.MonotonicNS()
		res, err := c.call(rctx, n, http.MethodDelete, "/"+c.kind.path, map[string]string{"token": token}, attemptTimeout+slack)
		c.w.stats.add(op + " " + result(res, err) + " (" + c.form() + ")")
		switch {
		case err == nil && res.code == http.StatusOK:
			c.w.grants.Released(g, op+" 200", s)
			if st != nil {
				// A DELETE ends the stream with lost.
				select {
				case <-st.ended:
				case <-time.After(slack):
					c.w.stats.add("stream still open after its DELETE's 200")
				}
				st.ours.Store(true)
				st.cancel()
				<-st.ended
			}
			return
		case err == nil && res.code == http.StatusConflict:
			// The holder stopped using it when it sent the DELETE, and the
			// answer does not tell it that it still holds.
			c.w.grants.Released(g, op+" 409", s)
			c.w.grants.Told(g, op+" 409", res.at)
			if attempt > 0 && leaseEnd != 0 && s < leaseEnd {
				c.w.stats.add("DELETE retry 409 while its lease was valid")
			}
			if st != nil {
				st.ours.Store(true)
				st.cancel()
				<-st.ended
			}
			return
		}
		// Still held: wait a while, then retry or close the stream.
		c.w.grants.FailedRelease(g, op+" "+result(res, err), s, clocks.MonotonicNS())
		if attempt == 3 {
			if st != nil {
				c.closeStream(n, g, st, "stream closed after failed DELETEs")
			} else {
				c.w.grants.Released(g, "stopped using it after failed DELETEs", clocks.MonotonicNS())
			}
			return
		}
		pause := time.NewTimer(c.between(l/10, l/2))
		var ended <-chan struct{}
		if st != nil {
			ended = st.ended
		}
		select {
		case <-pause.C:
		case <-ended:
			pause.Stop()
			st.ours.Store(true)
			st.cancel()
			return
		}
		if st != nil && c.rng.IntN(2) == 0 {
			c.closeStream(n, g, st, "stream closed after a failed DELETE")
			return
		}
	}
}
