//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary runs as execchild itself when this is set.
const asChild = "EXECCHILD_TEST_AS_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(asChild) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func child(env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{asChild + "=1"}, env...)...)
	return cmd
}

func TestStampsStartAndSIGTERM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stamps")
	cmd := child(stampsEnv+"="+path, "BATON_FENCE=77")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.HasSuffix(string(b), "\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no start stamp within 30s")
		}
		time.Sleep(5 * time.Millisecond) // polls for the child's write
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("stamps = %q, want a start and a stop", b)
	}
	start, stop := strings.Fields(lines[0]), strings.Fields(lines[1])
	if len(start) != 4 || start[0] != "start" || start[2] != "77" || len(stop) != 3 || stop[0] != "stop" || stop[2] != start[3] {
		t.Errorf("stamps = %q, want start <mono> 77 <pid> then stop <mono> <pid>", b)
	}
	a, errA := strconv.ParseInt(start[1], 10, 64)
	z, errZ := strconv.ParseInt(stop[1], 10, 64)
	if errA != nil || errZ != nil || z <= a {
		t.Errorf("stop stamp %s not after start stamp %s", stop[1], start[1])
	}
}

func TestNoStampsFile(t *testing.T) {
	cmd := child(stampsEnv + "=")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), stampsEnv+" is not set") {
		t.Errorf("without %s: %v, %q; want exit 2 saying it is not set", stampsEnv, err, out)
	}
}
