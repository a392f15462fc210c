package main

import (
	"reflect"
	"testing"

	"github.com/baton-dev/baton/internal/jsonshape"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// TestLockBodyMatchesAPI keeps the example's own copy of the acquire's
// answer in step with the API's httpapi.LockBody.
func TestLockBodyMatchesAPI(t *testing.T) {
	for _, m := range jsonshape.Mismatches(reflect.TypeFor[lockBody](), reflect.TypeFor[httpapi.LockBody]()) {
		t.Error(m)
	}
}
