package kube_test

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/kube"
	"github.com/baton-dev/baton/pkg/redislock"
)

// markWatch records, from the API server's watch stream, the most pods
// labelled leader at once in a namespace: every intermediate state shows,
// not only the ones a poll happens to sample.
type markWatch struct {
	mu     sync.Mutex
	marked map[string]bool
	most   int
	events int
}

func watchMarks(t *testing.T, cs kubernetes.Interface, ns string) *markWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &markWatch{marked: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A fresh API server may refuse the first watches ("Too large
		// resource version") until its watch cache has caught up: start
		// again until one runs.
		for ctx.Err() == nil {
			w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
			if err != nil {
				time.Sleep(pollEvery)
				continue
			}
			for ev := range w.ResultChan() {
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					break // an error event: watch again
				}
				m.mu.Lock()
				m.events++
				m.marked[p.Name] = ev.Type != watch.Deleted && p.Labels[kube.DefaultLabelKey] == "true"
				n := 0
				for _, v := range m.marked {
					if v {
						n++
					}
				}
				m.most = max(m.most, n)
				m.mu.Unlock()
			}
			w.Stop()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return m
}

// waitSeen waits until the watch has seen n pods.
func (m *markWatch) waitSeen(t *testing.T, n int) {
	t.Helper()
	waitFor(t, "the watch to list the pods", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.marked) >= n
	})
}

func (m *markWatch) mostAtOnce() (most, events int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.most, m.events
}

// startMarkedElector runs a real elector whose term's work is its
// publisher's Lead, as the sidecar wires it, with the publisher on pod.
func startMarkedElector(t *testing.T, srv *redistest.Server, client kube.Client, ns, podName string, withdraw bool) *candidate {
	t.Helper()
	lock, err := redislock.New(srv.Client(), "job", redislock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pub *kube.Publisher
	e, err := election.New(election.Config{
		Locker: redislock.NewLocker(lock), Name: "job", Identity: podName, LeaseTTL: testTTL,
		OnStartedLeading: func(ctx context.Context, term election.Term) { pub.Lead(nil)(ctx, term) },
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := kube.Options{Client: client, Namespace: ns, PodName: podName, Resync: testTTL}
	if withdraw {
		opts.OnTerminating = func() { _ = e.Withdraw() }
	}
	pub, err = kube.New(e, opts)
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan error, 1)
	go func() { pdone <- pub.Run(pctx) }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			pcancel()
			<-pdone
		}
	}
	t.Cleanup(stop)
	return &candidate{e: e, stop: stop}
}

