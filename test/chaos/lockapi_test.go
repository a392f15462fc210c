//go:build linux

package chaos

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/clocks"
)

var (
	lockAPIDuration = flag.Duration("chaos.lockapi-duration", 25*time.Second,
		"length of TestChaosLockAPI's randomized run of lock API clients on real sidecars (make chaos: longer)")
	lockAPILease = flag.Duration("chaos.lockapi-lease", time.Second, "lease of TestChaosLockAPI's locks, streams and permits")
)

const (
	// apiSidecars is the number of sidecars the lock API clients use at
	// once.
	apiSidecars = 3
	// apiMaxHeld is every sidecar's --locks-max-held: above the clients
	// per sidecar (6), so that a stream's release still under way when
	// its client acquires again is no refusal; the final check takes all
	// of them at once.
	apiMaxHeld = 8
	// apiToken is every sidecar's API token.
	apiToken = "chaos-lock-api-token"
	// apiInjectP is the chance that a client's renew, DELETE or stream
	// close gets a fault in its sidecar's proxy just before it is sent;
	// apiInjectAcquireP that an acquire does (acquires are many more).
	apiInjectP        = 0.25
	apiInjectAcquireP = 0.03
	// apiMaxInjected bounds the targeted faults under way at once, so that
	// some sidecar is always healthy.
	apiMaxInjected = 2
	// attemptTimeout is the sidecar's bound on one lock call to Redis
	// (httpapi.RedisLocksOptions.AttemptTimeout's default): a blackhole longer
	// than it fails the call.
	attemptTimeout = 5 * time.Second
)

// apiWorld is the lock API topology: apiSidecars sidecars, each behind its
// own fault proxy and serving the lock API with a token, and HTTP clients
// in this process, each bound to a slot (a sidecar, replaced by a fresh one
// after a FLUSHALL).
type apiWorld struct {
	e      *env
	lease  time.Duration
	grants *Grants
	admin  *redis.Client
	slots  []*apiSlot
	stats  apiStats

	mu     sync.Mutex
	inUse  map[*node]int
	faultL map[*node]*sync.Mutex
	rng    *rand.Rand // the targeted faults' draw

	injected atomic.Int32
	faults   sync.WaitGroup
}

// apiSlot is where some clients send their calls: one sidecar at a time.
type apiSlot struct {
	mu sync.Mutex
	n  *node
}

// apiStats counts the answers the clients got, by call and result.
type apiStats struct {
	mu sync.Mutex
	m  map[string]int
}

func (s *apiStats) add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]int{}
	}
	s.m[k]++
}

func (s *apiStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("answers\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-44s %d\n", k, s.m[k])
	}
	return b.String()
}

// newAPIWorld starts a Redis and apiSidecars sidecars serving the lock API.
func newAPIWorld(t *testing.T, lease time.Duration, seed uint64) *apiWorld {
	t.Helper()
	e := newEnvNoNodes(t, lease)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(apiToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.extra = []string{"--api-token-file", tokenFile, "--locks-max-held", strconv.Itoa(apiMaxHeld)}
	w := &apiWorld{
		e: e, lease: lease, grants: NewGrants(), admin: e.redisClient(),
		inUse: map[*node]int{}, faultL: map[*node]*sync.Mutex{},
		rng: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d)),
	}
	for range apiSidecars {
		w.slots = append(w.slots, &apiSlot{n: e.start()})
	}
	e.settle = w.awaitGrant
	return w
}

// awaitGrant waits for a grant after the call: progress after a fault.
func (w *apiWorld) awaitGrant() error {
	before := w.grants.Count()
	bound := 3*w.lease + 2*slack
	deadline := time.After(bound)
	for {
		changed := w.grants.Changed()
		if w.grants.Count() > before {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			return fmt.Errorf("no grant within %v", bound)
		}
	}
}

// use returns the slot's sidecar and counts one more call on it; done
// ends the count.
func (w *apiWorld) use(s *apiSlot) (n *node, done func()) {
	s.mu.Lock()
	n = s.n
	s.mu.Unlock()
	w.mu.Lock()
	w.inUse[n]++
	w.mu.Unlock()
	return n, func() {
		w.mu.Lock()
		w.inUse[n]--
		w.mu.Unlock()
	}
}

