package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// The web server's API:
//
//	POST /buy[?product=P][&lock=sidecar|none][&fair=true|false]   buy one
//	GET  /order?product=P[&gap=50ms][&detail=true]                queue order versus grant order
//
// POST /buy answers 200 with outcome "sold", 409 with "sold_out" or
// "stale_fence", 503 with "lock_busy" (the wait ran out) and 502 with
// "error" (the sidecar or the store failed).

// webConfig is a web server's configuration; webMain documents each field
// as a flag.
type webConfig struct {
	name, baton, batonToken, store, product string
	wait, lease, delay                      time.Duration
	unlocked, fair                          bool
}

func webMain(args []string) (http.Handler, string, error) {
	fs := flag.NewFlagSet("shop web", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0: a free port)")
	var c webConfig
	host, _ := os.Hostname()
	fs.StringVar(&c.name, "name", host, "this server's name in answers and reports (default: the host name)")
	fs.StringVar(&c.baton, "baton", "http://127.0.0.1:4040", "base URL of this server's baton sidecar")
	tokenFile := fs.String("baton-token-file", "", "file holding the sidecar API's bearer token (its --api-token-file; default: none)")
	fs.StringVar(&c.store, "store", "", "base URL of the store (required)")
	fs.StringVar(&c.product, "product", "widget", "product that POST /buy buys when the request names none")
	fs.DurationVar(&c.wait, "wait", 30*time.Second, "how long a purchase waits for the product's lock")
	fs.DurationVar(&c.lease, "lease", 5*time.Second, "lease of the product's lock: a purchase that dies holding it blocks the product this long")
	fs.DurationVar(&c.delay, "delay", 2*time.Millisecond, "work between reading and writing the stock (makes races visible without the lock)")
	lock := fs.String("lock", "sidecar", "default of ?lock=: sidecar (take the product's lock) or none")
	fs.BoolVar(&c.fair, "fair", false, "default of ?fair=: take the lock in FIFO order")
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	var err error
	if c.unlocked, err = parseLockMode(*lock); err != nil {
		return nil, "", fmt.Errorf("--lock: %w", err)
	}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return nil, "", fmt.Errorf("--baton-token-file: %w", err)
		}
		if c.batonToken = strings.TrimSpace(string(b)); c.batonToken == "" {
			return nil, "", fmt.Errorf("--baton-token-file: %s is empty", *tokenFile)
		}
	}
	switch {
	case c.store == "":
		return nil, "", errors.New("--store is required")
	case c.name == "":
		return nil, "", errors.New("--name must not be empty")
	case !validProductName(c.product):
		return nil, "", fmt.Errorf("--product: %w", errBadProductName)
	case c.wait < 0 || c.lease <= 0 || c.delay < 0:
		return nil, "", errors.New("--wait and --delay must not be negative, --lease must be positive")
	}
	return newWeb(c).handler(), *addr, nil
}

func parseLockMode(s string) (unlocked bool, err error) {
	switch s {
	case "sidecar":
		return false, nil
	case "none":
		return true, nil
	}
	return false, fmt.Errorf("%q is neither sidecar nor none", s)
}

// web is one web server.
type web struct {
	c       webConfig
	sidecar *sidecar
	store   *storeClient
	order   *orderLog
}

func newWeb(c webConfig) *web {
	return &web{c: c, sidecar: newSidecar(c.baton, c.batonToken), store: newStoreClient(c.store), order: newOrderLog()}
}

// buyBody is the answer to POST /buy.
type buyBody struct {
	Outcome string `json:"outcome"`
	Server  string `json:"server"`
	// Stock is the stock after the sale, or the stock seen.
	Stock int64  `json:"stock"`
	Fence uint64 `json:"fence,omitempty"`
	Error string `json:"error,omitempty"`
	// ReleaseError is set when the sale went through but the release did
	// not (the lock had been lost, or the sidecar failed).
	ReleaseError string `json:"release_error,omitempty"`
}

// Outcomes of POST /buy.
const (
	outcomeSold       = "sold"
	outcomeSoldOut    = "sold_out"
	outcomeLockBusy   = "lock_busy"
	outcomeStaleFence = "stale_fence"
	outcomeError      = "error"
)

var outcomeStatus = map[string]int{
	outcomeSold:       http.StatusOK,
	outcomeSoldOut:    http.StatusConflict,
	outcomeStaleFence: http.StatusConflict,
	outcomeLockBusy:   http.StatusServiceUnavailable,
	outcomeError:      http.StatusBadGateway,
}

