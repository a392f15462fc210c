// Package chartgen generates what the baton chart would otherwise keep by
// hand beside its values.yaml: values.schema.json, from the @schema
// annotations of values.yaml (Schema), and README.md, which helm-docs
// writes from README.md.gotmpl and the "# --" descriptions of values.yaml
// (HelmDocsArgs). values.yaml is then the one place where a value is set,
// described and constrained; charts/generated_test.go fails when a
// committed file differs from what it generates, and `go generate
// ./charts` rewrites both.
//
// The annotations of values.yaml are comments above a key:
//
//	# @schema
//	# enum: [standalone, sentinel, cluster]
//	# required: true
//	# @schema
//	# -- mode of Redis: standalone, sentinel or cluster.
//	mode: standalone
//
// The lines between the two "@schema" lines are YAML: JSON Schema
// keywords for the key, merged over what the value implies (its type; for
// a map, its keys as properties with additionalProperties false; for a
// list, the type of its first item). "required: true" is the exception: it
// adds the key to its parent's required list. The "# --" line and the
// lines after it, up to a helm-docs directive ("# @default -- ..."), are
// the description, in the schema as in the README. A value without one is
// an error (ErrUndocumented), unless it is a map whose keys are described.
// "# @schema K: V, K: V" on one line is the block {K: V, K: V}. A
// free-form map says so with "additionalProperties: true" (or a schema for
// its values): its keys are then not described further. A $ref, oneOf or
// anyOf replaces the inferred type. An @schema block at the top of the
// file, apart from the first key by a blank line, annotates the root
// schema (title, definitions, allOf, properties Helm adds, ...).
//
// The block syntax follows github.com/dadav/helm-schema, which the Go module
// proxy does not serve; the one-line form and the inference are this
// package's own, and none of that tool's code is.
package chartgen
