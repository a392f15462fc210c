// Package locks is baton's application locks on Redis, in the manner of
// Redisson: a Mutex (plain or fair) and a counting Semaphore, for web
// servers behind a load balancer that must lock one resource per request.
// They stand on the same lease engine as pkg/redislock, beside the
// election, on keys of their own. A held lock or permit is a *Held; letting
// go is Release.
//
// # TryLock
//
// TryLock(ctx, waitTime, leaseTime) is Redisson's tryLock. waitTime bounds
// the wait while another owner holds the lock: 0 makes a single try, and a
// negative value waits as long as ctx allows. When it runs out the error
// matches ErrTimeout, and also ErrHeld (a *HeldError with the holder last
// seen) once a try has seen the lock held; the caller holds nothing, as an
// acquire cut short is released by its owner token.
//
// With leaseTime > 0 the lease expires leaseTime after it was taken unless
// Release comes first; nothing renews it but Held.Renew. With leaseTime 0 a
// watchdog keeps it: the TTL is Options.WatchdogTimeout, renewed every
// third of it until Release. If the watchdog finds the lease lost, or no
// renew has succeeded for two thirds of the TTL since the last successful
// one was sent, Lost is closed: a third of the TTL before the lease can
// expire in Redis, as the elector keeps a margin before its lease expiry.
// That third is the application's time to see Lost and stop, and it absorbs
// clock drift between this host and Redis. The TTL counts from the moment
// the acquire was sent: if its reply comes two thirds of the TTL later or
// more, TryLock returns the lock with Lost already closed (check it before
// starting), since the lease may have expired in Redis meanwhile.
//
// # Release
//
// A release stops the watchdog, so that no renew races it, and is cut
// where the lease's validity ends. A release that fails on a fault leaves
// the lock held: the watchdog resumes from its last successful renew, and a
// retry releases. A retry that finds the lease gone, after a try whose
// reply was lost, while the lease could not have expired yet, succeeds: the
// first try released it. A release still unanswered when the validity ends
// returns an error matching ErrLost, with Lost closed.
//
// # Re-entry
//
// Under a context from WithOwner, TryLock is reentrant for that owner, as
// Redisson's RLock is for a thread: Go has no thread identity, so the
// owner travels in the context. A TryLock whose owner already holds the
// lock does not wait: it checks in Redis that the lease is still held (a
// renew, which also extends it), counts one hold more, and returns the same
// *Held. Each TryLock needs its own Release; the lease is released at the
// last one. "The lock" is the same name and prefix on the same client value
// (a go-redis client is a pointer). Call WithOwner once where a flow of
// work begins, as a thread would start: a fresh owner in a nested call
// waits for the outer one, for ever. Goroutines that share a context share
// its owner.
//
// # Fair locks
//
// With Options.Fair, waiters take the lock in the order in which their
// enqueue ran in Redis. A fair and a plain Mutex of one name exclude each
// other; a plain waiter whose try finds a queue joins it for the rest of
// its wait, but its first try can take a free lock, so mix the two on one
// name only when that is fine. The queue (<prefix>:{N}:queue and
// :queue-deadlines) holds heartbeated entries: each waiter's entry is
// refreshed every Options.QueueHeartbeat by a timer apart from its tries
// (one script per heartbeat for all the waiters of one queue on one Client,
// on a connection of its own), and an entry not refreshed for 3 heartbeats,
// in Redis server time, drops out, so a waiter that died blocks the queue
// for about 3 heartbeats. A release wakes only the head, on its own channel
// (<prefix>:{N}:wake:<token>). Besides wake-ups, the first two waiters try
// at their heartbeat, and sooner when what they wait for can expire; the
// waiters behind them idle until the refresh reports their rank is 1 or
// less. A waiter whose wait runs out removes its own entry before TryLock
// returns. With waitTime 0 a fair try succeeds only when nobody is queued.
//
// # Semaphores
//
// A Semaphore of N permits admits at most N holders at once, each with its
// own lease, owner token and fence. A semaphore named N lives in keys of its
// own, in the hash slot of {N}: <prefix>:{N}:sem:permits (a sorted set,
// token by lease expiry), :sem:holders, :sem:fence, :sem:permit-count,
// :sem:queue, :sem:queue-deadlines, :sem:released and :sem:wake:<token>.
// Every user of one name must give the same number of permits: the first
// user's number is recorded, and an acquire with another one fails with a
// *PermitsError (ErrPermits) and writes nothing. Waiters wake on release
// messages and when the first permit's lease can expire; fair ones queue as
// a fair Mutex's do.
//
// # Keys and data loss
//
// An application's keys expire Options.KeyGrace after the end of their
// furthest lease (a release cuts them to KeyGrace), so that a name nobody
// holds leaves no key behind. A FenceMemory remembers, per name, the
// highest fence a client has seen and until when a lease it issued or saw
// can be valid: an acquire that finds a counter below it knows that Redis
// lost writes (FLUSHALL, a restart without persistence, a failover to a
// replica that missed them) and quarantines the name while such a lease can
// still be valid. It holds at most its size of names; when a new one comes,
// those whose leases have ended go first, then the one whose lease ends
// soonest, those with a lease this client issued last. Share one across
// the Mutexes of a client that builds one per call, as the sidecar's lock
// API does.
package locks
