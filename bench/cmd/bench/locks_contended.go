package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
)

// grant is one acquisition in a contended run.
type grant struct {
	who int
	// enqSent and enqReplied bracket the acquisition's first command (a
	// fair waiter's enqueue, any other tool's first try): Redis ran it in
	// between.
	enqSent, enqReplied time.Time
	// at is when the tool reported success (zero for an acquisition still
	// waiting when the run ended).
	at time.Time
}

// board is the bench's view of one contended lock: who holds it, every
// grant in the order the lock itself made them (a holder records its grant
// before it releases), and the hand-offs between clients.
type board struct {
	mu         sync.Mutex
	holder     int // -1: free
	last       int // the last holder, -1: none yet
	releasedAt time.Time
	measuring  bool
	grants     []grant
	handoffs   []time.Duration
	releases   []time.Duration
	// overlaps counts grants made while the bench still saw another holder:
	// a broken mutual exclusion.
	overlaps int
	// changed is closed and replaced at every grant.
	changed chan struct{}
	// want is the number of hand-offs after which full is closed.
	want int
	full chan struct{}
}

func newBoard(want int) *board {
	return &board{holder: -1, last: -1, changed: make(chan struct{}), want: want, full: make(chan struct{})}
}

// start begins counting hand-offs and grants; those before are left out.
func (b *board) start() {
	b.mu.Lock()
	b.measuring = true
	b.mu.Unlock()
}

func (b *board) granted(g grant) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holder != -1 {
		b.overlaps++
	}
	b.holder = g.who
	if b.measuring {
		if b.last != -1 && b.last != g.who && !b.releasedAt.IsZero() {
			b.handoffs = append(b.handoffs, g.at.Sub(b.releasedAt))
			if len(b.handoffs) == b.want {
				close(b.full)
			}
		}
		b.grants = append(b.grants, g)
	}
	b.last = g.who
	close(b.changed)
	b.changed = make(chan struct{})
}

// releasing marks the lock free just before who's release call and returns
// the channel that the next grant closes.
func (b *board) releasing(who int) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holder == who {
		b.holder = -1
	}
	b.releasedAt = time.Now()
	return b.changed
}

// released records how long a release call took.
func (b *board) released(d time.Duration) {
	b.mu.Lock()
	if b.measuring {
		b.releases = append(b.releases, d)
	}
	b.mu.Unlock()
}

// contendedOpts shapes one contended run.
type contendedOpts struct {
	clients int
	// handoffs ends the run once that many hand-offs are counted; 0: only
	// limit ends it.
	handoffs int
	limit    time.Duration
	hold     time.Duration
	// waitNext makes a releasing client wait until another one holds the
	// lock before it asks again, so that every release hands off to a
	// waiter (the hand-off runs); without it a client asks again at once
	// (the fairness runs).
	waitNext bool
}

// contendedRun is what one contended run saw, from the moment every client
// was waiting.
type contendedRun struct {
	grants   []grant
	pending  []grant // acquisitions still waiting when the run ended
	handoffs []time.Duration
	// releaseCalls are the durations of the release calls, release call
	// to its return, while measuring.
	releaseCalls []time.Duration
	overlaps     int
	// server is the INFO commandstats delta (commands inside scripts
	// included), client the commands the clients sent, over d.
	server, client map[string]int64
	d              time.Duration
}

// stampedTool is a lockTool whose candidates have go-redis clients the
// bench can hook.
type stampedTool interface {
	lockTool
	redisClient(who int) *redis.Client
}

