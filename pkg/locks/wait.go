package locks

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// waitFor applies the waitTime of Mutex.TryLock and
// Semaphore.TryLock: 0 makes the single try once, a negative value
// waits as long as ctx allows, and a positive one at most that long. When
// the wait runs out, the error matches ErrTimeout, and also ErrHeld with
// the last *HeldError seen, so that the caller can tell who held it.
func waitFor[T any](ctx context.Context, waitTime time.Duration,
	once func(context.Context) (T, error),
	wait func(context.Context, func(*HeldError)) (T, error),
) (T, error) {
	var last *HeldError
	onHeld := func(h *HeldError) { last = h }
	var (
		v   T
		err error
	)
	switch {
	case waitTime == 0:
		v, err = once(ctx)
		if errors.Is(err, ErrHeld) {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		return v, err
	case waitTime < 0:
		v, err = wait(ctx, onHeld)
	default:
		wctx, cancel := context.WithTimeoutCause(ctx, waitTime, ErrTimeout)
		v, err = wait(wctx, onHeld)
		cancel()
	}
	if err != nil && last != nil && errors.Is(err, ErrTimeout) && !errors.Is(err, ErrHeld) {
		err = fmt.Errorf("%w; last seen: %w", err, last)
	}
	return v, err
}

func lostOrForeign(err error) bool {
	return errors.Is(err, ErrLost) || errors.Is(err, ErrForeign)
}

// lateReply is the error for a watchdog lease whose acquire's reply came
// when two thirds of its TTL since sentAt had passed: the watchdog could
// not keep its promise to close Lost a third of the TTL before the lease
// can expire, and the lease may already have expired in Redis and been
// taken by another owner. The caller gets the lock with Lost closed.
func lateReply(now func() time.Time, ttl time.Duration, sentAt time.Time) error {
	validFor := ttl * 2 / 3
	if took := now().Sub(sentAt); took >= validFor {
		return fmt.Errorf("%w: the acquire's reply came %v after it was sent, past the %v a watchdog lease of TTL %v is valid for",
			ErrLost, took, validFor, ttl)
	}
	return nil
}
