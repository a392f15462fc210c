//go:build linux

package interop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/internal/sidecartest"
	"github.com/baton-dev/baton/pkg/kubelease"
	"github.com/baton-dev/baton/test/interop/internal/stamp"
)

// Faults that end a leadership.
const (
	faultTerm = "SIGTERM"
	faultKill = "SIGKILL"
	faultStop = "SIGSTOP"
)

var faults = []string{faultTerm, faultKill, faultStop}

// handover is one change of hands on a Lease.
type handover struct {
	from, to, fault string
	pred, succ      int   // pids of the intervals
	predStart       int64 // and their starts
	succStart       int64
	succFence       uint64        // the Lease's fence in the successor's term (after a client-go SIGSTOP)
	clobbered       bool          // a resumed client-go elector released baton's Lease
	extra           int           // then: the pid of baton's next job, in a term won again
	named           bool          // the new follower named the new holder
	gap             time.Duration // set by withGaps
}

// lane is one Lease, with one baton replica and one client-go elector.
type lane struct {
	n             int
	dir, lease    string
	batonID, cgID string
	log           *stampLog
	baton         *sidecartest.Sidecar
	cg            *clientGoProc
	stops         []sigstop
	handovers     []handover
	notes         []string
	closing       int64 // when close began: later leaderships are no handovers
	rng           *rand.Rand
	cs            kubernetes.Interface
}

func newLane(n int, dir string) *lane {
	return &lane{n: n, dir: dir, lease: fmt.Sprintf("interop-%d", n),
		batonID: fmt.Sprintf("baton-%d", n), cgID: fmt.Sprintf("clientgo-%d", n),
		log: newStampLog(filepath.Join(dir, "stamps")), rng: rand.New(rand.NewPCG(*seed, uint64(n))),
		cs: kubernetes.NewForConfigOrDie(restConfig)}
}

// run drives count handovers, alternating directions: the client-go
// elector leads first (it creates the Lease), baton follows.
func (l *lane) run(ctx context.Context, count int) error {
	if err := l.startClientGo(); err != nil {
		return err
	}
	if _, err := l.awaitStart(ctx, stamp.ClientGo, 0); err != nil {
		return err
	}
	if err := l.startBaton(); err != nil {
		return err
	}
	if !batonNames(ctx, l.baton, l.cgID) {
		return fmt.Errorf("lane %d: baton does not name %s", l.n, l.cgID)
	}
	leader := stamp.ClientGo
	for i := range count {
		h, err := l.handover(ctx, leader, faults[(i+l.n)%len(faults)])
		if err != nil {
			return fmt.Errorf("lane %d, handover %d: %w", l.n, i, err)
		}
		l.handovers = append(l.handovers, h)
		leader = h.to
	}
	return nil
}

func (l *lane) startClientGo() error {
	p, err := startClientGo(l.dir, l.lease, l.cgID, l.log.path)
	if err != nil {
		return err
	}
	l.log.watchDeath(p.cmd.Process.Pid)
	l.cg = p
	return nil
}

func (l *lane) startBaton() error {
	s, err := startBaton(l.dir, l.lease, l.batonID, l.log.path)
	if err != nil {
		return err
	}
	l.baton = s
	return nil
}

// awaitStart waits for the first interval of side begun after ns.
func (l *lane) awaitStart(ctx context.Context, side string, after int64) (*interval, error) {
	var got *interval
	if !until(ctx, func() bool {
		if ivs := l.log.started(side, after); len(ivs) > 0 {
			got = ivs[0]
			return true
		}
		return false
	}) {
		return nil, fmt.Errorf("no %s leadership began within %v", side, eventTimeout)
	}
	return got, nil
}

