package api

import (
	"testing"
	"time"
)

// SetNow makes f the clock of the drop-in's last_update until t ends. Call
// it before serving: the handler reads the clock unguarded.
func SetNow(t testing.TB, f func() time.Time) {
	old := now
	now = f
	t.Cleanup(func() { now = old })
}
