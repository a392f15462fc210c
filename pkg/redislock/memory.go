package redislock

import (
	"fmt"
	"sync"
	"time"
)

// DefaultFenceMemory is the number of names a FenceMemory of size 0
// remembers.
const DefaultFenceMemory = 4096

// FenceMemory remembers, per lock or semaphore, the highest fence a client
// has seen and until when, by the local clock (Options.Now), a lease it
// issued or saw can still be valid. An acquire that finds a counter below
// the fence remembered knows that Redis lost writes (FLUSHALL, a restart
// without persistence, a failover to a replica that missed them): it
// quarantines the name while such a lease can still be valid, so that the
// client never grants a name again while a lease it issued on it can be
// valid (see acquire.lua).
//
// Every Lock has a memory of its own unless Options.Fences gives one to
// share: a client that builds a fresh Lock per call, as the sidecar's lock
// API does, shares one so that the memory outlives the Lock. It holds at
// most its size of names: when a new name comes, those whose leases have
// ended go first, then the one whose lease ends soonest. It is safe for
// concurrent use.
type FenceMemory struct {
	size int

	mu sync.Mutex
	m  map[string]memo
}

// memo is what a FenceMemory holds for one name.
type memo struct {
	fence uint64
	until time.Time // the latest end of a lease seen; zero when none
}

// NewFenceMemory returns a memory of size names (DefaultFenceMemory when 0).
func NewFenceMemory(size int) (*FenceMemory, error) {
	if size < 0 {
		return nil, fmt.Errorf("%w: fence memory size %d must not be negative", ErrInvalid, size)
	}
	if size == 0 {
		size = DefaultFenceMemory
	}
	return &FenceMemory{size: size, m: make(map[string]memo)}, nil
}

// Len is the number of names remembered.
func (f *FenceMemory) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

// recall returns the highest fence seen for key, and for how long from now
// a lease seen there can still be valid (0 when none can).
func (f *FenceMemory) recall(key string, now time.Time) (fence uint64, left time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.m[key]
	return m.fence, max(m.until.Sub(now), 0)
}

// saw raises key's fence to fence and its lease end to until.
func (f *FenceMemory) saw(key string, fence uint64, until, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.m[key]
	if !ok && len(f.m) >= f.size {
		f.evict(now)
	}
	m.fence = max(m.fence, fence)
	if until.After(m.until) {
		m.until = until
	}
	f.m[key] = m
}

// ended says that the lease at fence on key was released: unless a later
// lease was seen there, none can be valid any more.
func (f *FenceMemory) ended(key string, fence uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.m[key]; ok && m.fence == fence {
		m.until = time.Time{}
		f.m[key] = m
	}
}

// evict makes room for one name: every name whose leases have ended, or,
// when none has, the one whose lease ends soonest.
func (f *FenceMemory) evict(now time.Time) {
	var soonest string
	var first time.Time
	freed := false
	for key, m := range f.m {
		if !m.until.After(now) {
			delete(f.m, key)
			freed = true
			continue
		}
		if soonest == "" || m.until.Before(first) {
			soonest, first = key, m.until
		}
	}
	if !freed {
		delete(f.m, soonest)
	}
}
