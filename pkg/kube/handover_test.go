package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/kube"
	"github.com/baton-dev/baton/pkg/redislock"
)

// handoverBound is the stated bound on how long a handover takes to show
// on both pods: from the resign call to both labels and conditions
// agreeing with the new holder.
const handoverBound = 2 * time.Second

const testTTL = 3 * time.Second

type candidate struct {
	e    *election.Elector
	stop func()
}

// startElector runs a real elector on lock "job" of the Redis at addr.
func startElector(t *testing.T, srv *redistest.Server, id string) *candidate {
	t.Helper()
	lock, err := redislock.New(srv.Client(), "job", redislock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := election.New(election.Config{
		Locker: redislock.NewLocker(lock), Name: "job", Identity: id, LeaseTTL: testTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return &candidate{e: e, stop: stop}
}

func waitLeader(t *testing.T, e *election.Elector) election.Status {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		ch := e.Changed()
		if s := e.Status(); s.Leader {
			return s
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s did not become leader: %+v", e.Status().Identity, e.Status())
		}
	}
}

// TestHandoverShowsOnBothPods runs two real electors on a real Redis, each
// with its publisher on its own pod. When the leader resigns, both pods'
// labels and conditions follow within handoverBound.
func TestHandoverShowsOnBothPods(t *testing.T) {
	cfg := apiServer(t)
	admin, client := clientset(t, cfg), leanClient(t, cfg)
	ns := namespace(t, admin)
	srv := redistest.Start(t)
	redistest.KnownStore(t, srv.Client(), "baton:{job}:term") // the first term at once
	podA := pod(t, admin, ns, "baton-a", nil, nil)
	podB := pod(t, admin, ns, "baton-b", nil, nil)

	a := startElector(t, srv, podA.Name)
	startPublisher(t, a.e, kube.Options{Client: client, Namespace: ns, PodName: podA.Name, Resync: testTTL})
	first := waitLeader(t, a.e)
	b := startElector(t, srv, podB.Name)
	startPublisher(t, b.e, kube.Options{Client: client, Namespace: ns, PodName: podB.Name, Resync: testTTL})

	waitPod(t, admin, ns, podA.Name, publishBound, "a leads", marked(true, kube.ReasonLeading))
	waitPod(t, admin, ns, podB.Name, publishBound, "b follows a", func(p *corev1.Pod) bool {
		c := leaderCondition(p)
		return marked(false, kube.ReasonFollowing)(p) && strings.Contains(c.Message, podA.Name)
	})

	start := time.Now()
	if _, err := a.e.Resign(t.Context(), time.Minute); err != nil {
		t.Fatal(err)
	}
	second := waitLeader(t, b.e)
	lockMoved := time.Since(start)
	_, tb := waitPod(t, admin, ns, podB.Name, handoverBound, "b leads", marked(true, kube.ReasonLeading))
	_, ta := waitPod(t, admin, ns, podA.Name, handoverBound, "a resigned", marked(false, kube.ReasonResigned))
	visible := time.Since(start)
	t.Logf("handover: lock moved after %v; pods showed it after %v (resign to both pods updated; bound %v)",
		lockMoved, visible, handoverBound)
	if visible > handoverBound {
		t.Errorf("handover took %v to show on both pods, bound %v (b %v, a %v)", visible, handoverBound, tb, ta)
	}
	if second.Fence <= first.Fence {
		t.Errorf("fence went from %d to %d", first.Fence, second.Fence)
	}

	waitEvents(t, admin, ns, podA.Name, publishBound, kube.EventLeaderElected, kube.EventResigned)
	waitEvents(t, admin, ns, podB.Name, publishBound, kube.EventLeaderElected)

	// b's sidecar shuts down: its elector releases, then its publisher
	// publishes false for the last time.
	b.stop()
	waitPod(t, admin, ns, podB.Name, publishBound, "b shut down", marked(false, ""))
	waitEvents(t, admin, ns, podB.Name, publishBound, kube.EventLeaderElected, kube.EventResigned)
}

// TestStaleLeaderLabelIsCorrected: pod a crashed while it led and kept
// leader=true with its condition True; no sidecar runs for it. When b's
// publisher leads, it corrects a, and leaves alone the leader of another
// lock and a pod labelled by someone else.
func TestStaleLeaderLabelIsCorrected(t *testing.T) {
	cfg := apiServer(t)
	admin, client := clientset(t, cfg), leanClient(t, cfg)
	ns := namespace(t, admin)
	srv := redistest.Start(t)
	redistest.KnownStore(t, srv.Client(), "baton:{job}:term") // the first term at once
	leaderLabel := map[string]string{kube.DefaultLabelKey: "true"}
	stale := pod(t, admin, ns, "baton-a", leaderLabel, map[string]string{kube.LockAnnotation: "job"})
	setCondition(t, admin, ns, stale.Name, corev1.ConditionTrue)
	otherLock := pod(t, admin, ns, "other-0", leaderLabel, map[string]string{kube.LockAnnotation: "other-job"})
	setCondition(t, admin, ns, otherLock.Name, corev1.ConditionTrue)
	unowned := pod(t, admin, ns, "hand-labelled", leaderLabel, nil)
	podB := pod(t, admin, ns, "baton-b", nil, nil)

	m, reg := newMetrics(t)
	b := startElector(t, srv, podB.Name)
	startPublisher(t, b.e, kube.Options{Client: client, Namespace: ns, PodName: podB.Name, Resync: testTTL, Metrics: m})
	waitLeader(t, b.e)
	waitPod(t, admin, ns, podB.Name, publishBound, "b leads", marked(true, kube.ReasonLeading))
	got, _ := waitPod(t, admin, ns, stale.Name, publishBound, "a corrected", marked(false, kube.ReasonStale))
	if c := leaderCondition(got); !strings.Contains(c.Message, podB.Name) {
		t.Errorf("corrected condition message %q does not name the leader", c.Message)
	}
	if n := counter(t, reg, "baton_kube_stale_corrections_total"); n != 1 {
		t.Errorf("baton_kube_stale_corrections_total = %v, want 1", n)
	}
	for _, name := range []string{otherLock.Name, unowned.Name} {
		p, err := admin.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Labels[kube.DefaultLabelKey] != "true" {
			t.Errorf("pod %s was changed: labels %v", name, p.Labels)
		}
	}
	if c := leaderCondition(must(admin.CoreV1().Pods(ns).Get(t.Context(), otherLock.Name, metav1.GetOptions{}))); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("the other lock's leader condition was changed: %+v", c)
	}
}

// TestRestartedPodClearsItsOwnStaleLabel: a pod that crashed while leader
// and restarts publishes leader=false before anything else.
func TestRestartedPodClearsItsOwnStaleLabel(t *testing.T) {
	cfg := apiServer(t)
	admin, client := clientset(t, cfg), leanClient(t, cfg)
	ns := namespace(t, admin)
	self := pod(t, admin, ns, "baton-a", map[string]string{kube.DefaultLabelKey: "true"}, map[string]string{kube.LockAnnotation: "job"})
	setCondition(t, admin, ns, self.Name, corev1.ConditionTrue)
	src := kube.NewFakeSource(self.Name)
	src.Set(func(s *election.Status) { s.Running = false })
	startPublisher(t, src, kube.Options{Client: client, Namespace: ns, PodName: self.Name, Resync: time.Hour})
	got, _ := waitPod(t, admin, ns, self.Name, publishBound, "leader=false", marked(false, kube.ReasonCampaigning))
	if c := leaderCondition(got); c.LastTransitionTime.IsZero() {
		t.Errorf("condition without lastTransitionTime: %+v", c)
	}
}

// TestDriftIsRepairedOnResync: a hand edit of the label is undone at the
// next re-sync, without any change of leadership.
func TestDriftIsRepairedOnResync(t *testing.T) {
	cfg := apiServer(t)
	admin, client := clientset(t, cfg), leanClient(t, cfg)
	ns := namespace(t, admin)
	self := pod(t, admin, ns, "baton-a", nil, nil)
	src := kube.NewFakeSource(self.Name)
	src.Lead(3)
	startPublisher(t, src, kube.Options{Client: client, Namespace: ns, PodName: self.Name, Resync: 200 * time.Millisecond})
	before, _ := waitPod(t, admin, ns, self.Name, publishBound, "leader=true", marked(true, kube.ReasonLeading))
	if _, err := admin.CoreV1().Pods(ns).Patch(t.Context(), self.Name, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"baton.dev/leader":"false"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	after, _ := waitPod(t, admin, ns, self.Name, publishBound, "label repaired", labelled(true))
	// The condition did not change, so neither did its transition time.
	if b, a := leaderCondition(before).LastTransitionTime, leaderCondition(after).LastTransitionTime; !a.Equal(&b) {
		t.Errorf("lastTransitionTime moved from %v to %v without a change of status", b, a)
	}
}
