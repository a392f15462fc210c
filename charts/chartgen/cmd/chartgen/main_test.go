package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/baton-dev/baton/charts/manifesttest"
)

// TestRun: on a copy of charts/baton whose generated files are gone, run
// writes them back as they are committed.
func TestRun(t *testing.T) {
	t.Setenv("HELM_DOCS", manifesttest.HelmDocs(t))
	src := filepath.Join("..", "..", "..", "baton")
	dir := filepath.Join(t.TempDir(), "baton")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	generated := []string{"values.schema.json", "README.md"}
	for _, f := range generated {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := run(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range generated {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("run did not write %s: %v", f, err)
		}
		want, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the committed one", f)
		}
	}
}

// TestRunRejectsUndocumented: a value without a description stops the
// generation before anything is written.
func TestRunRejectsUndocumented(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "values.yaml"), []byte("replicas: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(dir); err == nil {
		t.Fatal("run accepted an undocumented value")
	}
	if _, err := os.Stat(filepath.Join(dir, "values.schema.json")); !os.IsNotExist(err) {
		t.Errorf("run wrote a schema anyway (%v)", err)
	}
}