// handover ends the leadership of side from with fault, waits for the other
// side's, brings from back as a follower, and checks that it names the new
// holder.
func (l *lane) handover(ctx context.Context, from, fault string) (handover, error) {
	to, pid, holder := stamp.Baton, l.cg.cmd.Process.Pid, l.batonID
	if from == stamp.Baton {
		to, pid, holder = stamp.ClientGo, l.baton.PID(), l.cgID
	}
	cur := l.log.started(from, 0)
	if len(cur) == 0 {
		return handover{}, fmt.Errorf("no %s leadership to end", from)
	}
	pred := cur[len(cur)-1]
	h := handover{from: from, to: to, fault: fault, pred: pred.pid, predStart: pred.start}
	// At any moment of the holder's renewal cycle and of the wall clock's
	// second (client-go compares renewTime in whole seconds), not just
	// after its term began.
	time.Sleep(time.Duration(l.rng.Int64N(int64(time.Second))))
	sent := clocks.MonotonicNS()
	var stopped int64
	var err error
	switch fault {
	case faultTerm:
		err = syscall.Kill(pid, syscall.SIGTERM)
	case faultKill:
		err = syscall.Kill(pid, syscall.SIGKILL)
	case faultStop:
		stopped, err = stopProcess(ctx, pid)
	}
	frozen := []int{pid}
	if err == nil && fault == faultStop && from == stamp.Baton && *freeze {
		for _, d := range descendantsOf(pid) {
			if _, err = stopProcess(ctx, d); err != nil {
				break
			}
			frozen = append(frozen, d)
		}
	}
	if err != nil {
		return h, err
	}
	succ, err := l.awaitStart(ctx, to, sent)
	if err != nil {
		if fault == faultStop {
			for _, p := range frozen {
				_ = syscall.Kill(p, syscall.SIGCONT)
			}
		}
		return h, err
	}
	h.succ, h.succStart = succ.pid, succ.start
	if from == stamp.ClientGo && fault == faultStop {
		// The term that the stopped elector may clobber once resumed.
		if _, h.succFence, err = l.leaseState(ctx); err != nil {
			return h, err
		}
	}
	if fault == faultStop {
		// Stopped for longer than the lease, and at least until the other
		// side took over.
		if d := time.Duration(stopped + int64(leaseTTL+100*time.Millisecond) - clocks.MonotonicNS()); d > 0 {
			time.Sleep(d)
		}
		resumed := clocks.MonotonicNS()
		for _, p := range frozen {
			if err := syscall.Kill(p, syscall.SIGCONT); err != nil {
				return h, err
			}
			l.stops = append(l.stops, sigstop{pid: p, stopped: stopped, resumed: resumed})
		}
	}
	if err := l.recover(ctx, from, fault); err != nil {
		return h, err
	}
	if from == stamp.ClientGo && fault == faultStop {
		if err := l.settle(ctx, &h); err != nil {
			return h, err
		}
	}
	if from == stamp.ClientGo {
		if err := l.startClientGo(); err != nil {
			return h, err
		}
	}
	loser := l.cgID
	if from == stamp.Baton {
		loser, h.named = l.batonID, batonNames(ctx, l.baton, holder)
	} else {
		h.named = l.cg.named(ctx, holder)
	}
	if !h.named {
		l.notes = append(l.notes, fmt.Sprintf("%s did not name %s after a %s", loser, holder, fault))
	}
	return h, nil
}

// recover brings the side that lost back as a follower: a baton that was
// stopped resumes as one; any other is started again (a client-go elector
// whose Run returned exits).
func (l *lane) recover(ctx context.Context, from, fault string) error {
	if from == stamp.Baton {
		if fault == faultStop {
			return nil
		}
		select {
		case <-l.baton.Exited():
		case <-time.After(eventTimeout):
			return fmt.Errorf("baton did not exit after %s", fault)
		}
		return l.startBaton()
	}
	select {
	case <-l.cg.exited:
	case <-time.After(eventTimeout):
		return fmt.Errorf("client-go elector did not exit after %s", fault)
	}
	return nil // started again after settle
}

// settle waits, before a new client-go elector starts, until the Lease is
// baton's in a term whose job runs. A client-go elector resumed after its
// lease expired may release baton's Lease on its way out: its release()
// reads the Lease, which refreshes the resourceVersion it writes with, but
// asks IsLeader() of the record it observed before it was stopped when its
// last renewal attempt failed before reading. baton then loses its term at
// its next renewal and takes the Lease again; the new elector must not be
// there to take it first. Such a term is counted, as the handover's extra.
func (l *lane) settle(ctx context.Context, h *handover) error {
	var err error
	ok := until(ctx, func() bool {
		var holder string
		var fence uint64
		if holder, fence, err = l.leaseState(ctx); err != nil {
			return true
		}
		switch {
		case holder == "":
			h.clobbered = true
		case holder == l.batonID && fence != h.succFence:
			h.clobbered = true
			var iv *interval
			if iv, err = l.awaitStart(ctx, stamp.Baton, h.succStart); err == nil {
				h.extra = iv.pid
			}
			return true
		case holder == l.batonID && !h.clobbered:
			return true
		}
		return false
	})
	if err == nil && !ok {
		err = fmt.Errorf("the Lease is not baton's again after a client-go elector resumed")
	}
	return err
}

// leaseState reads the Lease's holder and baton's fence annotation.
func (l *lane) leaseState(ctx context.Context) (string, uint64, error) {
	got, err := l.cs.CoordinationV1().Leases("default").Get(ctx, l.lease, metav1.GetOptions{})
	if err != nil {
		return "", 0, err
	}
	var holder string
	if got.Spec.HolderIdentity != nil {
		holder = *got.Spec.HolderIdentity
	}
	fence, _ := strconv.ParseUint(got.Annotations[kubelease.FenceAnnotation], 10, 64)
	return holder, fence, nil
}

// close stops both sides gracefully (then kills), and waits until every
// interval has an end stamp or a recorded death.
func (l *lane) close() {
	l.closing = clocks.MonotonicNS()
	if l.cg != nil {
		_ = l.cg.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-l.cg.exited:
		case <-time.After(10 * time.Second):
			_ = l.cg.cmd.Process.Kill()
			<-l.cg.exited
		}
	}
	if l.baton != nil {
		l.baton.Stop(10 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	until(ctx, func() bool {
		ivs, deaths, _ := l.log.snapshot()
		for _, iv := range ivs {
			if _, dead := deaths[iv.pid]; iv.endStamp == 0 && !dead {
				return false
			}
		}
		return true
	})
}

// logs returns the tail of the lane's process logs, for a failure.
func (l *lane) logs() string {
	var out string
	for _, id := range []string{l.batonID, l.cgID} {
		b, _ := os.ReadFile(filepath.Join(l.dir, id+".log"))
		if len(b) > 8000 {
			b = b[len(b)-8000:]
		}
		out += fmt.Sprintf("--- %s (tail)\n%s\n", id, b)
	}
	return out
}