// runContended runs o.clients candidates of tool against one another on
// the tool's one name: each acquires (waiting as long as it takes), holds
// for o.hold, releases, and asks again.
func runContended(ctx context.Context, e *env, tool stampedTool, o contendedOpts) (*contendedRun, error) {
	stamps := make([]*enqueueStamp, o.clients)
	for i := range stamps {
		stamps[i] = &enqueueStamp{}
		tool.redisClient(i).AddHook(stamps[i])
	}
	// One acquire and release first: the scripts are loaded, and candidate
	// 0's connection is up.
	h, _, err := tool.acquire(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("warm-up acquire: %w", err)
	}
	if err := h.release(ctx); err != nil {
		return nil, fmt.Errorf("warm-up release: %w", err)
	}
	before := make([]int64, o.clients)
	for i := range before {
		before[i] = sum(tool.counter(i).snapshot())
	}

	b := newBoard(o.handoffs)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
		pending  []grant
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancel()
	}
	for who := range o.clients {
		wg.Go(func() {
			st := stamps[who]
			for rctx.Err() == nil {
				st.arm()
				h, at, err := tool.acquire(rctx, who)
				sent, replied, stamped := st.take()
				if err != nil {
					if rctx.Err() != nil {
						if stamped {
							errMu.Lock()
							pending = append(pending, grant{who: who, enqSent: sent, enqReplied: replied})
							errMu.Unlock()
						}
						return
					}
					fail(fmt.Errorf("client %d: acquire: %w", who, err))
					return
				}
				if !stamped {
					fail(fmt.Errorf("client %d: acquired without sending a command", who))
					return
				}
				b.granted(grant{who: who, enqSent: sent, enqReplied: replied, at: at})
				if o.hold > 0 {
					time.Sleep(o.hold) // the critical section; the run's end does not cut it
				}
				next := b.releasing(who)
				t0 := time.Now()
				if err := h.release(context.WithoutCancel(rctx)); err != nil {
					fail(fmt.Errorf("client %d: release: %w", who, err))
					return
				}
				b.released(time.Since(t0))
				if o.waitNext {
					select {
					case <-next:
					case <-rctx.Done():
						return
					}
				}
			}
		})
	}
	run, err := measureContended(ctx, e, tool, b, before, o)
	cancel()
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err != nil {
		return nil, err
	}
	run.pending = pending
	return run, nil
}

// measureContended waits until every client has sent its first command,
// then counts until the run is full or its limit has passed.
func measureContended(ctx context.Context, e *env, tool lockTool, b *board, before []int64, o contendedOpts) (*contendedRun, error) {
	deadline := time.Now().Add(30 * time.Second)
	for i := range before {
		for sum(tool.counter(i).snapshot()) <= before[i] {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("client %d sent no command in 30s", i)
			}
			if err := sleep(ctx, time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	// Let the last ones reach their wait.
	if err := sleep(ctx, 20*time.Millisecond); err != nil {
		return nil, err
	}
	clientBefore := make([]map[string]int64, len(before))
	for i := range before {
		clientBefore[i] = tool.counter(i).snapshot()
	}
	serverBefore, err := redistest.CommandCalls(ctx, e.admin)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	b.start()
	limit := time.NewTimer(o.limit)
	defer limit.Stop()
	select {
	case <-b.full:
	case <-limit.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	serverAfter, err := redistest.CommandCalls(ctx, e.admin)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	run := &contendedRun{
		grants:       b.grants,
		handoffs:     b.handoffs,
		releaseCalls: b.releases,
		overlaps:     b.overlaps,
		d:            time.Since(t0),
		server:       statsDelta(serverBefore, serverAfter),
		client:       map[string]int64{},
	}
	b.measuring = false
	b.mu.Unlock()
	for i := range before {
		for k, v := range tool.counter(i).snapshot() {
			if dv := v - clientBefore[i][k]; dv != 0 {
				run.client[k] += dv
			}
		}
	}
	if len(run.handoffs) == 0 {
		return nil, errors.New("no hand-off within the run")
	}
	return run, nil
}

// orderViolations counts the grants that overtook a waiter which had
// certainly arrived first: a later grant (or an acquisition still waiting
// at the end) whose first command had its reply before this grant's first
// command was sent. Overlapping brackets have no known order and are never
// counted.
func orderViolations(grants, pending []grant) (violations int) {
	var minLater time.Time
	for _, p := range pending {
		if minLater.IsZero() || p.enqReplied.Before(minLater) {
			minLater = p.enqReplied
		}
	}
	for k := len(grants) - 1; k >= 0; k-- {
		g := grants[k]
		if !minLater.IsZero() && minLater.Before(g.enqSent) {
			violations++
		}
		if minLater.IsZero() || g.enqReplied.Before(minLater) {
			minLater = g.enqReplied
		}
	}
	return violations
}

// jain is Jain's fairness index of xs: (Σx)² / (n·Σx²), 1 when every value
// is equal, 1/n when one takes everything; 0 for no values or all zero.
func jain(xs []int) float64 {
	var s, s2 float64
	for _, x := range xs {
		s += float64(x)
		s2 += float64(x) * float64(x)
	}
	if len(xs) == 0 || s2 == 0 {
		return 0
	}
	return s * s / (float64(len(xs)) * s2)
}
