package supervisor

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// Regression (busy-core runs of TestGuardLeavesWithItsJob): the supervisor
// started the job as soon as the guard was forked, before the guard's Go
// runtime had come up and ignored the group's signals. A stop right after
// the start (a term that ends at once) sent SIGTERM to the group, which
// killed the guard; baton then took the guard's death for a kill -9 and
// SIGKILLed the job instead of letting it stop by its SIGTERM. startGuard
// returns only once the guard has said that it ignores them.
func TestAGuardIgnoresTheGroupsSignalsFromItsStart(t *testing.T) {
	t.Setenv(guardHelperEnv, "1")
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	first := bootNS() + int64(time.Minute)
	g, err := startGuard(os.Args[0], []string{os.Args[0], "-test.run=^TestGuardProcessHelper$"}, first)
	if err != nil {
		t.Fatal(err)
	}
	// At once, as the supervisor's stop of a job that has just started.
	if err := syscall.Kill(-g.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	g.finish()
	st := g.cmd.ProcessState
	if st == nil || !st.Exited() || st.ExitCode() != 0 {
		t.Fatalf("the guard, sent SIGTERM right after its start, then done: %v; want exit status 0", st)
	}
}
