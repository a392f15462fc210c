package httpapi

import "strconv"

// LockBody is the JSON body of a successful acquire or renew, of a lock or
// of a semaphore's permit.
type LockBody struct {
	Name string `json:"name"`
	// Token is the owner token: renew and release present it. Keep it
	// secret: whoever has it can release the lock.
	Token string `json:"token"`
	// Fence is the fencing token, larger than any earlier holder's: pass
	// it to the systems written to, so that they can refuse a stale one.
	Fence uint64 `json:"fence"`
	// LeaseMS is the lease's TTL in milliseconds, counted from the
	// acquire or renew.
	LeaseMS int64 `json:"lease_ms"`
}

// LockHolderBody is one holder of a lock or semaphore.
type LockHolderBody struct {
	Identity    string `json:"identity"`
	Fence       uint64 `json:"fence"`
	RemainingMS int64  `json:"remaining_ms"`
}

// LockConflictBody is the JSON body of a 409: the wait ran out, or the
// caller no longer owns the lock. Holder is the holder seen, when known.
type LockConflictBody struct {
	Error  string          `json:"error"`
	Holder *LockHolderBody `json:"holder,omitempty"`
}

// LockReleasedBody is the JSON body of a successful DELETE.
type LockReleasedBody struct {
	Released bool `json:"released"`
}

// LockInfoBody is the JSON body of GET /locks/{name}.
type LockInfoBody struct {
	Name string `json:"name"`
	Held bool   `json:"held"`
	// Holder is the holder's identity, "" when free.
	Holder string `json:"holder"`
	// Fence is the holder's fence, or the last one issued when free.
	Fence uint64 `json:"fence"`
	// RemainingMS is the holder's remaining TTL in Redis; 0 when free.
	RemainingMS int64 `json:"remaining_ms"`
	// Queue is the number of live fair-queue entries.
	Queue int `json:"queue"`
}

// SemaphoreInfoBody is the JSON body of GET /semaphores/{name}.
type SemaphoreInfoBody struct {
	Name    string           `json:"name"`
	Permits int              `json:"permits"`
	Holders []LockHolderBody `json:"holders"`
	Queue   int              `json:"queue"`
}

// LockEvent is one line of a stream (application/x-ndjson): "acquired"
// first, with the holding's fields, then "keepalive" every few seconds,
// and "lost", with the error, when the holding ends while the stream is
// open; the stream ends after it.
type LockEvent struct {
	Event   string `json:"event"`
	Name    string `json:"name,omitempty"`
	Token   string `json:"token,omitempty"`
	Fence   uint64 `json:"fence,omitempty"`
	LeaseMS int64  `json:"lease_ms,omitempty"`
	Error   string `json:"error,omitempty"`
}

func holderBody(h HolderInfo) LockHolderBody {
	return LockHolderBody{Identity: h.Identity, Fence: h.Fence, RemainingMS: max(h.Remaining.Milliseconds(), 0)}
}

func lockBody(name string, h Holding) LockBody {
	return LockBody{Name: name, Token: h.Token(), Fence: h.Fence(), LeaseMS: h.TTL().Milliseconds()}
}

func formatFence(f uint64) string { return strconv.FormatUint(f, 10) }
