package kube

import (
	"sync"

	"github.com/baton-dev/baton/pkg/election"
)

// FakeSource is a Source whose status tests set by hand. It lives in a test
// file of package kube, so the tests of package kube_test can use it too.
type FakeSource struct {
	mu sync.Mutex
	st election.Status
	ch chan struct{}
}

// NewFakeSource returns a running, non-leading source for lock "job" and
// identity id.
func NewFakeSource(id string) *FakeSource {
	return &FakeSource{
		st: election.Status{Name: "job", Identity: id, Running: true},
		ch: make(chan struct{}),
	}
}

func (f *FakeSource) Status() election.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *FakeSource) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ch
}

// Set changes the status and wakes every observer.
func (f *FakeSource) Set(change func(*election.Status)) {
	f.mu.Lock()
	change(&f.st)
	f.st.Generation++
	close(f.ch)
	f.ch = make(chan struct{})
	f.mu.Unlock()
}

// Lead makes the source lead with fence.
func (f *FakeSource) Lead(fence uint64) {
	f.Set(func(s *election.Status) {
		s.Leader, s.Holder, s.Fence, s.Remaining = true, s.Identity, fence, 1<<62
	})
}

// StepDown ends the source's term for reason.
func (f *FakeSource) StepDown(reason election.StepDownReason) {
	f.Set(func(s *election.Status) {
		s.LastStepDown, s.LastStepDownFence = reason, s.Fence
		s.Leader, s.Holder, s.Fence, s.Remaining = false, "", 0, 0
	})
}
