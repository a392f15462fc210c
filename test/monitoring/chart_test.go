package monitoring

import (
	"bytes"
	"errors"
	"io"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// renderKind renders the chart as release "rel" in namespace "default"
// with extra helm arguments, and returns the objects of a kind.
func renderKind(t *testing.T, kind string, extra ...string) []map[string]any {
	t.Helper()
	args := append([]string{"template", "rel", chartDir, "--namespace", "default"}, extra...)
	out := run(t, helm(t), args...)
	var objs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("decode the chart: %v", err)
		}
		if m["kind"] == kind {
			objs = append(objs, m)
		}
	}
}

// one returns the only object of a kind, failing t otherwise.
func one(t *testing.T, kind string, extra ...string) map[string]any {
	t.Helper()
	objs := renderKind(t, kind, extra...)
	if len(objs) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(objs))
	}
	return objs[0]
}

// field walks nested maps along keys.
func field(t *testing.T, m any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			t.Fatalf("%v: not a map at %q", keys, k)
		}
		m = mm[k]
	}
	return m
}
