package main

import (
	"reflect"
	"testing"

	"github.com/baton-dev/baton/internal/jsonshape"
	"github.com/baton-dev/baton/pkg/api"
)

// TestLockBodyMatchesAPI keeps the example's own copy of the acquire's
// answer in step with the API's api.LockBody.
func TestLockBodyMatchesAPI(t *testing.T) {
	for _, m := range jsonshape.Mismatches(reflect.TypeFor[lockBody](), reflect.TypeFor[api.LockBody]()) {
		t.Error(m)
	}
}
