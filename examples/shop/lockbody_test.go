package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/baton-dev/baton/pkg/api"
)

// TestLockBodyMatchesAPI keeps the example's own copy of the acquire's
// answer in step with the API's: every field it reads must exist in
// api.LockBody under the same JSON name, with the same type.
func TestLockBodyMatchesAPI(t *testing.T) {
	want := map[string]reflect.Type{}
	at := reflect.TypeFor[api.LockBody]()
	for i := range at.NumField() {
		f := at.Field(i)
		want[jsonName(f)] = f.Type
	}
	lt := reflect.TypeFor[lockBody]()
	for i := range lt.NumField() {
		f := lt.Field(i)
		name := jsonName(f)
		typ, ok := want[name]
		switch {
		case !ok:
			t.Errorf("lockBody.%s reads %q, which api.LockBody does not have", f.Name, name)
		case typ != f.Type:
			t.Errorf("lockBody.%s is %v, api.LockBody's %q is %v", f.Name, f.Type, name, typ)
		}
	}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}
