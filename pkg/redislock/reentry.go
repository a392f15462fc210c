package redislock

import (
	"context"
	"fmt"
	"reflect"
	"sync"
)

// WithOwner returns a copy of ctx that carries a new lock owner, which makes
// TryLock reentrant, as Redisson's RLock is for a thread: Go has no thread
// identity, so the owner travels in the context instead.
//
// A TryLock whose ctx carries an owner (from this ctx or any context derived
// from it) that already holds the lock does not wait: it checks in Redis
// that the lease is still held (a renew, which also extends it to its lease
// time), counts one hold more, and returns the same *Locked. Each TryLock
// needs its own Unlock; the lease is released at the last one. The
// re-entry's waitTime and leaseTime are not used.
//
// "The lock" is the same lock name and prefix on the same client value (a
// go-redis client is a pointer), whichever *Lock was used; for a client that
// is not a pointer, it is the same *Lock. TryLock with a context without an
// owner, or with another owner, is never reentrant: it waits like any other
// owner.
//
// Call WithOwner once where a flow of work begins, as a thread would start,
// not in each function that locks: a fresh owner in a nested call waits for
// the outer one, for ever. Goroutines that share a context share its owner
// and re-enter each other's locks; give a goroutine that must be excluded
// its own WithOwner.
func WithOwner(ctx context.Context) context.Context {
	return context.WithValue(ctx, ownerKey{}, &owner{held: map[any]*Locked{}})
}

type ownerKey struct{}

// owner is one owner of reentrant locks: the locks it holds, by reentryKey.
type owner struct {
	mu   sync.Mutex
	held map[any]*Locked
}

func ownerFrom(ctx context.Context) *owner {
	o, _ := ctx.Value(ownerKey{}).(*owner)
	return o
}

// sameLock identifies a lock across *Lock values: one client, one lease key.
type sameLock struct {
	client   Client
	leaseKey string
}

// reentryKeyOf is l's key in an owner's map. Only a pointer client is
// compared: comparing other values can panic.
func reentryKeyOf(l *Lock) any {
	if reflect.TypeOf(l.client).Kind() == reflect.Pointer {
		return sameLock{client: l.client, leaseKey: l.leaseKey}
	}
	return l
}

func (o *owner) holding(key any) *Locked {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.held[key]
}

func (o *owner) hold(key any, m *Locked) {
	o.mu.Lock()
	o.held[key] = m
	o.mu.Unlock()
	m.owner, m.ownerKey = o, key
}

func (o *owner) forget(key any, m *Locked) {
	o.mu.Lock()
	if o.held[key] == m {
		delete(o.held, key)
	}
	o.mu.Unlock()
}

// reenter counts one more hold of m after checking in Redis that its lease
// is still held. ok is false when m was fully unlocked meanwhile: then the
// caller acquires afresh.
func (m *Locked) reenter(ctx context.Context) (_ *Locked, ok bool, err error) {
	select {
	case <-m.lost:
		return nil, true, fmt.Errorf("redislock: re-enter %q: %w", m.lease.lock.name, m.Err())
	default:
	}
	if m.Holds() == 0 {
		return nil, false, nil
	}
	if err := m.lease.Renew(ctx); err != nil {
		if lostOrForeign(err) {
			m.markLost(err)
		}
		return nil, true, fmt.Errorf("redislock: re-enter %q: %w", m.lease.lock.name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.holds == 0 {
		return nil, false, nil
	}
	m.holds++
	return m, true, nil
}
