// Command clientgo is an unmodified client-go leader elector
// (tools/leaderelection on a resourcelock.LeaseLock) for the interop test:
// while it leads it works like a job, stamping its start, a beat every
// -beat and its end to -stamps; it prints "newleader <ns> <identity>" for
// each OnNewLeader and "stopped <ns>" at OnStoppedLeading on stdout.
//
// SIGTERM stops the work first and then cancels the elector, which releases
// the Lease (ReleaseOnCancel): client-go releases as soon as its context
// ends, without waiting for OnStartedLeading, so a correct program must
// stop its work before it cancels. It exits 0 then, and 3 when it lost the
// leadership otherwise (Run returns then; a new elector would campaign).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/test/interop/internal/stamp"
)

func main() {
	var (
		kubeconfig = flag.String("kubeconfig", "", "kubeconfig file (required)")
		namespace  = flag.String("namespace", "default", "namespace of the Lease")
		name       = flag.String("name", "", "name of the Lease (required)")
		identity   = flag.String("identity", "", "this elector's identity (required)")
		stamps     = flag.String("stamps", "", "stamp file (required)")
		duration   = flag.Duration("lease-duration", 2*time.Second, "LeaseDuration")
		deadline   = flag.Duration("renew-deadline", time.Second, "RenewDeadline")
		retry      = flag.Duration("retry-period", 250*time.Millisecond, "RetryPeriod")
		beat       = flag.Duration("beat", 20*time.Millisecond, "time between beats while leading")
	)
	flag.Parse()
	if *kubeconfig == "" || *name == "" || *identity == "" || *stamps == "" || *beat <= 0 {
		fmt.Fprintln(os.Stderr, "clientgo: -kubeconfig, -name, -identity and -stamps are required, and -beat must be positive")
		os.Exit(2)
	}
	os.Exit(run(*kubeconfig, *namespace, *name, *identity, *stamps, *duration, *deadline, *retry, *beat))
}

func run(kubeconfig, namespace, name, identity, stamps string, duration, deadline, retry, beat time.Duration) int {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clientgo:", err)
		return 2
	}
	w, err := stamp.Open(stamps, stamp.ClientGo, identity)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clientgo:", err)
		return 2
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name},
		Client:     kubernetes.NewForConfigOrDie(cfg).CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	wk := &work{w: w, beat: beat, stop: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var terminated atomic.Bool
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		terminated.Store(true)
		wk.halt()
		cancel()
	}()
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   duration,
		RenewDeadline:   deadline,
		RetryPeriod:     retry,
		ReleaseOnCancel: true,
		Name:            name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: wk.run,
			OnStoppedLeading: func() { fmt.Printf("stopped %d\n", clocks.MonotonicNS()) },
			OnNewLeader:      func(id string) { fmt.Printf("newleader %d %s\n", clocks.MonotonicNS(), id) },
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "clientgo:", err)
		return 2
	}
	le.Run(ctx)
	// Run returns after the release; the work may still be on its way out
	// when the leadership was lost (client-go does not wait for it).
	wk.halt()
	if terminated.Load() {
		return 0
	}
	return 3
}

// work is what the elector guards: stamps while leading.
type work struct {
	w    *stamp.Writer
	beat time.Duration

	mu       sync.Mutex
	stopping bool
	stop     chan struct{}
	running  chan struct{} // closed when the running work has stamped its end
}

// run is OnStartedLeading: it works until ctx ends or halt is called.
func (k *work) run(ctx context.Context) {
	k.mu.Lock()
	if k.stopping {
		k.mu.Unlock()
		return
	}
	done := make(chan struct{})
	k.running = done
	k.mu.Unlock()
	defer close(done)
	_ = k.w.Stamp(stamp.Start)
	tick := time.NewTicker(k.beat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = k.w.Stamp(stamp.End)
			return
		case <-k.stop:
			_ = k.w.Stamp(stamp.End)
			return
		case <-tick.C:
			_ = k.w.Stamp(stamp.Beat)
		}
	}
}

// halt stops the work, if any, and waits for its end stamp.
func (k *work) halt() {
	k.mu.Lock()
	if !k.stopping {
		k.stopping = true
		close(k.stop)
	}
	done := k.running
	k.mu.Unlock()
	if done != nil {
		<-done
	}
}