// TestGracefulHandoverNeverShowsTwoLeaders: the old leader unmarks itself
// before it releases, and the new one clears other marks before marking
// itself, so the watch stream never carries two pods labelled leader
// across repeated hand-overs.
func TestGracefulHandoverNeverShowsTwoLeaders(t *testing.T) {
	cfg := apiServer(t)
	admin, client := clientset(t, cfg), leanClient(t, cfg)
	ns := namespace(t, admin)
	srv := redistest.Start(t)
	redistest.KnownStore(t, srv.Client(), "baton:{job}:term") // the first term at once
	names := []string{"baton-a", "baton-b"}
	for _, n := range names {
		pod(t, admin, ns, n, nil, nil)
	}
	marks := watchMarks(t, admin, ns)
	marks.waitSeen(t, len(names))
	cands := map[string]*candidate{}
	for _, n := range names {
		cands[n] = startMarkedElector(t, srv, client, ns, n, false)
	}
	const handovers = 6
	for i := range handovers {
		var leader string
		deadline := time.Now().Add(10 * time.Second)
		for leader == "" {
			for _, n := range names {
				if cands[n].e.IsLeader() {
					leader = n
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("no leader")
			}
			time.Sleep(pollEvery)
		}
		waitPod(t, admin, ns, leader, publishBound, "leader labelled", labelled(true))
		if _, err := cands[leader].e.Resign(t.Context(), time.Minute); err != nil {
			t.Fatal(err)
		}
		next := names[0]
		if next == leader {
			next = names[1]
		}
		waitLeader(t, cands[next].e)
		waitPod(t, admin, ns, next, publishBound, "next labelled", labelled(true))
		// The one that resigned competes again after its hold-off, which
		// the next round cuts short.
		if _, err := cands[leader].e.Resign(t.Context(), 0); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	most, events := marks.mostAtOnce()
	t.Logf("%d hand-overs, %d pod events watched: at most %d pods labelled leader at once", handovers, events, most)
	if most > 1 {
		t.Errorf("%d pods were labelled leader at once", most)
	}
}

// TestNewLeaderClearsStaleMarkFirst: a pod that crashed while leading
// keeps leader=true; the next leader clears it before it marks itself.
func TestNewLeaderClearsStaleMarkFirst(t *testing.T) {
	cfg := apiServer(t)
	admin, client := clientset(t, cfg), leanClient(t, cfg)
	ns := namespace(t, admin)
	srv := redistest.Start(t)
	redistest.KnownStore(t, srv.Client(), "baton:{job}:term") // the first term at once
	pod(t, admin, ns, "baton-crashed", map[string]string{kube.DefaultLabelKey: "true"}, map[string]string{kube.LockAnnotation: "job"})
	pod(t, admin, ns, "baton-b", nil, nil)
	marks := watchMarks(t, admin, ns)
	marks.waitSeen(t, 2)
	b := startMarkedElector(t, srv, client, ns, "baton-b", false)
	waitLeader(t, b.e)
	waitPod(t, admin, ns, "baton-b", publishBound, "b labelled", labelled(true))
	waitPod(t, admin, ns, "baton-crashed", publishBound, "stale mark cleared", labelled(false))
	if most, events := marks.mostAtOnce(); most > 1 {
		t.Errorf("%d pods labelled leader at once (%d events)", most, events)
	}
}

// TestTerminatingPodTakesNoNewTerm: a pod being deleted (its
// deletionTimestamp set; a finalizer keeps it, as the kubelet would while
// its containers stop) withdraws from the election, through the watch of
// its own pod: when the leader resigns, the lock is never handed to it.
func TestTerminatingPodTakesNoNewTerm(t *testing.T) {
	cfg := apiServer(t)
	admin, client := clientset(t, cfg), leanClient(t, cfg)
	ns := namespace(t, admin)
	srv := redistest.Start(t)
	redistest.KnownStore(t, srv.Client(), "baton:{job}:term") // the first term at once
	pod(t, admin, ns, "baton-a", nil, nil)
	leaving := pod(t, admin, ns, "baton-leaving", nil, nil)
	fin := []byte(`{"metadata":{"finalizers":["baton.dev/test-keeps-the-pod"]}}`)
	if _, err := admin.CoreV1().Pods(ns).Patch(t.Context(), leaving.Name, types.MergePatchType, fin, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.CoreV1().Pods(ns).Patch(context.Background(), leaving.Name, types.MergePatchType,
			[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	})

	a := startMarkedElector(t, srv, client, ns, "baton-a", true)
	waitLeader(t, a.e)
	l := startMarkedElector(t, srv, client, ns, leaving.Name, true)
	waitFor(t, "the leaving candidate to follow", func() bool { return l.e.Status().Holder == "baton-a" })

	if err := admin.CoreV1().Pods(ns).Delete(t.Context(), leaving.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "withdrawn after the deletion", func() bool { return l.e.Status().Withdrawn })
	if a.e.Status().Withdrawn {
		t.Fatal("the pod that is not being deleted withdrew")
	}
	// The leader steps down and stays out for a moment: the only other
	// candidate is on its way out and must not take the lock.
	var led bool
	var mu sync.Mutex
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			ch := l.e.Changed()
			if l.e.Status().Leader {
				mu.Lock()
				led = true
				mu.Unlock()
			}
			select {
			case <-ch:
			case <-stopWatch:
				return
			}
		}
	}()
	if _, err := a.e.Resign(t.Context(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, a.e) // after its hold-off, a takes the lock back: nobody else would
	close(stopWatch)
	<-watched
	mu.Lock()
	defer mu.Unlock()
	if led {
		t.Error("the pod being deleted took a term")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pollEvery)
	}
}
