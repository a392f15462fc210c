package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// The docs' snippets are their examples' source: this fails when one has
// drifted (run make docs).
func TestDocsAreUpToDate(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range append(docs, "../../README.md") {
		changed, err := update(path, "../..", false)
		if err != nil {
			t.Fatal(err)
		}
		if changed {
			t.Errorf("%s: a snippet differs from its example; run make docs", path)
		}
	}
}

func TestRender(t *testing.T) {
	src := func(dir, name string) (string, error) { return "func " + name + "() {} // " + dir, nil }
	for _, tt := range []struct{ in, want string }{
		{"no snippets\n", "no snippets\n"},
		{"a\n<!-- example pkg/x ExampleA -->\n```go\nold\n```\n<!-- /example -->\nb\n",
			"a\n<!-- example pkg/x ExampleA -->\n```go\nfunc ExampleA() {} // pkg/x\n```\n<!-- /example -->\nb\n"},
		{"<!-- example pkg/x ExampleB -->\n<!-- /example -->\n",
			"<!-- example pkg/x ExampleB -->\n```go\nfunc ExampleB() {} // pkg/x\n```\n<!-- /example -->\n"},
	} {
		got, err := render([]byte(tt.in), src)
		if err != nil || string(got) != tt.want {
			t.Errorf("render(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := render([]byte("<!-- example pkg/x ExampleC -->\nno end\n"), src); err == nil || !strings.Contains(err.Error(), "no <!-- /example -->") {
		t.Errorf("unterminated snippet: err = %v", err)
	}
}

func TestExampleSource(t *testing.T) {
	got, err := example("../../pkg/locks", "ExampleMutex_TryLock")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "// A mutex with the watchdog") || !strings.HasSuffix(got, "}") || !strings.Contains(got, "// Output:") {
		t.Errorf("source of ExampleMutex_TryLock:\n%s", got)
	}
	if _, err := example("../../pkg/locks", "ExampleNope"); err == nil {
		t.Error("a missing example gave no error")
	}
}
