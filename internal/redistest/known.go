package redistest

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// KnownStore writes the term record termKey (<prefix>:{<lock>}:term, the
// lease's term record) as a release leaves it: fence 1, valid until 0,
// a term that has ended. Under the election's key rules a store with
// neither the lock's fence counter nor its term record is unknown (its data
// may have been lost while a leader still believes in its term), so the
// first candidate writes a quarantine and nobody leads for one lease TTL
// (internal/lockcore/acquire.lua). Tests about something else start from a
// known store this way; a test of the first term itself must not.
func KnownStore(t testing.TB, c redis.Cmdable, termKey string) {
	t.Helper()
	if err := c.HSet(t.Context(), termKey, "fence", "1", "valid_until_us", "0").Err(); err != nil {
		t.Fatalf("redistest.KnownStore %s: %v", termKey, err)
	}
}
