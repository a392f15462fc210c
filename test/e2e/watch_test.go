//go:build linux

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

const leaderLabel = "baton.dev/leader"

// podWatch follows a namespace's pods through the API server's watch
// stream, so that windows shorter than any sampling period show: at every
// event it counts the pods labelled leader.
type podWatch struct {
	mu      sync.Mutex
	pods    map[string]*corev1.Pod // by name, as last seen
	events  []labelEvent
	overlap []overlapWindow // windows with two or more pods labelled leader
	open    *overlapWindow
	stop    context.CancelFunc
	done    chan struct{}
}

// labelEvent is a change of the set of pods labelled leader.
type labelEvent struct {
	At      time.Time
	Leaders []string
}

type overlapWindow struct {
	From, To time.Time
	Pods     []string
}

func (w overlapWindow) String() string {
	return fmt.Sprintf("%v %v", w.To.Sub(w.From).Round(time.Millisecond), w.Pods)
}

func watchPods(ctx context.Context, client kubernetes.Interface, ns string) (*podWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	pw := &podWatch{pods: map[string]*corev1.Pod{}, stop: cancel, done: make(chan struct{})}
	list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		return nil, err
	}
	for i := range list.Items {
		pw.apply(watch.Added, &list.Items[i])
	}
	rv := list.ResourceVersion
	go func() {
		defer close(pw.done)
		for ctx.Err() == nil {
			w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			for ev := range w.ResultChan() {
				pod, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				rv = pod.ResourceVersion
				if ev.Type != watch.Bookmark {
					pw.apply(ev.Type, pod)
				}
			}
			w.Stop()
		}
	}()
	return pw, nil
}

func (pw *podWatch) Stop() {
	pw.stop()
	<-pw.done
}

func (pw *podWatch) apply(t watch.EventType, pod *corev1.Pod) {
	now := time.Now()
	pw.mu.Lock()
	defer pw.mu.Unlock()
	before := pw.leadersLocked()
	if t == watch.Deleted {
		delete(pw.pods, pod.Name)
	} else {
		pw.pods[pod.Name] = pod.DeepCopy()
	}
	after := pw.leadersLocked()
	if strings.Join(before, ",") == strings.Join(after, ",") {
		return
	}
	pw.events = append(pw.events, labelEvent{At: now, Leaders: after})
	switch {
	case len(after) >= 2 && pw.open == nil:
		pw.open = &overlapWindow{From: now, Pods: after}
	case len(after) >= 2:
		pw.open.Pods = union(pw.open.Pods, after)
	case pw.open != nil:
		pw.open.To = now
		pw.overlap = append(pw.overlap, *pw.open)
		pw.open = nil
	}
}

func (pw *podWatch) leadersLocked() []string {
	var out []string
	for name, p := range pw.pods {
		if p.Labels[leaderLabel] == "true" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Leaders are the pods labelled leader now.
func (pw *podWatch) Leaders() []string {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.leadersLocked()
}

// Pods are copies of the pods as last seen.
func (pw *podWatch) Pods() []*corev1.Pod {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	var out []*corev1.Pod
	for _, p := range pw.pods {
		out = append(out, p.DeepCopy())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Overlaps are the windows with two or more pods labelled leader since
// start, an open one included.
func (pw *podWatch) Overlaps(since time.Time) []overlapWindow {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	var out []overlapWindow
	for _, o := range pw.overlap {
		if !o.To.Before(since) {
			out = append(out, o)
		}
	}
	if pw.open != nil {
		o := *pw.open
		o.To = time.Now()
		out = append(out, o)
	}
	return out
}

// FirstLeaderAfter is the first moment after t when a pod other than the
// excluded one was labelled leader (alone or not), and that pod.
func (pw *podWatch) FirstLeaderAfter(t time.Time, exclude string) (time.Time, string, bool) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	for _, e := range pw.events {
		if e.At.Before(t) {
			continue
		}
		for _, l := range e.Leaders {
			if l != exclude {
				return e.At, l, true
			}
		}
	}
	return time.Time{}, "", false
}

func union(a, b []string) []string {
	m := map[string]bool{}
	for _, s := range append(append([]string{}, a...), b...) {
		m[s] = true
	}
	var out []string
	for s := range m {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
