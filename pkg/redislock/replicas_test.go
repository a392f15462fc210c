//go:build unix

package redislock_test

import (
	"errors"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/redislock"
)

// startReplicated starts a primary and one replica linked to it.
func startReplicated(t *testing.T) (primary, replica *redistest.Server) {
	t.Helper()
	// No diskless sync delay: the first full sync would wait 5s for more
	// replicas.
	primary = redistest.Start(t, "repl-diskless-sync-delay 0")
	replica = redistest.Start(t, "replicaof 127.0.0.1 "+strconv.Itoa(primary.Port()))
	// Ready when a write is acknowledged: the replica's link comes up, and
	// the primary reports it online, before the primary streams writes to
	// it (after a diskless sync it waits for the replica's first ACK).
	pc := primary.Client()
	for {
		pc.Set(t.Context(), "replication-probe", "x", 0)
		if n, _ := pc.Do(t.Context(), "WAIT", 1, 100).Int64(); n == 1 {
			break
		}
		if t.Context().Err() != nil {
			t.Fatal("the replica never acknowledged a write")
		}
	}
	pc.Del(t.Context(), "replication-probe")
	return primary, replica
}

// Regression: Options.MinReplicas only made the acquire WAIT; a renew that
// no replica saw counted as a renewal, and a failover could promote a
// replica on which the lease had long expired.
func TestRenewWaitsForReplicaAck(t *testing.T) {
	primary, replica := startReplicated(t)
	ctx := t.Context()
	c := primary.Client()
	l, err := redislock.New(c, "job", redislock.Options{MinReplicas: 1, ReplicaAckTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	redistest.KnownStore(t, c, redislock.TermKey(l))
	s, err := l.TryAcquire(ctx, "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c.ScriptFlush(ctx) // the renew must survive NOSCRIPT in its pipeline
	if err := s.Renew(ctx); err != nil {
		t.Fatalf("Renew with a live replica: %v", err)
	}

	if err := replica.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = replica.Signal(syscall.SIGCONT) })
	err = s.Renew(ctx)
	var nr *redislock.NotReplicatedError
	if !errors.As(err, &nr) || !errors.Is(err, redislock.ErrNotReplicated) || nr.Op != "renew" || nr.Acked != 0 || nr.Want != 1 {
		t.Fatalf("Renew with a stalled replica: %v, want NotReplicatedError renew 0 of 1", err)
	}
	// The elector retries anything that is not ErrLost until its deadline.
	if errors.Is(err, redislock.ErrLost) {
		t.Errorf("an unreplicated renew must not read as a lost lease: %v", err)
	}
	if err := replica.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := s.Renew(ctx); err != nil {
		t.Errorf("Renew once the replica is back: %v", err)
	}
}

func TestReplicaOptionsValidate(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { _ = c.Close(); _ = ring.Close(); _ = cluster.Close() })
	for _, tc := range []struct {
		name   string
		client redislock.Client
		opts   redislock.Options
		ok     bool
	}{
		// WAIT 1 0 would block for ever.
		{"ack timeout below 1ms", c, redislock.Options{MinReplicas: 1, ReplicaAckTimeout: 500 * time.Microsecond}, false},
		{"ack timeout not whole ms", c, redislock.Options{MinReplicas: 1, ReplicaAckTimeout: 1500 * time.Microsecond}, false},
		{"negative ack timeout", c, redislock.Options{MinReplicas: 1, ReplicaAckTimeout: -time.Second}, false},
		{"negative min replicas", c, redislock.Options{MinReplicas: -1}, false},
		{"Ring with min replicas", ring, redislock.Options{MinReplicas: 1}, false},
		{"Cluster with min replicas", cluster, redislock.Options{MinReplicas: 1}, false},
		{"attempt timeout within the ack timeout", c, redislock.Options{MinReplicas: 1, ReplicaAckTimeout: time.Second, AttemptTimeout: time.Second}, false},
		{"negative attempt timeout", c, redislock.Options{AttemptTimeout: -time.Second}, false},
		{"negative subscribe timeout", c, redislock.Options{SubscribeTimeout: -time.Second}, false},
		{"ack timeout of 1ms", c, redislock.Options{MinReplicas: 1, ReplicaAckTimeout: time.Millisecond}, true},
		{"long ack timeout, default attempt timeout", c, redislock.Options{MinReplicas: 1, ReplicaAckTimeout: 10 * time.Second}, true},
		{"Ring without min replicas", ring, redislock.Options{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redislock.New(tc.client, "job", tc.opts)
			if tc.ok && err != nil {
				t.Errorf("New: %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, redislock.ErrInvalid) {
				t.Errorf("New: %v, want ErrInvalid", err)
			}
		})
	}
}

func TestMinReplicasWaitsForReplicaAck(t *testing.T) {
	primary, replica := startReplicated(t)
	ctx := t.Context()
	rc := replica.Client()
	c := primary.Client()
	l, err := redislock.New(c, "job", redislock.Options{MinReplicas: 1, ReplicaAckTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.ScriptFlush(ctx) // the first acquire must survive NOSCRIPT
	redistest.KnownStore(t, c, redislock.TermKey(l))
	s, err := l.TryAcquire(ctx, "a", time.Minute)
	if err != nil {
		t.Fatalf("TryAcquire with a live replica: %v", err)
	}
	lease, _, _ := redislock.Keys(l)
	if got := rc.HGet(ctx, lease, "owner").Val(); got != s.Token() {
		t.Errorf("replica has owner %q, want the new lease", got)
	}
	if err := s.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// A stalled replica never acknowledges: no lease, and a clear error.
	if err := replica.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = replica.Signal(syscall.SIGCONT) })
	_, err = l.TryAcquire(ctx, "a", time.Minute)
	var nr *redislock.NotReplicatedError
	if !errors.As(err, &nr) || !errors.Is(err, redislock.ErrNotReplicated) || nr.Acked != 0 || nr.Want != 1 {
		t.Fatalf("TryAcquire with a stalled replica: %v, want NotReplicatedError 0 of 1", err)
	}
	if n := c.Exists(ctx, lease).Val(); n != 0 {
		t.Errorf("unreplicated lease left in place; want it released")
	}

	if _, err := redislock.New(redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{primary.Addr()}}), "job", redislock.Options{MinReplicas: 1}); !errors.Is(err, redislock.ErrInvalid) {
		t.Errorf("New with a Cluster client and MinReplicas: %v, want ErrInvalid", err)
	}
}
