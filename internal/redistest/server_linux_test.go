package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// A server must not outlive its test binary when the binary is killed:
// the helper process below starts one and is killed with SIGKILL.
func TestServerDiesWithItsBinary(t *testing.T) {
	if os.Getenv("REDISTEST_HELPER") == "1" {
		s := Start(t)
		fmt.Println("PID", s.PID())
		select {} // until killed
	}
	Binary(t)
	child := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithItsBinary$", "-test.count=1")
	child.Env = append(os.Environ(), "REDISTEST_HELPER=1")
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "PID %d", &pid); err == nil {
			break
		}
	}
	if pid == 0 {
		_ = child.Process.Kill()
		t.Fatal("the helper printed no server PID")
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("redis-server %d outlived its killed binary", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid runs: it exists and is not a zombie, which
// only its new parent can reap.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