// lockName is the name of product's lock in the sidecar.
func lockName(product string) string { return "stock-" + product }

func (s *web) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /buy", s.buy)
	mux.HandleFunc("GET /order", s.orderReport)
	return mux
}

func (s *web) buy(w http.ResponseWriter, r *http.Request) {
	product, unlocked, fair, err := s.buyParams(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	var b buyBody
	if unlocked {
		b = s.sell(r.Context(), product, 0)
	} else {
		b = s.buyLocked(r.Context(), product, fair)
	}
	b.Server = s.c.name
	writeJSON(w, outcomeStatus[b.Outcome], b)
}

func (s *web) buyParams(q url.Values) (product string, unlocked, fair bool, err error) {
	product, unlocked, fair = s.c.product, s.c.unlocked, s.c.fair
	for k, v := range q {
		if len(v) != 1 {
			return "", false, false, fmt.Errorf("%s: given %d times", k, len(v))
		}
		switch k {
		case "product":
			if product = v[0]; !validProductName(product) {
				return "", false, false, fmt.Errorf("product: %w", errBadProductName)
			}
		case "lock":
			if unlocked, err = parseLockMode(v[0]); err != nil {
				return "", false, false, fmt.Errorf("lock: %w", err)
			}
		case "fair":
			switch v[0] {
			case "true":
				fair = true
			case "false":
				fair = false
			default:
				return "", false, false, fmt.Errorf("fair: %q is neither true nor false", v[0])
			}
		default:
			return "", false, false, fmt.Errorf("unknown query parameter %q", k)
		}
	}
	return product, unlocked, fair, nil
}

// buyLocked sells one under the product's lock.
func (s *web) buyLocked(ctx context.Context, product string, fair bool) buyBody {
	name := lockName(product)
	t := s.order.queue(name)
	lk, err := s.sidecar.acquire(ctx, name, s.c.wait, s.c.lease, fair)
	switch {
	case errors.Is(err, errLockBusy):
		return buyBody{Outcome: outcomeLockBusy, Error: err.Error()}
	case err != nil:
		return buyBody{Outcome: outcomeError, Error: err.Error()}
	}
	s.order.grant(t, lk.Fence, lk.Token)
	// The critical section runs to its end even if the buyer hangs up: a
	// purchase is never left half done by a closed connection.
	b := s.sell(context.WithoutCancel(ctx), product, lk.Fence)
	if err := s.sidecar.release(name, lk.Token); err != nil {
		b.ReleaseError = err.Error()
		fmt.Fprintf(os.Stderr, "shop web %s: release %s (fence %d): %v\n", s.c.name, name, lk.Fence, err)
	}
	return b
}

// sell is the read-modify-write of one purchase; fence 0 means no lock.
func (s *web) sell(ctx context.Context, product string, fence uint64) buyBody {
	p, err := s.store.read(ctx, product, fence)
	if err != nil {
		return storeFailure(err, fence)
	}
	if p.Stock <= 0 {
		return buyBody{Outcome: outcomeSoldOut, Stock: p.Stock, Fence: fence}
	}
	if s.c.delay > 0 {
		timer := time.NewTimer(s.c.delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return buyBody{Outcome: outcomeError, Error: ctx.Err().Error(), Fence: fence}
		}
	}
	p, err = s.store.write(ctx, product, p.Stock-1, fence)
	if err != nil {
		return storeFailure(err, fence)
	}
	return buyBody{Outcome: outcomeSold, Stock: p.Stock, Fence: fence}
}

func storeFailure(err error, fence uint64) buyBody {
	if errors.Is(err, errStaleFence) {
		return buyBody{Outcome: outcomeStaleFence, Error: err.Error(), Fence: fence}
	}
	return buyBody{Outcome: outcomeError, Error: err.Error(), Fence: fence}
}

func (s *web) orderReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	product := q.Get("product")
	if product == "" {
		product = s.c.product
	}
	gap := 50 * time.Millisecond
	if g := q.Get("gap"); g != "" {
		var err error
		if gap, err = time.ParseDuration(g); err != nil || gap < 0 {
			writeError(w, http.StatusBadRequest, "gap: %q is not a non-negative duration", g)
			return
		}
	}
	detail := q.Get("detail") == "true"
	rep := s.order.report(lockName(product), gap, detail)
	rep.Server = s.c.name
	writeJSON(w, http.StatusOK, rep)
}
