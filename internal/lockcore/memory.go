package lockcore

import (
	"sync"
	"time"
)

// DefaultFenceMemory is the number of names a FenceMemory of size 0
// remembers.
const DefaultFenceMemory = 4096

// FenceMemory remembers, per lock or semaphore, the highest fence a client
// has seen and until when (Options.Now) a lease it issued or saw can be
// valid; an acquire that finds a counter below it quarantines the name
// while such a lease can be valid (see acquire.lua and pkg/locks). It holds
// at most its size of names, evicting ended leases first, then the soonest
// to end, issued ones last. It is safe for concurrent use.
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
	ends map[uint64]leaseEnd
}

// leaseEnd is the end of one lease, and whether this client issued it.
type leaseEnd struct {
	at     time.Time
	issued bool
}

// until is the latest end of m's leases, and of those this client issued;
// zero when none is remembered.
func (m memo) until() (all, issued time.Time) {
	for _, end := range m.ends {
		if end.at.After(all) {
			all = end.at
		}
		if end.issued && end.at.After(issued) {
			issued = end.at
		}
	}
	return all, issued
}

// NewFenceMemory returns a memory of size names (DefaultFenceMemory when 0).
func NewFenceMemory(size int) (*FenceMemory, error) {
	if size < 0 {
		return nil, invalid("Fences", "size must not be negative (got %d)", size)
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
	until, _ := m.until()
	return m.fence, max(until.Sub(now), 0)
}

// saw raises key's fence to fence and the end of the lease at fence to
// until; issued says this client was granted it. The ends already past are
// forgotten.
func (f *FenceMemory) saw(key string, fence uint64, until, now time.Time, issued bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.m[key]
	if !ok && len(f.m) >= f.size {
		f.evict(now)
	}
	if m.ends == nil {
		m.ends = make(map[uint64]leaseEnd)
	}
	for fe, end := range m.ends {
		if !end.at.After(now) {
			delete(m.ends, fe)
		}
	}
	m.fence = max(m.fence, fence)
	if end := m.ends[fence]; until.After(now) {
		if until.After(end.at) {
			end.at = until
		}
		end.issued = end.issued || issued
		m.ends[fence] = end
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
// when none has, the one whose lease ends soonest among those where no
// lease this client issued can be valid, and only when every name has one,
// the one whose issued lease ends soonest. A lease seen held by another
// client never pushes out one this client issued.
func (f *FenceMemory) evict(now time.Time) {
	var seen, issued string
	var seenEnd, issuedEnd time.Time
	freed := false
	for key, m := range f.m {
		all, mine := m.until()
		switch {
		case !all.After(now):
			delete(f.m, key)
			freed = true
		case !mine.After(now):
			if seen == "" || all.Before(seenEnd) {
				seen, seenEnd = key, all
			}
		default:
			if issued == "" || mine.Before(issuedEnd) {
				issued, issuedEnd = key, mine
			}
		}
	}
	switch {
	case freed:
	case seen != "":
		delete(f.m, seen)
	default:
		delete(f.m, issued)
	}
}
