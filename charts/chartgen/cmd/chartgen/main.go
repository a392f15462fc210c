// Command chartgen rewrites a chart's values.schema.json from its
// annotated values.yaml, and its README.md with helm-docs, as
// charts/chartgen documents. `go generate ./charts` runs it on
// charts/baton:
//
//	chartgen CHART_DIR
//
// helm-docs is $HELM_DOCS, or what hack/tools/helm-docs.sh prints (it
// builds helm-docs on first use).
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/baton-dev/baton/charts/chartgen"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chartgen CHART_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "chartgen:", err)
		os.Exit(1)
	}
}

func run(chartDir string) error {
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	schema, err := chartgen.Schema(values)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(chartDir, "values.schema.json"), schema, 0o644); err != nil {
		return err
	}
	helmDocs, err := helmDocsPath()
	if err != nil {
		return err
	}
	cmd := exec.Command(helmDocs, chartgen.HelmDocsArgs(chartDir)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("helm-docs: %w", err)
	}
	return nil
}

// helmDocsPath is $HELM_DOCS, or what hack/tools/helm-docs.sh prints.
func helmDocsPath() (string, error) {
	if p := os.Getenv("HELM_DOCS"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("HELM_DOCS is not set and there is no go.mod above the working directory to find hack/tools/helm-docs.sh")
		}
		dir = parent
	}
	cmd := exec.Command(filepath.Join(dir, "hack", "tools", "helm-docs.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/tools/helm-docs.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
