package main

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/baton-dev/baton/bench/internal/procstat"
	"github.com/baton-dev/baton/bench/internal/stats"
)

// KubeLeaseResult is the kube-lease step: baton sidecars with --backend
// kube-lease on the same envtest kube-apiserver as client-go's rows.
type KubeLeaseResult struct {
	TTL string `json:"ttl"`
	// Handover is POST /leader/release on the leader to the follower's
	// "started leading" stamp; APIHandover to its long-poll's answer;
	// ElectorGap the old leader's "stopped leading" stamp to the new
	// leader's "started leading".
	Handover    stats.Summary `json:"handover"`
	APIHandover stats.Summary `json:"api_handover"`
	ElectorGap  stats.Summary `json:"elector_gap"`
	// Split is Handover divided at the audit stamps of the two Updates.
	Split []SplitPart `json:"handover_split,omitempty"`
	Rewon int         `json:"rewon"`
	// Failover is SIGKILL of the leader to the follower's "started
	// leading"; Overshoot the same stamp minus the Lease's expiry
	// (renewTime + leaseDurationSeconds).
	Failover  stats.Summary    `json:"failover"`
	Overshoot stats.Summary    `json:"overshoot"`
	Idle      []*KubeLeaseIdle `json:"idle"`
	// LoadAvgBeg and LoadAvgEnd bracket the step.
	LoadAvgBeg string `json:"loadavg_start"`
	LoadAvgEnd string `json:"loadavg_end"`
}

// SplitPart is one part of the kube-lease handovers.
type SplitPart struct {
	Name    string        `json:"name"`
	Summary stats.Summary `json:"summary"`
}

// KubeLeaseIdle is one window of a leader and an idle follower, counted
// per user in the kube-apiserver's audit log.
type KubeLeaseIdle struct {
	TTL           string     `json:"ttl"`
	WindowSeconds float64    `json:"window_s"`
	Leader        userCounts `json:"leader"`
	Follower      userCounts `json:"follower"`
	// LeaderWritesPerMin are the leader's Updates of the Lease;
	// LeaderOtherPerMin its other requests.
	LeaderWritesPerMin float64 `json:"leader_writes_per_min"`
	LeaderOtherPerMin  float64 `json:"leader_other_per_min"`
	// FollowerPerMin and FollowerPerLease are the follower's requests
	// beyond its watch.
	FollowerPerMin   float64 `json:"follower_requests_per_min"`
	FollowerPerLease float64 `json:"follower_requests_per_lease"`
}

// runKubeLease measures baton's Lease backend: graceful handovers, crash
// failovers and an idle leader and follower, and prints its table.
func runKubeLease(ctx context.Context, e *env, res *Results) error {
	if e.kube == nil {
		return nil
	}
	cfg := e.cfg
	ttl := cfg.kubeLeaseTTL
	k := &KubeLeaseResult{TTL: ttl.String(), LoadAvgBeg: procstat.LoadAvg()}
	// Set first: the rows' labels name its TTL.
	res.KubeLease = k
	cs, err := kubernetes.NewForConfig(e.kube.cfg)
	if err != nil {
		return err
	}
	if err := kubeLeaseHandovers(ctx, e, k, res); err != nil {
		return fmt.Errorf("graceful handovers: %w", err)
	}
	e.log.Info("kube-lease handovers done", "n", k.Handover.N, "p99_ms", msf(k.Handover.P99))
	g, err := newKubeLeaseGroup(ctx, e, "kl-crash", ttl)
	if err != nil {
		return err
	}
	var fo, ov []time.Duration
	for range cfg.kubeLeaseCrashes {
		f, o, err := g.crash(ctx, cs)
		if err != nil {
			g.close()
			return fmt.Errorf("crash failovers: %w", err)
		}
		fo, ov = append(fo, f), append(ov, o)
	}
	g.close()
	k.Failover, k.Overshoot = stats.Summarize(fo), stats.Summarize(ov)
	res.crash(idKubeLease, ttl).add(fo, ov)
	e.log.Info("kube-lease crashes done", "n", k.Overshoot.N)
	for _, t := range []time.Duration{ttl, usualKube.lease} {
		c, err := kubeLeaseIdle(ctx, e, cs, t)
		if err != nil {
			return fmt.Errorf("idle at TTL %v: %w", t, err)
		}
		k.Idle = append(k.Idle, c)
		e.log.Info("kube-lease idle", "ttl", t, "leader_writes_per_min", c.LeaderWritesPerMin, "follower_per_min", c.FollowerPerMin)
	}
	c := k.Idle[0]
	res.Idle = append(res.Idle, &IdleCost{
		Tool: idKubeLease, Store: "kube-apiserver", TTL: c.TTL, Waiters: 1, WindowSeconds: c.WindowSeconds,
		LeaderStoreCmdsPerMin: c.LeaderWritesPerMin + c.LeaderOtherPerMin,
		LeaderRequestsPerMin:  c.LeaderWritesPerMin + c.LeaderOtherPerMin,
		LeaderWritesPerMin:    c.LeaderWritesPerMin,
		WaiterStoreCmdsPerSec: c.FollowerPerMin / 60,
		WaiterRequestsPerSec:  c.FollowerPerMin / 60,
		WaiterAttemptsPerTTL:  c.FollowerPerLease,
	})
	k.LoadAvgEnd = procstat.LoadAvg()
	fmt.Printf("\nbaton --backend kube-lease beside client-go (kube-apiserver %s, %d CPUs, load %s at the start, %s at the end)\n\n%s",
		res.Meta.KubeVersion, res.Meta.CPUs, k.LoadAvgBeg, k.LoadAvgEnd, kubeLeaseTable(k, res))
	return nil
}

