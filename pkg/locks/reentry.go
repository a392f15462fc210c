package locks

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/pkg/redislock"
)

// WithOwner returns a copy of ctx that carries a new lock owner, which makes
// Mutex.TryLock reentrant for it, as Redisson's RLock is for a thread. Call
// it once where a flow of work begins: a fresh owner in a nested call waits
// for the outer one (see the package doc).
func WithOwner(ctx context.Context) context.Context {
	return context.WithValue(ctx, ownerKey{}, &owner{held: map[any]*Held{}})
}

type ownerKey struct{}

// owner is one owner of reentrant locks: the locks it holds, by reentryKey.
type owner struct {
	mu   sync.Mutex
	held map[any]*Held
}

func ownerFrom(ctx context.Context) *owner {
	o, _ := ctx.Value(ownerKey{}).(*owner)
	return o
}

// sameLock identifies a lock across *Lock values: one client, one lease key.
type sameLock struct {
	client   redislock.Client
	leaseKey string
}

// reentryKeyOf is l's key in an owner's map. Only a pointer client is
// compared: comparing other values can panic.
func reentryKeyOf(l *lockcore.Lock) any {
	if reflect.TypeOf(l.Client()).Kind() == reflect.Pointer {
		lease, _, _ := l.Keys()
		return sameLock{client: l.Client(), leaseKey: lease}
	}
	return l
}

func (o *owner) holding(key any) *Held {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.held[key]
}

func (o *owner) hold(key any, m *Held) {
	o.mu.Lock()
	o.held[key] = m
	o.mu.Unlock()
	m.owner, m.ownerKey = o, key
}

func (o *owner) forget(key any, m *Held) {
	o.mu.Lock()
	if o.held[key] == m {
		delete(o.held, key)
	}
	o.mu.Unlock()
}

// reenter counts one more hold of m after checking in Redis that its lease
// is still held. ok is false when m was fully unlocked meanwhile: then the
// caller acquires afresh.
func (h *Held) reenter(ctx context.Context) (_ *Held, ok bool, err error) {
	select {
	case <-h.lost:
		return nil, true, fmt.Errorf("redislock: re-enter %q: %w", h.term.Name(), h.Err())
	default:
	}
	if h.Holds() == 0 {
		return nil, false, nil
	}
	if err := h.term.Renew(ctx); err != nil {
		if lostOrForeign(err) {
			h.markLost(err)
		}
		return nil, true, fmt.Errorf("redislock: re-enter %q: %w", h.term.Name(), err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holds == 0 {
		return nil, false, nil
	}
	h.holds++
	return h, true, nil
}
