package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/internal/sidecartest"
)

// reportScript is an unmodified shell-script job: it knows nothing of
// baton but the fence in its environment, and stops on SIGTERM.
const reportScript = `echo "starting under fence $BATON_FENCE"
trap 'echo "SIGTERM: stopping after unit $i"; exit 0' TERM
i=0
while :; do i=$((i+1)); echo "unit $i"; sleep 0.5; done
`

// execReplica is one `baton run` process.
type execReplica struct {
	api *sidecartest.Sidecar // for its API only
	cmd *exec.Cmd
}

// runExec shows exec mode: three `baton run` replicas of one shell script;
// only the leader's copy runs, and it is handed over on SIGTERM and on
// kill -9.
func runExec(ctx context.Context, baton, dir string, redis *redistest.Process, ttl time.Duration) error {
	script := filepath.Join(dir, "report.sh")
	if err := os.WriteFile(script, []byte(reportScript), 0o755); err != nil {
		return err
	}
	var out sync.Mutex
	var replicas []*execReplica
	defer func() {
		for _, r := range replicas {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	}()
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("exec-%d", i)
		apiPort, err := redistest.FreeLoopbackPort()
		if err != nil {
			return err
		}
		probePort, err := redistest.FreeLoopbackPort()
		if err != nil {
			return err
		}
		logf, err := os.Create(filepath.Join(dir, id+".log"))
		if err != nil {
			return err
		}
		defer logf.Close()
		cmd := exec.Command(baton, "run", "--lock", "nightly-script", "--identity", id, "--redis-addr", redis.Addr(),
			"--api-addr", "127.0.0.1:"+strconv.Itoa(apiPort), "--probe-addr", "127.0.0.1:"+strconv.Itoa(probePort),
			"--lease-ttl", ttl.String(), "--kill-grace", "500ms", "--kube", "false", "--log-format", "text",
			"--", "sh", script)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		cmd.Stderr = logf
		if err := cmd.Start(); err != nil {
			return err
		}
		go prefix(stdout, "  [report.sh under "+id+"] ", &out)
		r := &execReplica{api: &sidecartest.Sidecar{Identity: id, APIURL: "http://127.0.0.1:" + strconv.Itoa(apiPort)}, cmd: cmd}
		replicas = append(replicas, r)
	}
	say("exec mode: 3 replicas of `baton run -- sh report.sh`, an unmodified script; only the leader's copy runs")
	apis := func(rs []*execReplica) []*sidecartest.Sidecar {
		var ss []*sidecartest.Sidecar
		for _, r := range rs {
			ss = append(ss, r.api)
		}
		return ss
	}
	byAPI := func(s *sidecartest.Sidecar) int {
		for i, r := range replicas {
			if r.api == s {
				return i
			}
		}
		return -1
	}
	live := replicas
	drop := func(i int) []*execReplica {
		var rs []*execReplica
		for _, r := range live {
			if r != replicas[i] {
				rs = append(rs, r)
			}
		}
		return rs
	}

	up := time.Now()
	leader, st, at, err := sidecartest.FirstLeader(ctx, apis(live))
	if err != nil {
		return err
	}
	say("leader: %s with fence %d, %.1f ms after the start (a new lock: the first term waits one lease TTL)", leader.Identity, st.Fence, ms(at.Sub(up)))
	pause(ctx, 1600*time.Millisecond)

	i := byAPI(leader)
	live = drop(i)
	say("SIGTERM to %s: its script gets SIGTERM, then baton releases", leader.Identity)
	start := time.Now()
	_ = replicas[i].cmd.Process.Signal(syscall.SIGTERM)
	next, st2, at, err := sidecartest.FirstLeader(ctx, apis(live))
	if err != nil {
		return err
	}
	_ = replicas[i].cmd.Wait()
	say("handover: %s leads with fence %d, %.1f ms after the SIGTERM; %s exited with its script's status %d",
		next.Identity, st2.Fence, ms(at.Sub(start)), leader.Identity, replicas[i].cmd.ProcessState.ExitCode())
	pause(ctx, 1600*time.Millisecond)

	j := byAPI(next)
	live = drop(j)
	say("kill -9 %s: the kernel kills its script (PR_SET_PDEATHSIG); the lease must expire first", next.Identity)
	start = time.Now()
	_ = replicas[j].cmd.Process.Kill()
	_ = replicas[j].cmd.Wait()
	last, st3, at, err := sidecartest.FirstLeader(ctx, apis(live))
	if err != nil {
		return err
	}
	say("failover: %s leads with fence %d, %.1f ms after the kill (lease TTL %v)", last.Identity, st3.Fence, ms(at.Sub(start)), ttl)
	pause(ctx, 1100*time.Millisecond)
	say("exec mode: one copy of the script at a time; fences %d → %d → %d", st.Fence, st2.Fence, st3.Fence)
	return nil
}
