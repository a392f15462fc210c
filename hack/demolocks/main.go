package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/internal/sidecartest"
)

// config is one run's set-up; main documents each field as a flag.
type config struct {
	baton, shop string
	servers     int
	purchases   int
	stock       int64
	wait, lease time.Duration
	delay       time.Duration
	gap         time.Duration
	// out receives the narration; nil discards it.
	out io.Writer
	// keepDir keeps the processes' logs after a failed run.
	keepDir bool
	// noMonitor skips the arrival order from Redis's MONITOR.
	noMonitor bool
	// monitorLog writes the fair round's MONITOR lines beside the logs.
	monitorLog bool
}

func main() {
	c := config{out: os.Stdout, keepDir: true}
	flag.StringVar(&c.baton, "baton", "bin/baton", "path of the baton binary")
	flag.StringVar(&c.shop, "shop", "bin/shop", "path of the shop binary (examples/shop)")
	flag.IntVar(&c.servers, "servers", 3, "web servers, each with its own sidecar")
	flag.IntVar(&c.purchases, "purchases", 1000, "concurrent purchases per round")
	flag.Int64Var(&c.stock, "stock", 100, "the product's stock at the start of each round")
	flag.DurationVar(&c.wait, "wait", 30*time.Second, "how long a purchase waits for the lock")
	flag.DurationVar(&c.lease, "lease", 5*time.Second, "lease of each purchase's lock")
	flag.DurationVar(&c.delay, "delay", 2*time.Millisecond, "work between a purchase's read and write of the stock")
	flag.DurationVar(&c.gap, "order-gap", 50*time.Millisecond, "fair order: requests queued at least this far apart must be granted in order")
	flag.BoolVar(&c.noMonitor, "no-monitor", false, "do not watch Redis's MONITOR for the waiters' arrival order; the fair check then compares the grants with the order each web server sent its requests in (pairs at least --order-gap apart)")
	flag.BoolVar(&c.monitorLog, "monitor-log", false, "write the fair round's MONITOR output beside the logs (kept after a failed run)")
	flag.Parse()
	// Ctrl-C or SIGTERM ends the run through ctx, so that the deferred
	// clean-up still stops every process it started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	rep, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-locks failed:", err)
		os.Exit(1)
	}
	if fails := rep.failures(); len(fails) > 0 {
		fmt.Fprintf(os.Stderr, "demo-locks: FAIL (logs in %s):\n  %s\n", rep.dir, strings.Join(fails, "\n  "))
		os.Exit(1)
	}
	fmt.Println("demo-locks: PASS")
}

func (c config) validate() error {
	switch {
	case c.baton == "" || c.shop == "":
		return errors.New("--baton and --shop are required")
	case c.servers < 1 || c.servers > 10:
		return fmt.Errorf("--servers must lie between 1 and 10, got %d", c.servers)
	case c.purchases < 1 || c.purchases > 5000:
		return fmt.Errorf("--purchases must lie between 1 and 5000, got %d", c.purchases)
	case c.stock < 1 || c.stock > int64(c.purchases):
		return fmt.Errorf("--stock must lie between 1 and --purchases, got %d", c.stock)
	case c.wait < 0 || c.lease <= 0 || c.delay < 0 || c.gap < 0:
		return errors.New("--wait, --delay and --order-gap must not be negative, --lease must be positive")
	}
	return nil
}

// shop is the running scenario.
type shop struct {
	dir          string // the processes' logs
	redisAddr    string
	store, proxy *shopProc
	webs         []*shopProc
}

// run starts everything, runs the three rounds and returns their report.
// The error is for a set-up that failed; the checks' verdict is in the
// report.
func run(ctx context.Context, c config) (_ *report, err error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.out == nil {
		c.out = io.Discard
	}
	dir, err := os.MkdirTemp("", "baton-demo-locks-")
	if err != nil {
		return nil, err
	}
	rep := &report{dir: dir}
	defer func() {
		if c.keepDir && (err != nil || len(rep.failures()) > 0) {
			if err != nil {
				err = fmt.Errorf("%w (logs in %s)", err, dir)
			}
			return
		}
		_ = os.RemoveAll(dir)
	}()

	redis, err := redistest.Launch(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer redis.Stop()
	s := shop{dir: dir, redisAddr: redis.Addr()}
	var procs []*shopProc
	var sidecars []*sidecartest.Sidecar
	defer func() {
		for _, p := range procs {
			p.stop()
		}
		for _, sc := range sidecars {
			sc.Stop(5 * time.Second)
		}
	}()
	if s.store, err = startShop(ctx, c.shop, dir, "store", "store"); err != nil {
		return nil, err
	}
	procs = append(procs, s.store)
	var backends []string
	for i := 1; i <= c.servers; i++ {
		name := fmt.Sprintf("web-%d", i)
		// Every sidecar also runs its election (--lock); the shop uses
		// only its application locks.
		sc, err := sidecartest.Launch(c.baton, dir, "sidecar-"+name, redis.Addr(), "shop-election", "--log-format", "text")
		if err != nil {
			return nil, err
		}
		sidecars = append(sidecars, sc)
		if err := sc.WaitReady(ctx); err != nil {
			return nil, err
		}
		web, err := startShop(ctx, c.shop, dir, name, "web", "--name", name, "--baton", sc.APIURL, "--store", s.store.URL,
			"--wait", c.wait.String(), "--lease", c.lease.String(), "--delay", c.delay.String())
		if err != nil {
			return nil, err
		}
		procs = append(procs, web)
		s.webs = append(s.webs, web)
		backends = append(backends, web.URL)
	}
	if s.proxy, err = startShop(ctx, c.shop, dir, "proxy", "proxy", "--backends", strings.Join(backends, ",")); err != nil {
		return nil, err
	}
	procs = append(procs, s.proxy)
	if err := warmUp(ctx, sidecars); err != nil {
		return nil, err
	}
	say(c.out, "redis-server on %s (throwaway); store on %s; %d web servers, each with its own baton sidecar; round-robin proxy on %s",
		redis.Addr(), s.store.URL, c.servers, s.proxy.URL)
	say(c.out, "a purchase: lock stock-<product> through the server's sidecar (wait %v, lease %v), read the stock with the fence, %v of work, write stock-1 with the fence, release",
		c.wait, c.lease, c.delay)

	for _, r := range rounds {
		res, err := s.round(ctx, c, r)
		if err != nil {
			return nil, fmt.Errorf("round %q: %w", r.title, err)
		}
		rep.rounds = append(rep.rounds, res)
		res.print(c.out)
	}
	if rep.fence, err = s.fencing(ctx, c, sidecars); err != nil {
		return nil, fmt.Errorf("fencing: %w", err)
	}
	rep.fence.print(c.out)
	return rep, nil
}

// warmUp takes and releases a plain and a fair lock through every sidecar,
// so that Redis has the lock scripts cached before the rounds. Otherwise
// the first of a burst of tries can meet NOSCRIPT and run a moment after
// the EVALSHA that MONITOR shows (see arrivals).
func warmUp(ctx context.Context, sidecars []*sidecartest.Sidecar) error {
	for _, sc := range sidecars {
		for _, fair := range []string{"false", "true"} {
			var lk struct {
				Token string `json:"token"`
			}
			if err := call(ctx, http.MethodPost, sc.APIURL+"/locks/warm-up?wait=5s&lease=1s&fair="+fair, nil, &lk); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
			if err := call(ctx, http.MethodDelete, sc.APIURL+"/locks/warm-up?token="+url.QueryEscape(lk.Token), nil, nil); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	return nil
}

func say(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "%s demo-locks: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
