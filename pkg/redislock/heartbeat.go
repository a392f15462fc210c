package redislock

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed queue_refresh.lua
	queueRefreshSource string

	queueRefreshScript = redis.NewScript(queueSource + queueRefreshSource)
)

// entryHeartbeat refreshes one fair waiter's queue entry every heartbeat,
// on its own goroutine: the waiter's tries refresh it too, but a try can
// wait for a pooled connection, and the subscription before it for its
// confirmation, for longer than the entry lives (3 heartbeats); a live
// waiter would then be pruned as dead and queue again at the end. A try
// that refreshed the entry (touch) postpones the next refresh, so a waiter
// that tries every heartbeat sends no extra script.
//
// The refresh never creates an entry (queue_refresh.lua), so it is safe
// before the first try has queued the waiter and after the waiter has
// left or acquired.
type entryHeartbeat struct {
	every time.Duration
	start time.Time    // the monotonic origin of last
	last  atomic.Int64 // when the last refresh that landed was sent, since start
	stop  func()
	done  chan struct{}
}

// startHeartbeat refreshes every heartbeat, each refresh bounded by timeout
// and by the heartbeat, until stop. With refresh nil it does nothing.
func startHeartbeat(every, timeout time.Duration, refresh func(context.Context) error) *entryHeartbeat {
	hb := &entryHeartbeat{every: every, start: time.Now(), done: make(chan struct{})}
	if refresh == nil {
		close(hb.done)
		hb.stop = func() {}
		return hb
	}
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	hb.stop = func() {
		once.Do(func() {
			cancel()
			<-hb.done
		})
	}
	go func() {
		defer close(hb.done)
		t := time.NewTimer(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if wait := time.Duration(hb.last.Load()) + every - hb.now(); wait > 0 {
				t.Reset(wait) // a try refreshed the entry meanwhile
				continue
			}
			sent := hb.now()
			// A refresh not answered within a heartbeat is overtaken by
			// the next one.
			_, err := bounded(ctx, min(timeout, every), func(ctx context.Context) (struct{}, error) {
				return struct{}{}, refresh(ctx)
			}, nil)
			if err == nil {
				hb.touch(sent)
			}
			t.Reset(max(0, sent+every-hb.now()))
		}
	}()
	return hb
}

// now is the time since start, on the monotonic clock.
func (hb *entryHeartbeat) now() time.Duration { return time.Since(hb.start) }

// touch records that a refresh sent at sent (a try's or the heartbeat's
// own) landed.
func (hb *entryHeartbeat) touch(sent time.Duration) {
	for {
		old := hb.last.Load()
		if int64(sent) <= old || hb.last.CompareAndSwap(old, int64(sent)) {
			return
		}
	}
}

// refreshEntry runs queue_refresh.lua for token's entry in queue.
func refreshEntry(ctx context.Context, client Client, queue, deadlines, token string, lifetime time.Duration) error {
	reply, err := queueRefreshScript.Run(ctx, client, []string{queue, deadlines}, token, lifetime.Milliseconds()).Result()
	if err != nil {
		return err
	}
	switch r := reply.(type) {
	case int64:
		return nil
	case []any:
		if kind(r) == "foreign" {
			return foreignError(r)
		}
	}
	return fmt.Errorf("%w: %v", ErrUnexpectedReply, reply)
}
