package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/sidecartest"
)

// sidecarPair is two baton sidecar processes on one lock.
type sidecarPair struct {
	e       *env
	lock    string
	extra   []string
	s       [2]*sidecartest.Sidecar
	leader  int
	http    *http.Client
	channel string
	leaseK  string
}

func startSidecarPair(ctx context.Context, e *env, lock string, extra ...string) (*sidecarPair, error) {
	p := &sidecarPair{
		e: e, lock: lock, extra: extra,
		http:    &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
		channel: "baton:{" + lock + "}:released",
		leaseK:  "baton:{" + lock + "}:lease",
	}
	for i := range p.s {
		if err := p.start(ctx, i); err != nil {
			p.close()
			return nil, err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for sctx.Err() == nil {
		for i, s := range p.s {
			st, err := s.Leader(sctx, 0)
			if err == nil && st.Leader {
				p.leader = i
				return p, p.e.waitNumSub(ctx, p.channel, 1, 10*time.Second)
			}
		}
		_ = sleep(sctx, 20*time.Millisecond)
	}
	p.close()
	return nil, fmt.Errorf("sidecars on %s: no leader within 30s", lock)
}

func (p *sidecarPair) start(ctx context.Context, i int) error {
	s, err := p.e.launchSidecar(ctx, fmt.Sprintf("%s-%d", p.lock, i), p.lock, p.http, p.extra...)
	p.s[i] = s
	return err
}

// launchSidecar starts a baton sidecar on lock and waits until it is
// ready. On error the returned sidecar, if any, is still to be stopped.
func (e *env) launchSidecar(ctx context.Context, identity, lock string, client *http.Client, extra ...string) (*sidecartest.Sidecar, error) {
	s, err := sidecartest.Launch(e.bin, e.dir, identity, e.redis.Addr(), lock, extra...)
	if err != nil {
		return nil, err
	}
	s.Client = client
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return s, s.WaitReady(sctx)
}

func (p *sidecarPair) close() {
	for _, s := range p.s {
		if s != nil {
			s.Stop(5 * time.Second)
		}
	}
	p.http.CloseIdleConnections()
}

type pollResult struct {
	at  time.Time
	st  sidecartest.Status
	err error
}

// awaitLeader long-polls sidecar i's GET /leader?wait= in the background.
func (p *sidecarPair) awaitLeader(ctx context.Context, i int, wait time.Duration) <-chan pollResult {
	out := make(chan pollResult, 1)
	go func() {
		st, err := p.s[i].Leader(ctx, wait)
		out <- pollResult{at: time.Now(), st: st, err: err}
	}()
	return out
}

// handovers makes n graceful handovers through the HTTP API: POST
// /leader/release on the leader, timed until the waiter's long-poll
// GET /leader?wait= answers that it leads.
func (p *sidecarPair) handovers(ctx context.Context, n int) ([]time.Duration, error) {
	var lat []time.Duration
	for range n {
		waiter := 1 - p.leader
		if err := p.e.waitNumSub(ctx, p.channel, 1, 10*time.Second); err != nil {
			return lat, err
		}
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		res := p.awaitLeader(pctx, waiter, 10*time.Second)
		// Let the long-poll reach the server before the release.
		if err := sleep(ctx, time.Millisecond); err != nil {
			cancel()
			return lat, err
		}
		if err := p.e.pause(ctx, time.Millisecond); err != nil {
			cancel()
			return lat, err
		}
		t0 := time.Now()
		if err := p.s[p.leader].Release(ctx, resignHoldOff); err != nil {
			cancel()
			return lat, err
		}
		r := <-res
		cancel()
		if r.err != nil {
			return lat, r.err
		}
		if !r.st.Leader {
			return lat, fmt.Errorf("sidecar %s: long-poll ended without leading", p.s[waiter].Identity)
		}
		lat = append(lat, r.at.Sub(t0))
		p.leader = waiter
	}
	return lat, nil
}

// crashSample is one crash failover of a sidecar pair.
type crashSample struct {
	// failover runs from the kill to the waiter's long-poll answer, and
	// overshoot from the lease's expiry to that answer.
	failover, overshoot time.Duration
	// killMono and expiryMono are the kill and the lease's expiry on
	// CLOCK_MONOTONIC, for comparing with the sidecars' log stamps.
	killMono, expiryMono int64
	// leader is the sidecar that took over.
	leader *sidecartest.Sidecar
}

// crash kills the leader with SIGKILL and times the waiter's takeover. The
// lease's expiry is read from Redis (PTTL) right after the kill, so the
// overshoot is exact to the millisecond PTTL resolution. The killed
// sidecar is then restarted as the new waiter.
func (p *sidecarPair) crash(ctx context.Context, ttl time.Duration) (crashSample, error) {
	waiter := 1 - p.leader
	if err := p.e.waitNumSub(ctx, p.channel, 1, 10*time.Second); err != nil {
		return crashSample{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, 3*ttl+10*time.Second)
	defer cancel()
	res := p.awaitLeader(pctx, waiter, 3*ttl+5*time.Second)
	if err := p.e.pause(ctx, ttl); err != nil {
		return crashSample{}, err
	}
	tKill, monoKill := time.Now(), clocks.MonotonicNS()
	p.s[p.leader].Kill()
	pttl, err := p.e.admin.PTTL(ctx, p.leaseK).Result()
	tRead, monoRead := time.Now(), clocks.MonotonicNS()
	if err != nil {
		return crashSample{}, err
	}
	if pttl <= 0 {
		return crashSample{}, fmt.Errorf("lease had no TTL left right after the kill (%v)", pttl)
	}
	r := <-res
	if r.err != nil {
		return crashSample{}, r.err
	}
	if !r.st.Leader {
		return crashSample{}, fmt.Errorf("sidecar %s did not take over", p.s[waiter].Identity)
	}
	crashed := p.leader
	p.leader = waiter
	if err := p.start(ctx, crashed); err != nil {
		return crashSample{}, err
	}
	return crashSample{
		failover:   r.at.Sub(tKill),
		overshoot:  r.at.Sub(tRead.Add(pttl)),
		killMono:   monoKill,
		expiryMono: monoRead + int64(pttl),
		leader:     p.s[waiter],
	}, nil
}
