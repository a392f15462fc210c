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
	// ends holds, by fence, the latest end seen of each lease or permit
	// that can still be valid: a semaphore's permits each have their own,
	// and the release of one says nothing of the others.
	ends map[uint64]time.Time
}

// until is the latest end of m's leases; zero when none is remembered.
func (m memo) until() time.Time {
	var u time.Time
	for _, end := range m.ends {
		if end.After(u) {
			u = end
		}
	}
	return u
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
	return m.fence, max(m.until().Sub(now), 0)
}

// saw raises key's fence to fence and the end of the lease at fence to
// until; the ends already past are forgotten.
func (f *FenceMemory) saw(key string, fence uint64, until, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.m[key]
	if !ok && len(f.m) >= f.size {
		f.evict(now)
	}
	if m.ends == nil {
		m.ends = make(map[uint64]time.Time)
	}
	for fe, end := range m.ends {
		if !end.After(now) {
			delete(m.ends, fe)
		}
	}
	m.fence = max(m.fence, fence)
	if until.After(now) && until.After(m.ends[fence]) {
		m.ends[fence] = until
	}
	f.m[key] = m
}

// ended says that the lease at fence on key was released: it can be valid
// no more. Other leases seen there (a semaphore's other permits) still can.
func (f *FenceMemory) ended(key string, fence uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.m[key]; ok {
		delete(m.ends, fence)
	}
}

// evict makes room for one name: every name whose leases have ended, or,
// when none has, the one whose lease ends soonest.
func (f *FenceMemory) evict(now time.Time) {
	var soonest string
	var first time.Time
	freed := false
	for key, m := range f.m {
		until := m.until()
		if !until.After(now) {
			delete(f.m, key)
			freed = true
			continue
		}
		if soonest == "" || until.Before(first) {
			soonest, first = key, until
		}
	}
	if !freed {
		delete(f.m, soonest)
	}
}
