//go:build linux

package chaos

import (
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
)

// TestClusterFailover: three primaries and three replicas made with
// redis-cli --cluster create. The lock's four names share one slot,
// leadership works in cluster mode, and when the primary of that slot is
// killed its replica takes over; the history shows what baton did.
func TestClusterFailover(t *testing.T) {
	const ttl = 10 * time.Second
	ctx := t.Context()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		redistest.Binary(t) // skips, or fails under CI=true, like a missing server
		t.Fatalf("redis-cli not found: %v", err)
	}
	var (
		servers []*redistest.Server
		addrs   []string
	)
	for range 6 {
		s := redistest.Start(t, "cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 1000")
		servers = append(servers, s)
		addrs = append(addrs, s.Addr())
	}
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = cc.Close() })
	waitFor(t, 30*time.Second, "cluster_state:ok on every node", func() bool {
		for _, s := range servers {
			if !strings.Contains(s.Client().ClusterInfo(ctx).Val(), "cluster_state:ok") {
				return false
			}
		}
		return true
	})
	k := keysOf()
	names := []string{k.lease, k.fence, k.term, k.channel}
	slot := cc.ClusterKeySlot(ctx, names[0]).Val()
	for _, n := range names[1:] {
		if s := cc.ClusterKeySlot(ctx, n).Val(); s != slot {
			t.Fatalf("%s is in slot %d, %s in %d", n, s, names[0], slot)
		}
	}

	e := &env{t: t, hist: NewHistory(), ttl: ttl, dir: logDir(t), addr: addrs[0],
		redisArg: strings.Join(addrs, ","), extra: []string{"--redis-mode", "cluster"}}
	t.Cleanup(e.teardown)
	for range 3 {
		e.start()
	}
	l := e.leader(30 * time.Second)
	_, fence, _ := e.leaderFence(l)

	// owner asks a node other than skip which node serves the slot.
	owner := func(skip string) string {
		for _, srv := range servers {
			if srv.Addr() == skip {
				continue
			}
			for _, shard := range srv.Client().ClusterShards(ctx).Val() {
				if !slices.ContainsFunc(shard.Slots, func(r redis.SlotRange) bool { return r.Start <= slot && slot <= r.End }) {
					continue
				}
				for _, n := range shard.Nodes {
					if n.Role == "master" && n.Health == "online" {
						return net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
					}
				}
			}
		}
		return ""
	}
	was := owner("")
	var victim *redistest.Server
	for _, srv := range servers {
		if srv.Addr() == was {
			victim = srv
		}
	}
	if victim == nil {
		t.Fatalf("no server owns slot %d (owner %q)", slot, was)
	}
	// Let the lease reach the replica (replication is ordered: once a later
	// write in the slot is acknowledged, so is the lease). A lease lost with
	// its primary is the case TestSentinelFailover measures.
	vc := victim.Client()
	if err := vc.Set(ctx, "{chaos}:sync", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := vc.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT for the replica: %d %v", n, err)
	}
	victim.Kill()
	e.hist.Fault("slot primary killed")
	start := time.Now()
	waitFor(t, 60*time.Second, "replica promoted for the lock's slot", func() bool {
		o := owner(was)
		return o != "" && o != was
	})
	t.Logf("slot %d moved from %s to %s in %v", slot, was, owner(was), time.Since(start).Round(time.Millisecond))
	e.hist.Healed("slot primary killed", ttl+slack)
	nl, err := e.awaitLeader(3*ttl + slack)
	if err != nil {
		t.Fatal(err)
	}
	_, nf, _ := e.leaderFence(nl)
	t.Logf("leader before the failover %s (fence %d), after %s (fence %d)", l.name, fence, nl.name, nf)
	e.assertLive(3*ttl + slack)
	e.teardown()
	terms, heals, _, errs := e.hist.Snapshot()
	r := Check(terms, heals)
	for _, tm := range terms {
		t.Logf("term %s fence %d [%d, %d] %s", tm.Instance, tm.Fence, tm.Start, tm.End, tm.Reason)
	}
	t.Logf("cluster failover: %d terms, smallest margin %v, overlaps %d", r.Transitions, r.MinMargin, len(r.Overlaps))
	if len(errs) != 0 || len(r.FenceErrors) != 0 || len(r.LateRecoveries) != 0 {
		t.Errorf("record errors %v, fence errors %v, late %v", errs, r.FenceErrors, r.LateRecoveries)
	}
	// A replicated lease survives the failover: no overlap is expected here.
	if len(r.Overlaps) != 0 {
		t.Errorf("overlaps after failover of a replicated lease: %v", r.Overlaps)
	}
}
