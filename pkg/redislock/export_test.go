package redislock

// Hooks for the external tests (package redislock_test).

// Keys are l's lease key, fencing counter and release channel.
func Keys(l *Lock) (lease, fence, channel string) { return l.core.Keys() }

// TermKey is l's term record.
func TermKey(l *Lock) string { return l.core.TermKey() }

// QueueKeys are l's fair queue, its deadlines and its wake prefix.
func QueueKeys(l *Lock) (queue, deadlines, wakePrefix string) { return l.core.QueueKeys() }