// faultLock is n's fault lock: one fault at a time in n's proxy.
func (w *apiWorld) faultLock(n *node) *sync.Mutex {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.faultL[n]
	if l == nil {
		l = &sync.Mutex{}
		w.faultL[n] = l
	}
	return l
}

// proxyFault is one fault of a proxy: apply it, and heal it after d.
type proxyFault struct {
	kind  string
	apply func(p *Proxy, d time.Duration) (heal func())
	// lo, hi bound its length.
	lo, hi time.Duration
}

// cutStorm closes every connection of p every 2ms until heal: calls fail
// at once with a transport error, retried or not.
func cutStorm(p *Proxy, _ time.Duration) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			p.CloseAll()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(stop); <-done }
}

// proxyFaults are the faults the clients' calls meet, by weight.
func (w *apiWorld) proxyFaults() []struct {
	f      proxyFault
	weight int
} {
	l := w.lease
	blackhole := func(p *Proxy, _ time.Duration) func() { p.SetBlackhole(true); return func() { p.SetBlackhole(false) } }
	latency := func(p *Proxy, _ time.Duration) func() { p.SetLatency(l / 4); return func() { p.SetLatency(0) } }
	return []struct {
		f      proxyFault
		weight int
	}{
		{proxyFault{"connections cut", func(p *Proxy, _ time.Duration) func() { p.CloseAll(); return func() {} }, 0, 0}, 3},
		{proxyFault{"connections cut for a while", cutStorm, 20 * time.Millisecond, 300 * time.Millisecond}, 4},
		{proxyFault{"blackhole short", blackhole, l / 10, l / 2}, 2},
		{proxyFault{"blackhole long", blackhole, l, 3 * l}, 2},
		{proxyFault{"blackhole past the attempt timeout", blackhole, attemptTimeout + l/2, attemptTimeout + l}, 1},
		{proxyFault{"latency", latency, l, 2 * l}, 2},
	}
}

// inject starts, with probability apiInjectP (apiInjectAcquireP for an
// acquire), a fault in n's proxy just
// before the client sends op: it hits op's Redis calls. The fault heals
// itself in the background.
func (w *apiWorld) inject(n *node, op string) {
	faults := w.proxyFaults()
	total := 0
	for _, f := range faults {
		total += f.weight
	}
	w.mu.Lock()
	p := apiInjectP
	if op == "acquire" {
		p = apiInjectAcquireP
	}
	hit := w.rng.Float64() < p
	pick := w.rng.IntN(total)
	frac := w.rng.Float64()
	w.mu.Unlock()
	if !hit || w.injected.Load() >= apiMaxInjected {
		return
	}
	var f proxyFault
	for _, c := range faults {
		if pick < c.weight {
			f = c.f
			break
		}
		pick -= c.weight
	}
	fl := w.faultLock(n)
	if !fl.TryLock() {
		return
	}
	w.injected.Add(1)
	d := f.lo + time.Duration(frac*float64(f.hi-f.lo))
	w.e.hist.Fault(f.kind + " before " + op)
	heal := f.apply(n.proxy, d)
	w.faults.Go(func() {
		time.Sleep(d)
		heal()
		w.injected.Add(-1)
		fl.Unlock()
	})
}

