package election

import "github.com/baton-dev/baton/pkg/lease"

// Locker is the storage seam of an elector (see pkg/lease); Config.Locker
// takes one, such as redislock.NewLocker's.
type Locker = lease.Locker

// Lease is one term of ownership handed out by a Locker.
type Lease = lease.Lease

// Holder is the owner of the lock as seen by a waiting elector.
type Holder = lease.Holder
