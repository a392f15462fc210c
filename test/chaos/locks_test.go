//go:build linux

package chaos

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/locks"
)

var (
	locksDuration = flag.Duration("chaos.locks-duration", 8*time.Second,
		"length of each randomized run of TestLocksMutex's and TestLocksSemaphore's subtests (make chaos: longer)")
	locksTTL = flag.Duration("chaos.locks-ttl", 500*time.Millisecond, "lease TTL of the lock tests' holders")
)

const (
	// lockClients is the number of application servers on one name.
	lockClients = 4
)

// TestLocksMutex runs application locks under the client faults of the
// mix: lockClients servers, each with its own client behind its own proxy,
// take one name with TryLock under the watchdog, TryLock with a lease time,
// and TryLock on a fair Mutex (watchdog), with a short TTL so that
// hand-overs, expiries and losses come often. The suite's checker (Check)
// then proves that no two sections overlap, a section ending at the
// earlier of Release and Lost (or, under a lease time, before SentAt +
// TTL), that fences grow strictly in acquisition order, and that a holder
// exists again within a bound after each fault heals.
func TestLocksMutex(t *testing.T) {
	if testing.Short() {
		t.Skip("randomized run skipped with -short")
	}
	ttl := *locksTTL
	forms := []struct {
		name  string
		fair  bool
		lease time.Duration
		// maxHold is the longest planned section: a TTL, so that most
		// sections under the watchdog meet a renewal (every TTL/3); a
		// section under a lease time ends by 2/3 of it anyway.
		maxHold time.Duration
	}{
		{"watchdog", false, 0, ttl},
		{"lease", false, ttl, ttl},
		{"fair", true, 0, ttl},
	}
	for i, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			w := newLockWorld(t, lockClients, ttl)
			stop := w.run(t.Context(), f.maxHold, func(_ int, c *lockClient) func(context.Context) (holding, error) {
				opts := w.lockOptions(c)
				opts.Fair = f.fair
				l, err := locks.NewMutex(c.client, "mutex", opts)
				if err != nil {
					t.Fatal(err)
				}
				return func(ctx context.Context) (holding, error) {
					m, err := l.TryLock(ctx, 4*ttl, f.lease)
					if err != nil {
						return holding{}, err
					}
					return holding{fence: m.Fence(), sentAt: m.SentAt(), lost: m.Lost(), leased: f.lease > 0, release: m.Release}, nil
				}
			})
			w.mix(t, uint64(i), stop)
			terms, heals, faults, errs := w.e.hist.Snapshot()
			r := Check(terms, heals)
			r.RecordErrors = append(r.RecordErrors, errs...)
			r.Faults = faults
			w.report(t, f.name, r.Table(), len(r.Overlaps), len(r.FenceErrors), CheckConcurrency(terms, 1).Max)
			if !r.OK() {
				t.Errorf("lock history violates the checker:\n%s", r.Problems())
				for j, at := range r.overlapAt {
					t.Logf("faults up to %v before overlap %d: %v", 10*ttl, j, w.e.hist.FaultsBefore(at, 10*ttl))
				}
			}
		})
	}
}

// TestLocksSemaphore is TestLocksMutex for a Semaphore of 2 permits among
// lockClients+1 servers, half of them under the watchdog and half with a
// lease time, unfair and fair: CheckConcurrency proves that never more than
// 2 sections are open at once, and that no two permits share a fence.
func TestLocksSemaphore(t *testing.T) {
	if testing.Short() {
		t.Skip("randomized run skipped with -short")
	}
	const permits = 2
	ttl := *locksTTL
	for i, fair := range []bool{false, true} {
		name := "unfair"
		if fair {
			name = "fair"
		}
		t.Run(name, func(t *testing.T) {
			w := newLockWorld(t, lockClients+1, ttl)
			stop := w.run(t.Context(), ttl, func(n int, c *lockClient) func(context.Context) (holding, error) {
				opts := w.lockOptions(c)
				opts.Fair = fair
				s, err := locks.NewSemaphore(c.client, "sem", permits, opts)
				if err != nil {
					t.Fatal(err)
				}
				lease := time.Duration(0)
				if n%2 == 1 {
					lease = ttl
				}
				return func(ctx context.Context) (holding, error) {
					p, err := s.TryLock(ctx, 4*ttl, lease)
					if err != nil {
						return holding{}, err
					}
					return holding{fence: p.Fence(), sentAt: p.SentAt(), lost: p.Lost(), leased: lease > 0, release: p.Release}, nil
				}
			})
			w.mix(t, 10+uint64(i), stop)
			terms, _, faults, errs := w.e.hist.Snapshot()
			c := CheckConcurrency(terms, permits)
			c.RecordErrors = append(c.RecordErrors, errs...)
			w.report(t, "semaphore "+name, faultTable(faults), len(c.Over), len(c.DuplicateFences), c.Max)
			if c.Max > permits || !c.OK() {
				t.Errorf("semaphore of %d permits violated:\n%s", permits, c.Problems())
			}
		})
	}
}

// mix runs the fault mix for -chaos.locks-duration, then stops the holders.
func (w *lockWorld) mix(t *testing.T, salt uint64, stop func()) {
	t.Helper()
	seed := *chaosSeed + 7919*salt
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	if err := w.awaitAcquisition(); err != nil {
		stop()
		t.Fatal(err)
	}
	runMix(t, w.e, w.admin, rng, lockFaults(w), w.ttl, *locksDuration)
	stop()
}

// report logs the summary and fails a run with too few sections or with
// sections of a single client (no hand-over).
// overlaps counts the moments over the limit (for a mutex, overlaps), and
// fenceErrs fences out of order (mutex) or shared (semaphore).
func (w *lockWorld) report(t *testing.T, what, table string, overlaps, fenceErrs, maxOpen int) {
	t.Helper()
	terms, _, faults, _ := w.e.hist.Snapshot()
	nf := 0
	for _, n := range faults {
		nf += n
	}
	holders := map[string]bool{}
	for _, tm := range terms {
		holders[tm.Instance] = true
	}
	t.Logf("locks %s: TTL %v, %d clients, %v: %d sections by %d clients, %d faults, overlaps (over the limit) %d, fence errors %d, max concurrent %d; %s",
		what, w.ttl, len(w.clients), *locksDuration, len(terms), len(holders), nf, overlaps, fenceErrs, maxOpen, &w.stats)
	t.Log("\n" + table)
	// One section per TTL of the run at least, so that a run that stops
	// acquiring fails.
	if want := int(*locksDuration / w.ttl); len(terms) < want || len(holders) < 2 {
		t.Errorf("%d sections by %d clients: want at least %d, by at least 2", len(terms), len(holders), want)
	}
}

// faultTable lists the faults injected, by kind.
func faultTable(faults map[string]int) string {
	kinds := make([]string, 0, len(faults))
	for k := range faults {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	b.WriteString("faults\n")
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-22s %d\n", k, faults[k])
	}
	return b.String()
}