// mixFaults are runMix's faults: FLUSHALL with a fresh sidecar, faults of
// one sidecar's proxy not timed to a call, killed pub/sub connections, and
// quiet spells in which only the targeted faults come.
func (w *apiWorld) mixFaults() []weightedFault {
	l := w.lease
	between := func(rng *rand.Rand, lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	onSidecar := func(kind string, apply func(p *Proxy), heal func(p *Proxy), lo, hi time.Duration) func(*env, *rand.Rand, redisDoer) error {
		return func(e *env, rng *rand.Rand, _ redisDoer) error {
			s := w.slots[rng.IntN(len(w.slots))]
			n, done := w.use(s)
			defer done()
			fl := w.faultLock(n)
			fl.Lock()
			defer fl.Unlock()
			e.hist.Fault(kind)
			apply(n.proxy)
			time.Sleep(between(rng, lo, hi))
			heal(n.proxy)
			return nil
		}
	}
	return []weightedFault{
		{"flushall + fresh sidecar", 2, func(e *env, rng *rand.Rand, c redisDoer) error {
			return w.flushAndReplace(c, rng.IntN(len(w.slots)))
		}},
		{"blackhole a sidecar", 2, onSidecar("blackhole a sidecar",
			func(p *Proxy) { p.SetBlackhole(true) }, func(p *Proxy) { p.SetBlackhole(false) }, l, 3*l)},
		{"latency on a sidecar", 2, onSidecar("latency on a sidecar",
			func(p *Proxy) { p.SetLatency(l / 2) }, func(p *Proxy) { p.SetLatency(0) }, l, 2*l)},
		{"pubsub kill", 1, func(e *env, _ *rand.Rand, c redisDoer) error {
			e.hist.Fault("pubsub kill")
			return c.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err()
		}},
		{"quiet (targeted faults only)", 3, func(e *env, rng *rand.Rand, _ redisDoer) error {
			e.hist.Fault("quiet (targeted faults only)")
			time.Sleep(between(rng, l, 2*l))
			return nil
		}},
	}
}

// flushAndReplace runs FLUSHALL, starts a fresh sidecar, which never saw a
// fence nor issued a lease, for slot i's clients, and stops the slot's
// former sidecar with SIGTERM once its clients have left it (a rolling
// update drains a sidecar before it stops it: a lease-form holder cannot be
// told that a shutdown released its lock).
func (w *apiWorld) flushAndReplace(c redisDoer, i int) error {
	w.e.hist.Fault("flushall + fresh sidecar")
	sent := clocks.MonotonicNS()
	if err := c.Do(context.Background(), "FLUSHALL").Err(); err != nil {
		return err
	}
	w.grants.Flushed(sent, clocks.MonotonicNS())
	fresh := w.e.start()
	s := w.slots[i]
	s.mu.Lock()
	old := s.n
	s.n = fresh
	s.mu.Unlock()
	// A client's call ends within its wait, hold and releases.
	deadline := time.Now().Add(10*w.lease + attemptTimeout + 2*slack)
	for {
		w.mu.Lock()
		busy := w.inUse[old]
		w.mu.Unlock()
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still has %d calls under way %v after it left its slot", old.name, busy, 10*w.lease+attemptTimeout+2*slack)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fl := w.faultLock(old)
	fl.Lock() // no targeted fault left in its proxy
	w.e.term(old)
	fl.Unlock()
	return nil
}

// quiesce waits for every targeted fault to heal.
func (w *apiWorld) quiesce() { w.faults.Wait() }

// checkSlots proves that every slot of every sidecar came back: after
// every fault has healed and a lease has passed, each sidecar grants
// apiMaxHeld locks at once (on names of their own), and releases them.
func (w *apiWorld) checkSlots(ctx context.Context) []string {
	var (
		mu   sync.Mutex
		errs []string
		wg   sync.WaitGroup
	)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: apiMaxHeld}}
	defer hc.CloseIdleConnections()
	for _, s := range w.slots {
		n, done := w.use(s)
		refused := 0
		var last string
		for i := range apiMaxHeld {
			wg.Go(func() {
				c := &apiClient{w: w, name: "slots", http: hc}
				name := "slot-" + n.name + "-" + strconv.Itoa(i)
				res, err := c.call(ctx, n, http.MethodPost, "/locks/"+name, map[string]string{"lease": (10 * w.lease).String()}, 10*time.Second)
				mu.Lock()
				defer mu.Unlock()
				if err != nil || res.code != http.StatusOK {
					refused++
					last = fmt.Sprintf("%d %v %s", res.code, err, strings.TrimSpace(string(res.body)))
					return
				}
				tok := res.lock.Token
				wg.Go(func() {
					_, _ = c.call(ctx, n, http.MethodDelete, "/locks/"+name, map[string]string{"token": tok}, 10*time.Second)
				})
			})
		}
		wg.Wait()
		done()
		if refused > 0 {
			errs = append(errs, fmt.Sprintf("%s: %d of its %d slots did not come back (an acquire on a free name answered %s)", n.name, refused, apiMaxHeld, last))
		}
	}
	return errs
}

