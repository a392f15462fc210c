package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// marker opens a snippet: the package directory and the Example's name.
var marker = regexp.MustCompile(`(?m)^<!-- example (\S+) (Example\w*) -->\n`)

const closing = "<!-- /example -->"

// update rewrites the snippets of the Markdown file path from the examples
// under root, writing the file only when write is set. It reports whether
// any snippet changed.
func update(path, root string, write bool) (bool, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	out, err := render(doc, func(dir, name string) (string, error) { return example(filepath.Join(root, dir), name) })
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(out, doc) {
		return false, nil
	}
	if write {
		return true, os.WriteFile(path, out, 0o644)
	}
	return true, nil
}

// render replaces the body of every marked snippet of doc by source(dir,
// name) in a go code fence.
func render(doc []byte, source func(dir, name string) (string, error)) ([]byte, error) {
	var out bytes.Buffer
	rest := doc
	for {
		loc := marker.FindSubmatchIndex(rest)
		if loc == nil {
			out.Write(rest)
			return out.Bytes(), nil
		}
		dir, name := string(rest[loc[2]:loc[3]]), string(rest[loc[4]:loc[5]])
		end := bytes.Index(rest[loc[1]:], []byte(closing))
		if end < 0 {
			return nil, fmt.Errorf("snippet %s %s has no %s", dir, name, closing)
		}
		src, err := source(dir, name)
		if err != nil {
			return nil, err
		}
		out.Write(rest[:loc[1]])
		fmt.Fprintf(&out, "```go\n%s\n```\n", src)
		rest = rest[loc[1]+end:]
	}
}

// example returns the source of the Example function name, with its doc
// comment, from the test files of dir.
func example(dir, name string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return "", err
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, f, src, parser.ParseComments)
		if err != nil {
			return "", err
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Name.Name != name {
				continue
			}
			start := fn.Pos()
			if fn.Doc != nil {
				start = fn.Doc.Pos()
			}
			return strings.TrimSpace(string(src[fset.Position(start).Offset:fset.Position(fn.End()).Offset])), nil
		}
	}
	return "", fmt.Errorf("no %s in %s", name, dir)
}
