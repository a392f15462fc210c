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
	e := &env{t: t, hist: NewHistory(), ttl: ttl, dir: t.TempDir(), addr: primary.Addr(),
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
