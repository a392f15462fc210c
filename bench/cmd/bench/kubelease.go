package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/sidecartest"
)

// kubeLeaseNS is the namespace of the kube-lease step's Leases.
const kubeLeaseNS = "default"

// kubeLeaseGroup is two baton sidecars with --backend kube-lease on one
// Lease of the envtest kube-apiserver. Each talks to the API server as a
// user of its own (a client certificate envtest issues), so that the
// audit log tells their requests apart; the user's name is the identity.
type kubeLeaseGroup struct {
	e      *env
	lock   string
	ttl    time.Duration
	ids    [2]string
	kcs    [2]string // kubeconfig files
	s      [2]*sidecartest.Sidecar
	leader int
	http   *http.Client
}

// kubeLeaseHoldOff keeps a releasing leader out until its follower has
// surely taken the Lease: a watch event can take tens of milliseconds on
// busy cores, and the handover is timed to the follower's term start, not
// to the hold-off's end.
const kubeLeaseHoldOff = 500 * time.Millisecond

func newKubeLeaseGroup(ctx context.Context, e *env, lock string, ttl time.Duration) (*kubeLeaseGroup, error) {
	g := &kubeLeaseGroup{e: e, lock: lock, ttl: ttl,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
	for i := range g.s {
		g.ids[i] = fmt.Sprintf("%s-%d", lock, i)
		u, err := e.kube.env.AddUser(envtest.User{Name: g.ids[i], Groups: []string{"system:masters"}}, nil)
		if err != nil {
			return nil, fmt.Errorf("envtest user %s: %w", g.ids[i], err)
		}
		kc, err := u.KubeConfig()
		if err != nil {
			return nil, err
		}
		g.kcs[i] = filepath.Join(e.dir, g.ids[i]+".kubeconfig")
		if err := os.WriteFile(g.kcs[i], kc, 0o600); err != nil {
			return nil, err
		}
	}
	for i := range g.s {
		if err := g.start(ctx, i); err != nil {
			g.close()
			return nil, err
		}
	}
	// A Lease the API server has never held is quarantined one TTL before
	// the first term (pkg/kubelease's absent-Lease rule).
	sctx, cancel := context.WithTimeout(ctx, 2*ttl+20*time.Second)
	defer cancel()
	for sctx.Err() == nil {
		for i, s := range g.s {
			if st, err := s.Leader(sctx, 0); err == nil && st.Leader {
				g.leader = i
				return g, nil
			}
		}
		_ = sleep(sctx, 20*time.Millisecond)
	}
	g.close()
	return nil, fmt.Errorf("kube-lease sidecars on %s: no leader within %v", lock, 2*ttl+20*time.Second)
}

func (g *kubeLeaseGroup) start(ctx context.Context, i int) error {
	s, err := sidecartest.Launch(g.e.bin, g.e.dir, g.ids[i], "", g.lock, "--backend", "kube-lease",
		"--kubeconfig", g.kcs[i], "--lease-namespace", kubeLeaseNS, "--lease-ttl", g.ttl.String())
	g.s[i] = s
	if err != nil {
		return err
	}
	s.Client = g.http
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return s.WaitReady(sctx)
}

func (g *kubeLeaseGroup) close() {
	for _, s := range g.s {
		if s != nil {
			s.Stop(5 * time.Second)
		}
	}
	g.http.CloseIdleConnections()
}

// waitWatching waits until the follower holds a watch on the Lease: from
// then on it learns of a release at once.
func (g *kubeLeaseGroup) waitWatching(ctx context.Context) error {
	follower := g.ids[1-g.leader]
	deadline := time.Now().Add(2*g.ttl + 10*time.Second)
	for {
		if err := g.e.audit.poll(); err != nil {
			return err
		}
		if watching(g.e.audit.events, follower, g.lock) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s holds no watch on Lease %s; %s", follower, g.lock, g.diagnose())
		}
		if err := sleep(ctx, 2*time.Millisecond); err != nil {
			return err
		}
	}
}

// diagnose is what a failed wait reports: the last audit events on the
// Lease and the end of each sidecar's log.
func (g *kubeLeaseGroup) diagnose() string {
	var b strings.Builder
	b.WriteString("last audit events:")
	n := 0
	for i := len(g.e.audit.events) - 1; i >= 0 && n < 8; i-- {
		ev := g.e.audit.events[i]
		if ev.name() == g.lock {
			fmt.Fprintf(&b, "\n  %s %s %s %s %d", ev.Received.Format("15:04:05.000000"), ev.User.Username, ev.Stage, ev.Verb, ev.code())
			n++
		}
	}
	for _, s := range g.s {
		if s == nil {
			continue
		}
		out, _ := os.ReadFile(s.LogPath)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		fmt.Fprintf(&b, "\nend of %s:\n  %s", s.LogPath, strings.Join(lines[max(0, len(lines)-8):], "\n  "))
	}
	return b.String()
}

// awaitLeader long-polls sidecar i's GET /leader?wait= in the background.
func (g *kubeLeaseGroup) awaitLeader(ctx context.Context, i int, wait time.Duration) <-chan pollResult {
	out := make(chan pollResult, 1)
	go func() {
		st, err := g.s[i].Leader(ctx, wait)
		out <- pollResult{at: time.Now(), st: st, err: err}
	}()
	return out
}

