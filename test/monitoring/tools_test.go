package monitoring

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the checkout this module sits in (../.. of its directory).
const repoRoot = "../.."

// chartDir is the baton chart.
var chartDir = filepath.Join(repoRoot, "charts", "baton")

// tool returns the path in $env, else what the hack/tools script prints
// (building the tool on first use). Without either it skips t, or fails
// it under CI=true.
func tool(t *testing.T, env, script string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s=%s: %v", env, p, err)
		}
		return p
	}
	path := filepath.Join(repoRoot, "hack", "tools", script)
	var stderr bytes.Buffer
	cmd := exec.Command(path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := fmt.Sprintf("no %s: %s is not set and %s failed: %v\n%s", script, env, path, err, stderr.String())
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: required)")
		}
		t.Skip(msg)
	}
	return strings.TrimSpace(string(out))
}

func helm(t *testing.T) string     { return tool(t, "HELM", "helm.sh") }
func promtool(t *testing.T) string { return tool(t, "PROMTOOL", "promtool.sh") }

// run runs a command and returns its stdout, failing t with its stderr.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runErr(name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}