// kubeLeaseHandovers ping-pongs the Lease between two sidecars.
func kubeLeaseHandovers(ctx context.Context, e *env, k *KubeLeaseResult, res *Results) error {
	g, err := newKubeLeaseGroup(ctx, e, "kl-handover", e.cfg.kubeLeaseTTL)
	if err != nil {
		return err
	}
	var (
		term, api []time.Duration
		split     [len(splitNames)][]time.Duration
	)
	for len(term) < e.cfg.kubeLeaseHandovers {
		h, err := g.handover(ctx)
		if err != nil {
			g.close()
			return err
		}
		if h.rewon {
			k.Rewon++
			if k.Rewon > e.cfg.kubeLeaseHandovers {
				g.close()
				return fmt.Errorf("the releasing leader took the Lease back %d times", k.Rewon)
			}
			continue
		}
		term, api = append(term, h.term), append(api, h.api)
		if h.splitOK {
			for i, d := range h.split {
				split[i] = append(split[i], d)
			}
		}
	}
	// Stopping the sidecars closes the last term in the logs.
	g.close()
	gaps, err := handoverGaps(g.s[0].LogPath, g.s[1].LogPath)
	if err != nil {
		return err
	}
	k.Handover, k.APIHandover, k.ElectorGap = stats.Summarize(term), stats.Summarize(api), stats.Summarize(gaps)
	for i, name := range splitNames {
		k.Split = append(k.Split, SplitPart{Name: name, Summary: stats.Summarize(split[i])})
	}
	res.handover(idKubeLease).add(term)
	return nil
}

// kubeLeaseIdle runs a leader and a follower at ttl and counts, per user,
// what they asked of the API server over one window, from the audit log.
func kubeLeaseIdle(ctx context.Context, e *env, cs kubernetes.Interface, ttl time.Duration) (*KubeLeaseIdle, error) {
	g, err := newKubeLeaseGroup(ctx, e, fmt.Sprintf("kl-idle-%ds", int(ttl/time.Second)), ttl)
	if err != nil {
		return nil, err
	}
	defer g.close()
	if err := g.waitWatching(ctx); err != nil {
		return nil, err
	}
	// One lease into the steady state: the follower's first read and the
	// leader's first renewals are behind.
	if err := sleep(ctx, ttl); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := sleep(ctx, e.cfg.kubeLeaseIdleWindow); err != nil {
		return nil, err
	}
	t1 := time.Now()
	// The audit log is written before each answer (blocking mode): once
	// this read has its answer, every request received before t1 that
	// completed is in the file.
	if _, err := cs.CoordinationV1().Leases(kubeLeaseNS).Get(ctx, g.lock, metav1.GetOptions{}); err != nil {
		return nil, err
	}
	if err := e.audit.poll(); err != nil {
		return nil, err
	}
	counts := countAudit(e.audit.events, g.lock, t0, t1)
	zero := userCounts{Done: map[string]int64{}}
	c := &KubeLeaseIdle{TTL: ttl.String(), WindowSeconds: t1.Sub(t0).Seconds(), Leader: zero, Follower: zero}
	if u := counts[g.ids[g.leader]]; u != nil {
		c.Leader = *u
	}
	if u := counts[g.ids[1-g.leader]]; u != nil {
		c.Follower = *u
	}
	mins := t1.Sub(t0).Minutes()
	c.LeaderWritesPerMin = float64(c.Leader.Done["update"]) / mins
	c.LeaderOtherPerMin = float64(c.Leader.beyondWatch()-c.Leader.Done["update"]) / mins
	c.FollowerPerMin = float64(c.Follower.beyondWatch()) / mins
	c.FollowerPerLease = float64(c.Follower.beyondWatch()) / (t1.Sub(t0).Seconds() / ttl.Seconds())
	return c, nil
}
