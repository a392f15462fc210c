package redislock_test

import (
	"testing"

	"github.com/baton-dev/baton/pkg/redislock"
)

func newLock(t *testing.T, c redislock.Client, name string) *redislock.Lock {
	t.Helper()
	l, err := redislock.New(c, name, redislock.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}