// kubeLeaseHandover is one graceful handover: POST /leader/release on the
// leader to the follower's "started leading" stamp (CLOCK_MONOTONIC), and
// to its pending long-poll's answer.
type kubeLeaseHandover struct {
	term, api time.Duration
	rewon     bool // the releasing leader took the Lease back first
	// split is term divided at the audit stamps of the two Updates
	// (splitOK false when the audit log lacks one of them).
	split   [len(splitNames)]time.Duration
	splitOK bool
}

// splitNames are the parts of a handover that handoverSplit measures.
var splitNames = [...]string{
	"release call to the leader's release Update arriving",
	"the release Update (API server, etcd)",
	"release answered to the follower's Update arriving (watch event, the follower's reaction)",
	"the follower's acquiring Update (API server, etcd)",
	"acquiring Update answered to the follower's term start",
}

// handoverSplit divides one handover at the API server's audit stamps: t0
// the release call, rel the leader's release Update, acq the follower's
// acquiring Update, started the follower's term start (wall clock).
func handoverSplit(t0 time.Time, rel, acq auditEvent, started time.Time) [len(splitNames)]time.Duration {
	return [...]time.Duration{rel.Received.Sub(t0), rel.Stamp.Sub(rel.Received), acq.Received.Sub(rel.Stamp),
		acq.Stamp.Sub(acq.Received), started.Sub(acq.Stamp)}
}

// handover releases the leader's term once its follower watches, after a
// random pause up to a third of the TTL (a random phase of the leader's
// renewals).
func (g *kubeLeaseGroup) handover(ctx context.Context) (kubeLeaseHandover, error) {
	waiter := 1 - g.leader
	if err := g.waitWatching(ctx); err != nil {
		return kubeLeaseHandover{}, err
	}
	if err := g.e.pause(ctx, g.ttl/3); err != nil {
		return kubeLeaseHandover{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	res := g.awaitLeader(pctx, waiter, 5*time.Second)
	// Let the long-poll reach the server before the release.
	if err := sleep(ctx, time.Millisecond); err != nil {
		return kubeLeaseHandover{}, err
	}
	t0, mono0 := time.Now(), clocks.MonotonicNS()
	offset := t0.UnixNano() - mono0 // maps log stamps onto the wall clock
	if err := g.s[g.leader].Release(ctx, kubeLeaseHoldOff); err != nil {
		return kubeLeaseHandover{}, err
	}
	r := <-res
	if r.err != nil {
		return kubeLeaseHandover{}, r.err
	}
	if !r.st.Leader {
		// The releasing leader won the race back after its hold-off.
		return kubeLeaseHandover{rewon: true}, nil
	}
	started, err := startAfter(ctx, g.s[waiter].LogPath, mono0)
	if err != nil {
		return kubeLeaseHandover{}, err
	}
	h := kubeLeaseHandover{term: time.Duration(started - mono0), api: r.at.Sub(t0)}
	// Each Update's audit event is written before its answer, so both are
	// in the file once the follower has started leading.
	if err := g.e.audit.poll(); err != nil {
		return h, err
	}
	rel, ok1 := firstWrite(g.e.audit.events, g.ids[g.leader], g.lock, t0)
	acq, ok2 := firstWrite(g.e.audit.events, g.ids[waiter], g.lock, t0)
	if ok1 && ok2 {
		h.split, h.splitOK = handoverSplit(t0, rel, acq, time.Unix(0, started+offset)), true
	}
	g.leader = waiter
	return h, nil
}

// crash kills the leader with SIGKILL and times the follower's "started
// leading" stamp against the Lease's expiry: the renewTime the leader
// wrote last (its wall clock just before it sent the renewal, read from
// the Lease right after the kill) plus leaseDurationSeconds. The killed
// sidecar is then restarted as the new follower.
func (g *kubeLeaseGroup) crash(ctx context.Context, cs kubernetes.Interface) (failover, overshoot time.Duration, err error) {
	waiter := 1 - g.leader
	if err := g.waitWatching(ctx); err != nil {
		return 0, 0, err
	}
	if err := g.e.pause(ctx, g.ttl); err != nil {
		return 0, 0, err
	}
	monoKill := clocks.MonotonicNS()
	g.s[g.leader].Kill()
	l, err := cs.CoordinationV1().Leases(kubeLeaseNS).Get(ctx, g.lock, metav1.GetOptions{})
	// The wall clock's offset from CLOCK_MONOTONIC maps the renewTime
	// onto the sidecars' log stamps.
	offset := time.Now().UnixNano() - clocks.MonotonicNS()
	if err != nil {
		return 0, 0, err
	}
	sp := l.Spec
	if sp.HolderIdentity == nil || *sp.HolderIdentity != g.ids[g.leader] || sp.RenewTime == nil || sp.LeaseDurationSeconds == nil {
		return 0, 0, fmt.Errorf("the Lease %s right after the kill is not %s's term: %+v", g.lock, g.ids[g.leader], sp)
	}
	expiryMono := sp.RenewTime.Add(time.Duration(*sp.LeaseDurationSeconds)*time.Second).UnixNano() - offset
	started, err := startAfter(ctx, g.s[waiter].LogPath, monoKill)
	if err != nil {
		return 0, 0, err
	}
	crashed := g.leader
	g.leader = waiter
	if err := g.start(ctx, crashed); err != nil {
		return 0, 0, err
	}
	return time.Duration(started - monoKill), time.Duration(started - expiryMono), nil
}
