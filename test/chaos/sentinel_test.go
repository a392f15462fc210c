//go:build linux

package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/redistest"
)

// startSentinel starts redis-server --sentinel monitoring master m at
// primary, and returns its address.
func startSentinel(t *testing.T, primary string) string {
	t.Helper()
	bin := redistest.Binary(t)
	dir := t.TempDir()
	port := redistest.FreePort(t)
	host, pport, _ := strings.Cut(primary, ":")
	conf := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
dir %s
logfile %s
sentinel monitor m %s %s 2
sentinel down-after-milliseconds m 1000
sentinel failover-timeout m 10000
`, port, dir, filepath.Join(dir, "sentinel.log"), host, pport)
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, path, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	waitFor(t, 20*time.Second, "sentinel "+addr+" up", func() bool { return c.Ping(t.Context()).Err() == nil })
	return addr
}

// waitFor polls cond every 50ms until it holds, or fails the test.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSentinelFailover: one primary, one replica (linked through a fault
// proxy, so that replication can be cut), three sentinels, baton in
// sentinel mode. A lease that never reached the replica is lost in the
// failover: a fresh candidate then leads on the new primary while the old
// leader still believes in its term. With --redis-min-replicas-ack 1 the
// unreplicated lease is never led on, and the window is closed.
func TestSentinelFailover(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait bool
	}{{"without replica ack", false}, {"with replica ack", true}} {
		t.Run(tc.name, func(t *testing.T) {
			overlap := sentinelScenario(t, tc.wait)
			t.Logf("double-leader window %s: %v", tc.name, overlap)
			if tc.wait && overlap > 0 {
				t.Errorf("double-leader window %v with replica acknowledgement; want none", overlap)
			}
		})
	}
}

func sentinelScenario(t *testing.T, withWait bool) time.Duration {
	const ttl = 10 * time.Second // renew deadline 6.7s: longer than a failover
	ctx := t.Context()
	primary := redistest.Start(t)
	link, err := NewProxy(primary.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = link.Close() })
	_, linkPort, _ := strings.Cut(link.Addr(), ":")
	replica := redistest.Start(t, "replicaof 127.0.0.1 "+linkPort)
	rc := replica.Client()
	waitFor(t, 20*time.Second, "replica linked", func() bool {
		return strings.Contains(rc.Info(ctx, "replication").Val(), "master_link_status:up")
	})
	// A lock both servers know, as a release leaves it: the lease below
	// is what the replica misses, not the lock (whose first term on an
	// unknown store would wait a TTL, and write nothing that needs an ack).
	term := keysOf().term
	redistest.KnownStore(t, primary.Client(), term)
	waitFor(t, 10*time.Second, "the term record replicated", func() bool { return rc.Exists(ctx, term).Val() == 1 })
	var sentinels []string
	for range 3 {
		sentinels = append(sentinels, startSentinel(t, primary.Addr()))
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinels[0]})
	t.Cleanup(func() { _ = sc.Close() })
	waitFor(t, 30*time.Second, "sentinels know the replica and each other", func() bool {
		reps, _ := sc.Replicas(ctx, "m").Result()
		sents, _ := sc.Sentinels(ctx, "m").Result()
		return len(reps) == 1 && len(sents) == 2
	})

	extra := []string{"--redis-mode", "sentinel", "--redis-master-name", "m"}
	if withWait {
		extra = append(extra, "--redis-min-replicas-ack", "1", "--redis-replica-ack-timeout", "200ms")
	}
	e := &env{t: t, hist: NewHistory(), ttl: ttl, dir: logDir(t), addr: primary.Addr(),
		redisArg: strings.Join(sentinels, ","), extra: extra}
	t.Cleanup(e.teardown)

	// Replication is cut: whatever is written now exists on the primary only.
	link.SetBlackhole(true)
	a := e.start()
	if withWait {
		time.Sleep(3 * time.Second)
		if n := e.hist.Terms(); n != 0 {
			t.Fatalf("%d terms on an unreplicated lease; want none", n)
		}
		_, lb, err := a.status(context.Background())
		if err != nil || !strings.Contains(lb.LastError, "replicas") {
			t.Fatalf("last_error %q (%v); want it to name the missing replica acknowledgement", lb.LastError, err)
		}
		link.SetBlackhole(false) // the replica catches up; acks come back
	}
	e.leader(30 * time.Second)

	primary.Kill()
	e.hist.Fault("primary killed")
	waitFor(t, 60*time.Second, "sentinels promote the replica", func() bool {
		addr, err := sc.GetMasterAddrByName(ctx, "m").Result()
		return err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(replica.Port())
	})
	// A candidate that never saw the old lease, as a pod started now.
	e.start()
	if withWait {
		// The new primary has no replica left: nobody may lead until the old
		// primary comes back as its replica.
		primary.Restart()
	}
	l, err := e.awaitLeader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("leader after the failover: %s", l.name)
	e.assertLive(3*ttl + slack)
	e.teardown()
	terms, _, _, errs := e.hist.Snapshot()
	r := Check(terms, nil)
	if len(errs) != 0 || len(r.FenceErrors) != 0 {
		t.Errorf("record errors %v, fence errors %v", errs, r.FenceErrors)
	}
	for _, tm := range terms {
		t.Logf("term %s fence %d [%d, %d] %s", tm.Instance, tm.Fence, tm.Start, tm.End, tm.Reason)
	}
	if r.MinMargin < 0 {
		return -r.MinMargin
	}
	return 0
}

// TestSentinelPartition: a partition cuts the primary off from its two
// replicas and from the sentinels, but not from the leader, whose address
// still leads to the old primary (a client on the minority side). Sentinel
// promotes a replica; a replica in sentinel mode follows the new primary
// and leads there once the lease replicated to it has run out.
//
// Without replica acknowledgement the old leader's renewals keep
// succeeding on the old primary: two leaders for as long as the partition
// lasts. With --redis-min-replicas-ack 1 every renewal needs an ack that
// cannot cross the partition, so the old leader steps down at its renew
// deadline.
//
// The bound with acknowledgement: let the partition start at t0 and let s
// be the send time of the old leader's last acknowledged renewal; its ack
// crossed before t0, so s < t0 and the old term ends by s + RenewDeadline.
// That renewal reached the promoted replica, which (Redis 7 propagates
// expiries as absolute times) holds the lease, and the term record, until
// at least s + TTL; no candidate can take it earlier. So the new term
// starts at least TTL - RenewDeadline after the old one ended (on one
// machine, where Redis time and the sidecars' clocks run at one rate; the
// check allows 10ms for what the two clocks may still differ), and the old
// leader is gone by t0 + RenewDeadline whatever Sentinel does. Overlap: 0.
func TestSentinelPartition(t *testing.T) {
	const (
		ttl           = 3 * time.Second
		renewDeadline = 2 * ttl / 3 // the sidecar's default
	)
	for _, tc := range []struct {
		name string
		ack  bool
	}{{"without replica ack", false}, {"with replica ack", true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := partitionScenario(t, ttl, tc.ack)
			t.Logf("FIGURE: sentinel partition %s (TTL %v): double-leader window %v; old leader's term ended %v after the partition began; new term began %v after the old one ended",
				tc.name, ttl, r.overlap.Round(time.Millisecond), r.oldEnd.Round(time.Millisecond), r.margin.Round(time.Millisecond))
			if !tc.ack {
				if r.overlap == 0 {
					t.Error("no double-leader window without replica acknowledgement: the partition did not reach the case it is meant to test")
				}
				return
			}
			if r.overlap > 0 {
				t.Errorf("double-leader window %v with replica acknowledgement; want none", r.overlap)
			}
			if r.oldEnd > renewDeadline {
				t.Errorf("the old leader's term ended %v after the partition began; want at most the renew deadline %v", r.oldEnd, renewDeadline)
			}
			if want := ttl - renewDeadline - 10*time.Millisecond; r.margin < want {
				t.Errorf("the new term began %v after the old one ended; want at least TTL - RenewDeadline (less 10ms) = %v", r.margin, want)
			}
		})
	}
}

// partitionResult is what partitionScenario measured.
type partitionResult struct {
	// overlap is the total double-leader time.
	overlap time.Duration
	// oldEnd is the old leader's term end minus the partition's start.
	oldEnd time.Duration
	// margin is the new leader's term start minus the old term's end.
	margin time.Duration
}

func partitionScenario(t *testing.T, ttl time.Duration, withAck bool) partitionResult {
	ctx := t.Context()
	primary := redistest.Start(t)
	// Every path to the primary but the old leader's goes through a proxy
	// that the partition blackholes: the replication of each replica, and
	// the sentinels (and the clients they direct there).
	proxyTo := func(addr string) *Proxy {
		p, err := NewProxy(addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	sentLink := proxyTo(primary.Addr())
	var links []*Proxy
	for range 2 {
		link := proxyTo(primary.Addr())
		_, port, _ := strings.Cut(link.Addr(), ":")
		r := redistest.Start(t, "replicaof 127.0.0.1 "+port)
		links = append(links, link)
		waitFor(t, 20*time.Second, "replica linked", func() bool {
			return strings.Contains(r.Client().Info(ctx, "replication").Val(), "master_link_status:up")
		})
	}
	var sentinels []string
	for range 3 {
		sentinels = append(sentinels, startSentinel(t, sentLink.Addr()))
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinels[0]})
	t.Cleanup(func() { _ = sc.Close() })
	waitFor(t, 30*time.Second, "sentinels know both replicas and each other", func() bool {
		reps, _ := sc.Replicas(ctx, "m").Result()
		sents, _ := sc.Sentinels(ctx, "m").Result()
		return len(reps) == 2 && len(sents) == 2
	})

	var extra []string
	if withAck {
		extra = []string{"--redis-min-replicas-ack", "1", "--redis-replica-ack-timeout", "200ms"}
	}
	e := &env{t: t, hist: NewHistory(), ttl: ttl, dir: logDir(t), addr: primary.Addr(), extra: extra}
	t.Cleanup(e.teardown)
	// The old leader: standalone, through its own proxy to the primary.
	old := e.start()
	e.leader(30 * time.Second)
	_, oldFence, _ := e.leaderFence(old)
	// The new one: in sentinel mode, it follows whatever Sentinel promotes.
	e.startNode(nodeSpec{redisArg: strings.Join(sentinels, ","),
		args: []string{"--redis-mode", "sentinel", "--redis-master-name", "m"}})
	time.Sleep(ttl) // both settled: one leads, one follows

	for _, p := range append([]*Proxy{sentLink}, links...) {
		p.SetBlackhole(true)
	}
	t0 := clocks.MonotonicNS()
	e.hist.Fault("partition")
	waitFor(t, 60*time.Second, "sentinels promote a replica", func() bool {
		addr, err := sc.GetMasterAddrByName(ctx, "m").Result()
		return err == nil && len(addr) == 2 && addr[1] != strings.Split(sentLink.Addr(), ":")[1]
	})
	newLeader, _, err := e.awaitNewTerm(oldFence, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if newLeader == old {
		t.Fatalf("%s, cut off with the old primary, led again", old.name)
	}
	time.Sleep(2 * time.Second) // the partition lasts on

	// Heal: Sentinel makes the old primary a replica of the new one, and
	// the old leader's address is pointed at the new primary too.
	for _, p := range append([]*Proxy{sentLink}, links...) {
		p.SetBlackhole(false)
	}
	addr, err := sc.GetMasterAddrByName(ctx, "m").Result()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the old leader's term ends", func() bool {
		_, open := e.hist.Open()[old.name]
		return !open
	})
	old.proxy.SetTarget(addr[0] + ":" + addr[1])
	old.proxy.CloseAll()
	e.assertLive(3*ttl + slack)
	e.teardown()

	terms, _, _, errs := e.hist.Snapshot()
	for _, tm := range terms {
		t.Logf("term %s fence %d [%+v, %+v] %s", tm.Instance, tm.Fence,
			time.Duration(tm.Start-t0).Round(time.Millisecond), time.Duration(tm.End-t0).Round(time.Millisecond), tm.Reason)
	}
	if len(errs) != 0 {
		t.Errorf("record errors %v", errs)
	}
	if stuck := e.hist.StuckReplicas(); len(stuck) != 0 {
		t.Errorf("stuck replicas: %v", stuck)
	}
	var res partitionResult
	res.overlap = Overlap(terms)
	var oldTerm, newTerm *Term
	for i := range terms {
		switch tm := &terms[i]; {
		case tm.Instance == old.name && tm.Fence == oldFence:
			oldTerm = tm
		case tm.Fence > oldFence && newTerm == nil:
			newTerm = tm
		}
	}
	if oldTerm == nil || newTerm == nil {
		t.Fatalf("old term %v, new term %v: not both in the history", oldTerm, newTerm)
	}
	res.oldEnd = time.Duration(oldTerm.End - t0)
	res.margin = time.Duration(newTerm.Start - oldTerm.End)
	return res
}
