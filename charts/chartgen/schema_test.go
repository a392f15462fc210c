package chartgen_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/baton-dev/baton/charts/chartgen"
)

// TestSchema: what each kind of value and annotation turns into.
func TestSchema(t *testing.T) {
	for _, c := range []struct {
		name, values, want string
	}{
		{
			name: "scalars",
			values: `
# -- a string
s: x
# -- an integer
i: 1
# -- a number
f: 1.5
# -- a boolean
b: true
# -- anything
n: null
`,
			want: `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false, "properties": {
				"s": {"description": "a string", "type": "string"},
				"i": {"description": "an integer", "type": "integer"},
				"f": {"description": "a number", "type": "number"},
				"b": {"description": "a boolean", "type": "boolean"},
				"n": {"description": "anything"}}}`,
		},
		{
			name: "lists take the type of their first item",
			values: `
# -- strings
cmd: [sh, -c]
# -- maps
ports: [{name: http}]
# -- nothing to infer from
env: []
`,
			want: `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false, "properties": {
				"cmd": {"description": "strings", "type": "array", "items": {"type": "string"}},
				"ports": {"description": "maps", "type": "array", "items": {"type": "object"}},
				"env": {"description": "nothing to infer from", "type": "array"}}}`,
		},
		{
			name: "a section is closed, an open or empty map is not described further",
			values: `
section:
  # @schema required: true
  # -- on
  enabled: true
  # @schema additionalProperties: true
  # -- free-form
  resources:
    limits: {memory: 64Mi}
  # -- empty
  labels: {}
`,
			want: `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false, "properties": {
				"section": {"type": "object", "additionalProperties": false, "required": ["enabled"], "properties": {
					"enabled": {"description": "on", "type": "boolean"},
					"resources": {"description": "free-form", "type": "object", "additionalProperties": true},
					"labels": {"description": "empty", "type": "object"}}}}}`,
		},
		{
			name: "annotations merge over the inferred schema",
			values: `
# @schema
# enum: [a, b]
# pattern: '^[a-z]$'
# @schema
# -- the mode
mode: a
# @schema {$ref: '#/definitions/port', required: true}
# -- a $ref replaces the inferred type
port: 80
# @schema
# oneOf: [{type: integer}, {type: string}]
# @schema
# -- so does oneOf
surge: 1
`,
			want: `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false, "required": ["port"], "properties": {
				"mode": {"description": "the mode", "type": "string", "enum": ["a", "b"], "pattern": "^[a-z]$"},
				"port": {"description": "a $ref replaces the inferred type", "$ref": "#/definitions/port"},
				"surge": {"description": "so does oneOf", "oneOf": [{"type": "integer"}, {"type": "string"}]}}}`,
		},
		{
			name: "the head of the file annotates the root",
			values: `
# Values of a chart.
# @schema
# title: T
# definitions:
#   port: {type: integer, minimum: 1}
# properties:
#   global: {type: object}
# required: [global]
# @schema

# @schema required: true
# -- a port
port: 80
`,
			want: `{"$schema": "http://json-schema.org/draft-07/schema#", "title": "T", "type": "object", "additionalProperties": false, "required": ["global", "port"],
				"definitions": {"port": {"type": "integer", "minimum": 1}},
				"properties": {"port": {"description": "a port", "type": "integer"}, "global": {"type": "object"}}}`,
		},
		{
			name: "a description spans lines up to a helm-docs directive",
			values: `
# Notes for readers, before the description, are not part of it.
# -- Name of the lock:
#    1 to 128 characters.
# @default -- the release name
lock: ""
`,
			want: `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false, "properties": {
				"lock": {"description": "Name of the lock: 1 to 128 characters.", "type": "string"}}}`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := chartgen.Schema([]byte(c.values))
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, got)
			}
			if err := json.Unmarshal([]byte(c.want), &w); err != nil {
				t.Fatalf("bad want: %v", err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// TestSchemaOrder: properties keep the order of values.yaml, keywords a
// fixed order, and patterns their < and > unescaped.
func TestSchemaOrder(t *testing.T) {
	got, err := chartgen.Schema([]byte(`
# @schema pattern: '^<[a-z]+>$'
# -- zed
z: <a>
# -- alpha
a: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "z": {
      "description": "zed",
      "type": "string",
      "pattern": "^<[a-z]+>$"
    },
    "a": {
      "description": "alpha",
      "type": "integer"
    }
  },
  "additionalProperties": false
}
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestSchemaErrors: a malformed values.yaml or annotation is an error that
// names the value, never a schema that silently says less.
func TestSchemaErrors(t *testing.T) {
	for _, c := range []struct {
		name, values string
		want         error
		path         string
	}{
		{"undocumented value", "section:\n  # a plain comment\n  enabled: true\n", chartgen.ErrUndocumented, "section.enabled"},
		{"undocumented open map", "# @schema additionalProperties: true\nresources: {a: 1}\n", chartgen.ErrUndocumented, "resources"},
		{"unterminated block", "# @schema\n# minimum: 1\n# -- n\nn: 1\n", chartgen.ErrAnnotation, "n"},
		{"two blocks", "# @schema minimum: 1\n# @schema maximum: 2\n# -- n\nn: 1\n", chartgen.ErrAnnotation, "n"},
		{"block not a map", "# @schema\n# - 1\n# @schema\n# -- n\nn: 1\n", chartgen.ErrAnnotation, "n"},
		{"block not YAML", "# @schema\n# minimum: [1\n# @schema\n# -- n\nn: 1\n", chartgen.ErrAnnotation, "n"},
		{"two descriptions", "# -- one\n# -- two\nn: 1\n", chartgen.ErrAnnotation, "n"},
		{"values not a map", "- 1\n", chartgen.ErrValues, ""},
		{"values not YAML", "a: [1\n", chartgen.ErrValues, ""},
		{"alias", "# -- a\na: &x 1\n# -- b\nb: *x\n", chartgen.ErrAnnotation, "b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := chartgen.Schema([]byte(c.values))
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if c.path != "" && !strings.HasPrefix(err.Error(), c.path+": ") {
				t.Errorf("the error should start with the value's path %q: %v", c.path, err)
			}
		})
	}
}
