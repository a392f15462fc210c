package charts_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/baton-dev/baton/charts/chartgen"
	"github.com/baton-dev/baton/charts/manifesttest"
)

const regenerate = "run `go generate ./charts` (HELM_DOCS=$(hack/tools/helm-docs.sh)) and commit the result"

// TestSchemaGenerated: the committed values.schema.json is what the
// annotations of values.yaml generate.
func TestSchemaGenerated(t *testing.T) {
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := chartgen.Schema(values)
	if err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if d := firstDifference(got, want); d != "" {
		t.Errorf("%s/values.schema.json is not what values.yaml generates (%s): %s", chartDir, d, regenerate)
	}
}

// TestReadmeGenerated: the committed README.md is what helm-docs writes
// from README.md.gotmpl and values.yaml.
func TestReadmeGenerated(t *testing.T) {
	helmDocs := manifesttest.HelmDocs(t)
	dir := filepath.Join(t.TempDir(), "baton")
	copyDir(t, chartDir, dir)
	// helm-docs only warns when it cannot read a chart: without the
	// committed README in the copy, that is a missing file, not a pass.
	readme := filepath.Join(dir, "README.md")
	if err := os.Remove(readme); err != nil {
		t.Fatal(err)
	}
	out, err := manifesttest.Run(helmDocs, chartgen.HelmDocsArgs(dir)...)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(readme)
	if err != nil {
		t.Fatalf("helm-docs wrote no README (%v):\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if d := firstDifference(got, want); d != "" {
		t.Errorf("%s/README.md is not what helm-docs generates (%s): %s", chartDir, d, regenerate)
	}
}

// firstDifference describes the first line where got and want differ, or
// returns "" when they are equal.
func firstDifference(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return fmt.Sprintf("line %d is %q, want %q", i+1, gl, wl)
		}
	}
	return "they differ"
}
