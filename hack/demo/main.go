// Command demo runs baton's demo: a throwaway redis-server, three sidecars,
// each beside a tiny batch job that works only while its sidecar leads, a
// graceful handover (SIGTERM to the leader) and a crash failover (kill -9);
// then the same with exec mode, where three `baton run` replicas run an
// unmodified shell script; then schedule mode, where three `baton run
// --schedule '@every 2s'` replicas run a script once per window, and a
// kill -9 of the runner gets its window retried once. It checks what it
// shows, cleans up and exits by itself. Run it with `make demo`.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/internal/sidecartest"
)

const lock = "nightly-report"

func main() {
	baton := flag.String("baton", "bin/baton", "path of the baton binary")
	job := flag.String("job", "bin/batchjob", "path of the demo batch job")
	ttl := flag.Duration("lease-ttl", 3*time.Second, "lease TTL of the demo sidecars")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, *baton, *job, *ttl); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

type replica struct {
	sidecar *sidecartest.Sidecar
	job     *exec.Cmd
}

func run(ctx context.Context, baton, job string, ttl time.Duration) error {
	dir, err := os.MkdirTemp("", "baton-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	redis, err := redistest.Launch(ctx, dir)
	if err != nil {
		return err
	}
	defer redis.Stop()
	say("redis-server on %s (throwaway, no persistence)", redis.Addr())

	var out sync.Mutex
	replicas := map[string]*replica{}
	var sidecars []*sidecartest.Sidecar
	defer func() {
		for _, r := range replicas {
			_ = r.job.Process.Kill()
			_ = r.job.Wait()
			r.sidecar.Kill()
		}
	}()
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("replica-%d", i)
		s, err := sidecartest.Launch(baton, dir, id, redis.Addr(), lock,
			"--lease-ttl", ttl.String(), "--log-format", "text")
		if err != nil {
			return err
		}
		if err := s.WaitReady(ctx); err != nil {
			return fmt.Errorf("%w (log: %s/%s.log)", err, dir, id)
		}
		j := exec.Command(job, "--baton", s.APIURL)
		stdout, err := j.StdoutPipe()
		if err != nil {
			return err
		}
		if err := j.Start(); err != nil {
			return err
		}
		go prefix(stdout, "  [job "+id+"] ", &out)
		replicas[id] = &replica{sidecar: s, job: j}
		sidecars = append(sidecars, s)
	}
	say("3 sidecars up, lock %q, lease TTL %v; each job works only while its sidecar leads", lock, ttl)

	say("a Redis that has never seen the lock could also be one that lost its data while a leader still works: the first term waits one lease TTL")
	up := time.Now()
	leader, st, at, err := sidecartest.FirstLeader(ctx, sidecars)
	if err != nil {
		return err
	}
	say("leader: %s with fence %d, %.1f ms after the sidecars were up", leader.Identity, st.Fence, ms(at.Sub(up)))
	pause(ctx, 1500*time.Millisecond)

	// Graceful handover: SIGTERM makes the sidecar step down, release and
	// publish; a waiter wakes on the message.
	sidecars = remove(sidecars, leader)
	say("SIGTERM to %s (graceful handover)", leader.Identity)
	start := time.Now()
	if err := leader.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	next, st2, at, err := sidecartest.FirstLeader(ctx, sidecars)
	if err != nil {
		return err
	}
	say("handover: %s leads with fence %d, %.1f ms after the SIGTERM", next.Identity, st2.Fence, ms(at.Sub(start)))
	<-leader.Exited()
	say("%s exited with code %d", leader.Identity, leader.Cmd.ProcessState.ExitCode())
	stopJob(replicas[leader.Identity])
	pause(ctx, 1500*time.Millisecond)

	// Crash failover: no release message, so the waiter takes over when the
	// lease's TTL runs out.
	sidecars = remove(sidecars, next)
	say("kill -9 %s (crash: no release; the lease must expire first)", next.Identity)
	start = time.Now()
	replicas[next.Identity].sidecar.Kill()
	stopJob(replicas[next.Identity])
	last, st3, at, err := sidecartest.FirstLeader(ctx, sidecars)
	if err != nil {
		return err
	}
	took := at.Sub(start)
	say("failover: %s leads with fence %d, %.1f ms after the kill (lease TTL %v)", last.Identity, st3.Fence, ms(took), ttl)
	pause(ctx, 1500*time.Millisecond)

	say("fences grew %d → %d → %d", st.Fence, st2.Fence, st3.Fence)
	for _, r := range replicas {
		stopJob(r)
	}
	if err := runExec(ctx, baton, dir, redis, ttl); err != nil {
		return fmt.Errorf("exec mode: %w", err)
	}
	if err := runScheduled(ctx, baton, dir, redis); err != nil {
		return fmt.Errorf("schedule mode: %w", err)
	}
	say("cleaning up")
	return nil
}

// stopJob ends a job whose sidecar is gone, as its pod would end.
func stopJob(r *replica) {
	_ = r.job.Process.Signal(syscall.SIGTERM)
}

func remove(ss []*sidecartest.Sidecar, s *sidecartest.Sidecar) []*sidecartest.Sidecar {
	return slices.DeleteFunc(slices.Clone(ss), func(x *sidecartest.Sidecar) bool { return x == s })
}

func prefix(r io.Reader, p string, mu *sync.Mutex) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		mu.Lock()
		fmt.Println(p + sc.Text())
		mu.Unlock()
	}
}

func say(format string, args ...any) {
	fmt.Printf("%s demo: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
