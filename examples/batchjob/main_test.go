package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/api"
)

// TestLeaderBodyMatchesAPI keeps the example's own copy of the /leader body
// in step with the API's: every field it reads must exist in
// api.StatusBody under the same JSON name, with the same type.
func TestLeaderBodyMatchesAPI(t *testing.T) {
	want := map[string]reflect.Type{}
	at := reflect.TypeFor[api.StatusBody]()
	for i := range at.NumField() {
		f := at.Field(i)
		want[jsonName(f)] = f.Type
	}
	lt := reflect.TypeFor[leaderBody]()
	for i := range lt.NumField() {
		f := lt.Field(i)
		name := jsonName(f)
		typ, ok := want[name]
		switch {
		case !ok:
			t.Errorf("leaderBody.%s reads %q, which api.StatusBody does not have", f.Name, name)
		case typ != f.Type:
			t.Errorf("leaderBody.%s is %v, api.StatusBody's %q is %v", f.Name, f.Type, name, typ)
		}
	}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}