// grantsAround lists the grants that started within window of at, and the
// FLUSHALLs, relative to at: the neighbourhood of a violation.
func grantsAround(grants []Grant, flushes []Flush, at int64, window time.Duration, end int64) string {
	rel := func(x int64) time.Duration { return time.Duration(x - at).Round(time.Microsecond) }
	var b strings.Builder
	for _, f := range flushes {
		if d := rel(f.Sent); d > -window && d < window {
			fmt.Fprintf(&b, "  FLUSHALL sent %v, answered %v\n", d, rel(f.Done))
		}
	}
	for _, g := range grants {
		if d := rel(g.Start); d > -window && d < window {
			e, how := g.End(end)
			fmt.Fprintf(&b, "  %s %s: %v .. %v (%s)", g.Name, &g, d, rel(e), how)
			if len(g.Notes) > 0 {
				fmt.Fprintf(&b, "; %s", strings.Join(g.Notes, ", "))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// TestChaosLockAPI is the fault suite's lock API topology: apiSidecars
// real sidecars, each behind its own fault proxy, serve the lock API; in
// this process 6 HTTP clients per sidecar loop on one lock (stream and
// lease form, plain and fair, a lease-form lease being twice a stream's, released by DELETE, by closing the stream,
// or by the lease's end), a 1-permit and a 2-permit semaphore (streams,
// released by DELETE or close). Faults hit the clients' own calls: just
// before an acquire, renew, DELETE or stream close, the call's sidecar's
// proxy gets, at random, a blackhole, latency, a connection kill or a
// storm of them. runMix adds FLUSHALL with a fresh sidecar, faults of one
// sidecar not timed to a call, and killed pub/sub connections. Then
// CheckGrants proves that no name had more holders than its limit and that
// every holder was told before the next grant, and checkSlots that every
// sidecar's slots came back.
func TestChaosLockAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("randomized run skipped with -short")
	}
	lease := *lockAPILease
	seed := *chaosSeed + 7919*31
	w := newAPIWorld(t, lease, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	t.Logf("seed %d, duration %v, lease %v, %d sidecars, %d clients each", *chaosSeed, *lockAPIDuration, lease, apiSidecars, len(apiClientKinds))

	ctx, cancel := context.WithCancel(t.Context())
	var clients sync.WaitGroup
	for i, s := range w.slots {
		for j, k := range apiClientKinds {
			c := w.newClient(fmt.Sprintf("c%d.%s", i+1, k.name), s, k, seed*1000+uint64(i*len(apiClientKinds)+j))
			clients.Go(func() { c.loop(ctx) })
		}
	}
	if err := w.awaitGrant(); err != nil {
		cancel()
		clients.Wait()
		t.Fatal(err)
	}
	runMix(t, w.e, w.admin, rng, w.mixFaults(), lease, *lockAPIDuration)
	cancel()
	clients.Wait()
	w.quiesce()
	end := clocks.MonotonicNS()

	// Every fault has healed: a slot taken by a call that failed comes back
	// when its lease (at most two of the run's, in the lease form) could
	// have run out at the latest.
	time.Sleep(2*lease + slack)
	slotErrs := w.checkSlots(context.Background())

	grants, flushes := w.grants.Snapshot()
	r := CheckGrants(grants, flushes, end, 2*lease+slack)
	_, _, faults, _ := w.e.hist.Snapshot()
	t.Log("\n" + r.Table() + faultTable(faults) + w.stats.String())
	if !r.OK() {
		t.Errorf("lock API history violates the checker:\n%s", r.Problems())
		for i, at := range r.overlapAt {
			t.Logf("violation %d: faults up to %v before: %v\n%s", i, 5*lease, w.e.hist.FaultsBefore(at, 5*lease),
				grantsAround(grants, flushes, at, 3*lease, end))
		}
	}
	for _, s := range slotErrs {
		t.Error(s)
	}
	if stuck := w.e.hist.StuckReplicas(); len(stuck) > 0 {
		t.Errorf("sidecars stuck after SIGTERM: %v", stuck)
	}
	if want := int(*lockAPIDuration / lease); r.Grants < want {
		t.Errorf("%d grants, want at least %d (one per lease of the run)", r.Grants, want)
	}
	if t.Failed() && *keepLogs != "" {
		t.Logf("sidecar logs kept in %s", w.e.dir)
	}
}
