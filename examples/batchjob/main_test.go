package main

import (
	"reflect"
	"testing"

	"github.com/baton-dev/baton/internal/jsonshape"
	"github.com/baton-dev/baton/pkg/api"
)

// TestLeaderBodyMatchesAPI keeps the example's own copy of the /leader body
// in step with the API's api.StatusBody.
func TestLeaderBodyMatchesAPI(t *testing.T) {
	for _, m := range jsonshape.Mismatches(reflect.TypeFor[leaderBody](), reflect.TypeFor[api.StatusBody]()) {
		t.Error(m)
	}
}
