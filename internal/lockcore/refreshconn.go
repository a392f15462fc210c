package lockcore

import (
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// The queue refreshers of a Client run on a client of their own: a copy of
// its options with a small pool, so that the application's calls, or the
// waiters' own tries, cannot hold back the refresh by filling the pool
// (blocking commands, a stalled connection): a live waiter would then be
// pruned as dead. The side client is shared by every refresher of one
// Client, and closed sideLinger after the last one stopped, unless another
// started meanwhile. A Client that is not a go-redis *Client,
// *ClusterClient or *Ring (a wrapper of the application's) has no options
// to copy: its refreshers use it as it is.

// sidePoolSize bounds the side client's pool (per node of a Cluster). Each
// refresher runs one call at a time, bounded by the heartbeat.
const sidePoolSize = 4

// sideLinger is how long a side client outlives its last refresher, so
// that waves of waiters do not dial Redis again for every wave.
const sideLinger = hubLinger

var sides = struct {
	sync.Mutex
	m map[Client]*side
}{m: map[Client]*side{}}

type side struct {
	client Client
	close  func() error
	users  int
	linger *time.Timer
}

// sideClient returns the client for client's refreshers, and the function
// that gives it back.
func sideClient(client Client) (Client, func()) {
	if !isComparable(client) {
		return client, func() {}
	}
	sides.Lock()
	defer sides.Unlock()
	s := sides.m[client]
	if s == nil {
		c, closeFn, ok := copyClient(client)
		if !ok {
			return client, func() {}
		}
		s = &side{client: c, close: closeFn}
		sides.m[client] = s
	}
	if s.linger != nil {
		s.linger.Stop()
		s.linger = nil
	}
	s.users++
	var once sync.Once
	return s.client, func() { once.Do(func() { s.done(client) }) }
}

// done gives s back; the last user starts its linger.
func (s *side) done(key Client) {
	sides.Lock()
	defer sides.Unlock()
	s.users--
	if s.users > 0 {
		return
	}
	s.linger = time.AfterFunc(sideLinger, func() {
		sides.Lock()
		defer sides.Unlock()
		if s.users > 0 || sides.m[key] != s {
			return
		}
		delete(sides.m, key)
		_ = s.close()
	})
}

// copyClient opens a new client with client's options and a pool of
// sidePoolSize. go-redis may still change the maintenance notifications'
// configuration of a running client, so the copy gets one of its own,
// switched off: a side client has no use for them.
func copyClient(client Client) (Client, func() error, bool) {
	switch c := client.(type) {
	case *redis.Client:
		o := *c.Options()
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns = sidePoolSize, 0, sidePoolSize, sidePoolSize
		n := redis.NewClient(&o)
		return n, n.Close, true
	case *redis.ClusterClient:
		o := *c.Options()
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns = sidePoolSize, 0, sidePoolSize, sidePoolSize
		n := redis.NewClusterClient(&o)
		return n, n.Close, true
	case *redis.Ring:
		o := *c.Options()
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns = sidePoolSize, 0, sidePoolSize, sidePoolSize
		n := redis.NewRing(&o)
		return n, n.Close, true
	}
	return nil, nil, false
}
