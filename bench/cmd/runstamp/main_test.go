package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary runs as runstamp itself when this is set.
const asJob = "RUNSTAMP_TEST_AS_JOB"

func TestMain(m *testing.M) {
	if os.Getenv(asJob) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// job runs the test binary as runstamp with env, and nothing of the
// test's own environment that baton would set.
func job(env ...string) error {
	cmd := exec.Command(os.Args[0])
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BATON_") && !strings.HasPrefix(kv, stampEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, append([]string{asJob + "=1"}, env...)...)
	return cmd.Run()
}

func TestAppendsOneLinePerStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamps")
	before := time.Now().UnixNano()
	env := []string{stampEnv + "=" + path, "BATON_RUN_WINDOW=2026-12-07T10:00:05Z",
		"BATON_TERM_START=2026-12-07T10:00:05.000693Z", "BATON_IDENTITY=r1", "BATON_RUN_ATTEMPT=1"}
	for range 2 {
		if err := job(env...); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now().UnixNano()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), b)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) != 5 || strings.Join(f[1:], " ") != "2026-12-07T10:00:05Z 2026-12-07T10:00:05.000693Z r1 1" {
			t.Errorf("line %q, want <unix_ns> and the four variables", line)
			continue
		}
		if ns, err := strconv.ParseInt(f[0], 10, 64); err != nil || ns < before || ns > after {
			t.Errorf("stamp %q is not a wall clock between the job's launch and its end", f[0])
		}
	}
}

func TestUnsetVariables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamps")
	if err := job(stampEnv + "=" + path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(b)); len(f) != 5 || strings.Join(f[1:], " ") != "- - - -" {
		t.Errorf("line %q, want four dashes for the unset variables", b)
	}
	var exit *exec.ExitError
	if err := job(); !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("without %s: %v, want exit status 2", stampEnv, err)
	}
}
