package supervisor

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

// TestKilledSupervisorTakesItsChildAlong: a baton killed by SIGKILL has no
// chance to stop its child; the parent-death signal does it. The helper
// supervises `sleep 1000` and is killed; the sleep, handed to this process
// (a subreaper, see TestMain), must have died of SIGKILL.
func TestKilledSupervisorTakesItsChildAlong(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"=pdeathsig")
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the helper's child PID: %v", err)
	}
	pid, err := strconv.Atoi(line[:len(line)-1])
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })

	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()

	reaped := make(chan syscall.WaitStatus, 1)
	go func() {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if err != syscall.EINTR {
				break
			}
		}
		reaped <- ws
	}()
	select {
	case ws := <-reaped:
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("the sleep ended with %v, want killed by SIGKILL", ws)
		}
	case <-time.After(guard):
		t.Fatalf("sleep %d outlived its killed supervisor", pid)
	}
}

// helperPdeathsig supervises `sleep 1000`, prints its PID, and waits to be
// killed.
func helperPdeathsig() error {
	s, err := New(Options{Command: []string{"sleep", "1000"}, Lock: "job", Identity: "helper"})
	if err != nil {
		return err
	}
	go s.Lead(context.Background(), election.Term{Fence: 1, Start: time.Now()})
	for {
		ch := s.Changed()
		if st := s.State(); st.Running {
			fmt.Println(st.PID)
			break
		}
		select {
		case <-ch:
		case <-time.After(guard):
			return fmt.Errorf("the child did not start")
		}
	}
	time.Sleep(guard) // killed long before
	return fmt.Errorf("not killed")
}
