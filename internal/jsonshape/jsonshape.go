// Package jsonshape checks that a program's own copy of a JSON body, such
// as the examples keep to stay stdlib-only, reads only what the API's type
// writes: every field under a JSON name the API has, with the same Go type.
package jsonshape

import (
	"fmt"
	"reflect"
	"strings"
)

// Mismatches lists each field of copied that api does not have under the
// same JSON name and type; none means the copy is in step. Both must be
// struct types.
func Mismatches(copied, api reflect.Type) []string {
	want := map[string]reflect.Type{}
	for i := range api.NumField() {
		f := api.Field(i)
		want[jsonName(f)] = f.Type
	}
	var out []string
	for i := range copied.NumField() {
		f := copied.Field(i)
		name := jsonName(f)
		typ, ok := want[name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s.%s reads %q, which %s does not have", copied.Name(), f.Name, name, api))
		case typ != f.Type:
			out = append(out, fmt.Sprintf("%s.%s is %v, %s's %q is %v", copied.Name(), f.Name, f.Type, api, name, typ))
		}
	}
	return out
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}
