package lockcore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// attemptTimeoutError is the cause of a call cut short by
// Options.AttemptTimeout. It matches context.DeadlineExceeded.
type attemptTimeoutError struct{ timeout time.Duration }

func (e attemptTimeoutError) Error() string {
	return fmt.Sprintf("redislock: no reply within the attempt timeout %v", e.timeout)
}

func (e attemptTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// bounded runs call under ctx bounded by timeout, and returns when call does
// or when that context ends, whichever comes first. With direct (a client
// that puts each call's deadline on its socket: see deadlineClient), call
// runs on the caller's goroutine, bounded by that deadline; otherwise in a
// goroutine of its own, since go-redis ignores a cancellation, and a call
// cut short runs on until the client gives up, when abandoned, if not nil,
// gets its result to clean up. The error of a call cut short wraps the
// context's cause (ErrTimeout for a wait time, attemptTimeoutError for the
// attempt timeout).
func bounded[T any](ctx context.Context, timeout time.Duration, direct bool, call func(context.Context) (T, error), abandoned func(T, error)) (T, error) {
	actx, cancel := context.WithTimeoutCause(ctx, timeout, attemptTimeoutError{timeout})
	defer cancel()
	var (
		v   T
		err error
	)
	if direct {
		v, err = call(actx)
	} else {
		var cut bool
		if v, err, cut = guarded(actx, call, abandoned); cut {
			var zero T
			return zero, context.Cause(actx)
		}
	}
	if err != nil {
		if d, ok := actx.Deadline(); ok && !time.Now().Before(d) {
			// A client that puts the deadline on its socket can fail a
			// moment before the context's own timer fires: wait for it.
			<-actx.Done()
		}
		if actx.Err() != nil {
			err = fmt.Errorf("%w: %w", context.Cause(actx), err)
		}
	}
	return v, err
}

// guarded runs call in a goroutine and waits for it or for ctx, whichever
// ends first; cut reports that ctx did, and abandoned then gets the
// result once it comes.
func guarded[T any](ctx context.Context, call func(context.Context) (T, error), abandoned func(T, error)) (v T, err error, cut bool) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err, false
	case <-ctx.Done():
		select {
		case r := <-done: // it ended at the same moment: take its answer
			return r.v, r.err, false
		default:
			if abandoned != nil {
				go func() {
					r := <-done
					abandoned(r.v, r.err)
				}()
			}
			return v, nil, true
		}
	}
}

// deadlineClient reports whether client is a go-redis client that puts
// each call's context deadline on its socket: ContextTimeoutEnabled, with
// read and write deadlines not switched off (ReadTimeout and WriteTimeout
// of -2, which go-redis keeps as -1). Pool waits, dials and retry
// back-offs of such a client end with the context too. Then bounded runs
// calls directly, which saves a goroutine and a hand-over per call; any
// other client gets the guard goroutine.
func deadlineClient(client Client) bool {
	honours := func(enabled bool, read, write time.Duration) bool {
		return enabled && read >= 0 && write >= 0
	}
	switch c := client.(type) {
	case *redis.Client:
		o := c.Options()
		return honours(o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout)
	case *redis.ClusterClient:
		o := c.Options()
		return honours(o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout)
	case *redis.Ring:
		o := c.Options()
		return honours(o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout)
	}
	return false
}

// MaybeSent reports whether a call that failed with err may still have run
// its script in Redis: anything but an error reply from the server, which
// comes only from a script that did not run (or wrote nothing, as ours fail
// before their first write).
func MaybeSent(err error) bool {
	var reply redis.Error
	return err != nil && !errors.As(err, &reply)
}

// releaseOrphan releases the lease that an acquire under token may have
// taken although its caller got no reply, and the queue entry a fair try
// may have made. The release compares the token,
// so it never touches anyone else's lease; it runs on a fresh context
// bounded by the attempt timeout, as the caller's may have ended. If it
// fails too, the orphan expires by its TTL.
func (l *Lock) releaseOrphan(token string) {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.AttemptTimeout)
	defer cancel()
	_, _ = l.release(ctx, token)
}

// release runs release.lua for token: 1 when it released the lease. It
// also takes token's entry out of the fair queue, so it is the way out for
// a fair waiter that gives up as well as for a holder.
func (l *Lock) release(ctx context.Context, token string) (int64, error) {
	keys := []string{l.leaseKey, l.termKey, l.queueKey, l.deadlinesKey, l.fenceKey}
	// The key grace only shortens TTLs an application's acquire set: the
	// election's keys have none (see release.lua).
	return releaseScript.Run(ctx, l.client, keys, token, l.channel, l.wakePrefix, l.keyRules(true)).Int64()
}
