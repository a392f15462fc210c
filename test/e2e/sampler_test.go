//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/baton-dev/baton/test/e2e/harness"
)

// leaderSampler asks every running pod's baton GET /leader, on the pod's
// own loopback, every period.
type leaderSampler struct {
	pw      *podWatch
	port    int
	mu      sync.Mutex
	clients map[string]*http.Client // by container ID
	terms   map[termKey]*interval   // what each pod said it led, by fence
	stop    context.CancelFunc
	done    chan struct{}
	samples int
}

type termKey struct {
	Pod   string
	Fence uint64
}

type interval struct{ From, To time.Time }

func sampleLeaders(pw *podWatch, apiPort int, period time.Duration) *leaderSampler {
	ctx, cancel := context.WithCancel(context.Background())
	ls := &leaderSampler{pw: pw, port: apiPort, clients: map[string]*http.Client{}, terms: map[termKey]*interval{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(ls.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for ctx.Err() == nil {
			ls.round(ctx)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}()
	return ls
}

func (ls *leaderSampler) Stop() {
	ls.stop()
	<-ls.done
}

// round samples every pod at once, in parallel.
func (ls *leaderSampler) round(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range ls.pw.Pods() {
		cid := runningContainerID(p, "baton")
		if cid == "" {
			continue
		}
		wg.Go(func() { ls.sample(ctx, p, cid) })
	}
	wg.Wait()
}

func (ls *leaderSampler) sample(ctx context.Context, p *corev1.Pod, cid string) {
	ls.mu.Lock()
	client := ls.clients[cid]
	ls.mu.Unlock()
	if client == nil {
		pids, err := harness.ContainerPIDs(string(p.UID), cid)
		if err != nil {
			return
		}
		client = harness.PodHTTPClient(pids[0], 300*time.Millisecond)
		ls.mu.Lock()
		ls.clients[cid] = client
		ls.mu.Unlock()
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/leader", ls.port), nil)
	sent := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var st struct {
		Leader bool   `json:"leader"`
		Fence  uint64 `json:"fence"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil || resp.StatusCode != http.StatusOK || !st.Leader {
		ls.mu.Lock()
		ls.samples++
		ls.mu.Unlock()
		return
	}
	// The answer was true at some moment between sent and now. A term is
	// one unbroken interval, so the pod surely led from the reply to its
	// first "leader" until the request of its last: the interval compared.
	now := time.Now()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.samples++
	k := termKey{p.Name, st.Fence}
	if iv := ls.terms[k]; iv != nil {
		iv.To = sent
	} else {
		ls.terms[k] = &interval{From: now, To: sent}
	}
}

// Overlaps are pairs of terms of different pods whose sampled intervals
// intersect: two pods that both said "leader" at one moment.
func (ls *leaderSampler) Overlaps() []string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return overlappingTerms(ls.terms)
}

func (ls *leaderSampler) Samples() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.samples
}

// overlappingTerms lists the pairs of terms, held by different pods, whose
// intervals intersect.
func overlappingTerms(terms map[termKey]*interval) []string {
	keys := make([]termKey, 0, len(terms))
	for k := range terms {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return terms[keys[i]].From.Before(terms[keys[j]].From) })
	var out []string
	for i, a := range keys {
		for _, b := range keys[i+1:] {
			if a.Pod == b.Pod {
				continue
			}
			ia, ib := terms[a], terms[b]
			if !ia.From.Before(ia.To) || !ib.From.Before(ib.To) {
				continue // one sample, or one line, proves no interval
			}
			if ia.From.Before(ib.To) && ib.From.Before(ia.To) {
				end := ia.To
				if ib.To.Before(end) {
					end = ib.To
				}
				out = append(out, fmt.Sprintf("%s(fence %d) and %s(fence %d) for %v", a.Pod, a.Fence, b.Pod, b.Fence, end.Sub(ib.From).Round(time.Millisecond)))
			}
		}
	}
	return out
}

// runningContainerID is the ID of the named container (init or not) when
// it runs.
func runningContainerID(p *corev1.Pod, name string) string {
	if p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodRunning {
		return ""
	}
	for _, st := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if st.Name == name && st.State.Running != nil && st.ContainerID != "" {
			return st.ContainerID
		}
	}
	return ""
}

// FirstTermAbove is the first term sampled with a fence above fence: its
// pod, fence and the reply that first showed it.
func (ls *leaderSampler) FirstTermAbove(fence uint64) (termKey, time.Time, bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var best termKey
	var at time.Time
	for k, iv := range ls.terms {
		if k.Fence > fence && (at.IsZero() || iv.From.Before(at)) {
			best, at = k, iv.From
		}
	}
	return best, at, !at.IsZero()
}

// MaxFence is the highest fence that pod was sampled leading with.
func (ls *leaderSampler) MaxFence(pod string) uint64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var f uint64
	for k := range ls.terms {
		if k.Pod == pod && k.Fence > f {
			f = k.Fence
		}
	}
	return f
}
