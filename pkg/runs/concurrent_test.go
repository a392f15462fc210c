package runs_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/runs"
)

// Replicas that race for the same windows, failing, crashing (a run left
// to its lease) and succeeding at random: per window at most one success,
// attempts numbered without a gap, and no attempt starting before the one
// before it ended in Redis time.
func TestReplicasRace(t *testing.T) {
	c := server(t)
	const replicas, windows = 5, 30
	var wg sync.WaitGroup
	for i := range replicas {
		j := newJob(t, c, "race", runs.Options{Identity: fmt.Sprint("r", i), MaxAttempts: 4, Keep: runs.MaxKeep})
		wg.Go(func() {
			for w := range windows {
				window := fmt.Sprint("w", w)
				for {
					r, err := j.Claim(t.Context(), window, 30*time.Millisecond, time.Time{})
					if errors.Is(err, runs.ErrRunning) {
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						if !errors.Is(err, runs.ErrSucceeded) && !errors.Is(err, runs.ErrExhausted) {
							t.Error(err)
						}
						break
					}
					switch rand.IntN(3) {
					case 0: // crashed: its lease runs out
					case 1:
						completeUnlessLate(t, r, runs.Failed)
					default:
						completeUnlessLate(t, r, runs.Succeeded)
					}
				}
			}
		})
	}
	wg.Wait()
	byWindow := map[string][]runs.Record{}
	for _, r := range inspect(t, newJob(t, c, "race", runs.Options{})).Recent {
		byWindow[r.Window] = append(byWindow[r.Window], r)
	}
	if len(byWindow) != windows {
		t.Fatalf("%d windows recorded", len(byWindow))
	}
	for w, recs := range byWindow {
		sort.Slice(recs, func(a, b int) bool { return recs[a].Attempt < recs[b].Attempt })
		successes := 0
		for i, r := range recs {
			if r.Attempt != i+1 || r.Status == runs.Running {
				t.Errorf("%s: attempts %+v", w, recs)
			}
			if r.Status == runs.Succeeded {
				successes++
			}
			if i > 0 && r.Start.Before(recs[i-1].End) {
				t.Errorf("%s: attempt %d started at %v, before %d ended at %v", w, r.Attempt, r.Start, i, recs[i-1].End)
			}
			if i > 0 && r.Fence <= recs[i-1].Fence {
				t.Errorf("%s: fences %d then %d", w, recs[i-1].Fence, r.Fence)
			}
		}
		last := recs[len(recs)-1].Status
		if successes > 1 || (successes == 1 && last != runs.Succeeded) || (successes == 0 && len(recs) != 4) {
			t.Errorf("%s: %d successes in %+v", w, successes, recs)
		}
	}
}

// completeUnlessLate completes r with status. A runner slower than its
// lease (a busy machine) is refused as stale: it then crashed, as far as
// the window is concerned, which the race allows.
func completeUnlessLate(t *testing.T, r *runs.Run, status runs.Status) {
	t.Helper()
	if err := r.Complete(t.Context(), status); err != nil && !errors.Is(err, runs.ErrStale) {
		t.Error(err)
	}
}
