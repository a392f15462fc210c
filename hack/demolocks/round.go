package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// roundSpec is one round of purchases.
type roundSpec struct {
	title   string
	product string // a product of its own, so rounds share no fence mark
	query   string // POST /buy's mode parameters
	locked  bool   // under a lock: the checks apply
	fair    bool   // FIFO: the order check applies
}

var rounds = []roundSpec{
	{title: "with the lock", product: "widget-locked", query: "lock=sidecar&fair=false", locked: true},
	{title: "without the lock", product: "widget-unlocked", query: "lock=none"},
	{title: "fair lock (FIFO)", product: "widget-fair", query: "lock=sidecar&fair=true", locked: true, fair: true},
}

// The shop's JSON bodies, as far as the driver reads them (examples/shop
// is a program of its own, so they are copied; the end-to-end test would
// see a mismatch as zero counts).
type product struct {
	Name     string `json:"name"`
	Stock    int64  `json:"stock"`
	Fence    uint64 `json:"fence"`
	Writes   int64  `json:"writes"`
	Rejected int64  `json:"rejected"`
}

type buyAnswer struct {
	Outcome      string `json:"outcome"`
	Server       string `json:"server"`
	Stock        int64  `json:"stock"`
	Fence        uint64 `json:"fence"`
	Error        string `json:"error"`
	ReleaseError string `json:"release_error"`
}

type order struct {
	Lock          string `json:"lock"`
	Server        string `json:"server"`
	Queued        int    `json:"queued"`
	Granted       int    `json:"granted"`
	Gap           string `json:"gap"`
	Pairs         int    `json:"pairs"`
	Violations    int    `json:"violations"`
	Close         int    `json:"close"`
	CloseInverted int    `json:"close_inverted"`
	Tickets       []struct {
		QueuedMS float64 `json:"queued_ms"`
		Fence    uint64  `json:"fence"`
		Token    string  `json:"token"`
	} `json:"tickets"`
}

// failedCall is the outcome recorded for a purchase whose HTTP call failed
// or whose answer could not be read.
const failedCall = "failed_call"

// roundResult is what one round showed.
type roundResult struct {
	spec      roundSpec
	purchases int
	stock0    int64
	elapsed   time.Duration
	outcomes  map[string]int
	// releaseErrors counts sales whose release failed.
	releaseErrors int
	// firstError is one failed purchase's error, for the report.
	firstError string
	final      product
	orders     []order
	// arrival compares each server's grants (and, last, all of them)
	// with the order in which the waiters arrived in Redis.
	arrival []arrivalOrder
	// requeued counts fair waiters whose queue entry was dropped as dead
	// (not refreshed within 3 heartbeats) and who queued again.
	requeued int
}

func (r *roundResult) sold() int { return r.outcomes["sold"] }

// unseen is the number of sales the stock never saw: each sale should take
// one off it.
func (r *roundResult) unseen() int64 { return int64(r.sold()) - (r.stock0 - r.final.Stock) }

// failures lists the round's failed checks; only locked rounds have any.
func (r *roundResult) failures() []string {
	if !r.spec.locked {
		return nil
	}
	var f []string
	fail := func(format string, args ...any) { f = append(f, r.spec.title+": "+fmt.Sprintf(format, args...)) }
	if r.sold() != int(r.stock0) {
		fail("%d sold, want exactly %d", r.sold(), r.stock0)
	}
	if r.final.Stock != 0 {
		fail("the stock ends at %d, want 0", r.final.Stock)
	}
	if u := r.unseen(); u != 0 {
		fail("%d sales the stock never saw (oversold)", u)
	}
	if n := r.outcomes["error"] + r.outcomes[failedCall]; n > 0 {
		fail("%d purchases failed (e.g. %s)", n, r.firstError)
	}
	if r.spec.fair {
		granted := 0
		for _, o := range r.orders {
			granted += o.Granted
		}
		if granted != r.purchases-r.outcomes["lock_busy"]-r.outcomes[failedCall] {
			fail("the web servers recorded %d grants for %d purchases", granted, r.purchases)
		}
		for _, a := range r.arrival {
			if a.violations > 0 || a.unseen > 0 {
				fail("%s: %d grants out of arrival order (%d tokens not seen in Redis), want 0", a.server, a.violations, a.unseen)
			}
		}
		if len(r.arrival) == 0 { // --no-monitor: only the servers' send order
			for _, o := range r.orders {
				if o.Violations > 0 {
					fail("%s: %d grants out of the order it sent them in (pairs ≥%s apart), want 0", o.Server, o.Violations, o.Gap)
				}
			}
		}
	}
	return f
}

func (r *roundResult) print(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-17s %d purchases at a stock of %d in %.2fs: %d sold, %d sold out", r.spec.title,
		r.purchases, r.stock0, r.elapsed.Seconds(), r.sold(), r.outcomes["sold_out"])
	if r.spec.locked {
		fmt.Fprintf(&b, ", %d lock busy, %d stale fence, %d errors", r.outcomes["lock_busy"], r.outcomes["stale_fence"],
			r.outcomes["error"]+r.outcomes[failedCall])
	}
	fmt.Fprintf(&b, "; stock %d → %d in %d writes", r.stock0, r.final.Stock, r.final.Writes)
	if r.spec.locked {
		fmt.Fprintf(&b, ", oversold %d, stale-fence rejections %d", max(r.unseen(), 0), r.final.Rejected)
		if fails := r.failures(); len(fails) > 0 {
			fmt.Fprintf(&b, ": FAIL\n    %s", strings.Join(fails, "\n    "))
		} else {
			b.WriteString(": PASS")
		}
	} else {
		fmt.Fprintf(&b, ": %d sales the stock never saw (lost updates), oversold by %d", r.unseen(), max(int64(r.sold())-r.stock0, 0))
	}
	if r.releaseErrors > 0 {
		fmt.Fprintf(&b, "\n    %d releases failed", r.releaseErrors)
	}
	if r.spec.locked {
		if r.spec.fair && len(r.arrival) > 0 {
			fmt.Fprintf(&b, "\n    grant order against arrival order in Redis (the FIFO promise; %d waiters were dropped as dead and queued again):", r.requeued)
		}
		for _, a := range r.arrival {
			fmt.Fprintf(&b, "\n      %-11s %4d granted, %d order violations in %d pairs", a.server+":", a.granted, a.violations, a.pairs)
			if a.unseen > 0 {
				fmt.Fprintf(&b, ", %d tokens not seen in Redis", a.unseen)
			}
		}
		label := "grant order against the order each web server sent its requests in (pairs sent ≥%s apart; closer ones can reach Redis in either order)"
		if !r.spec.fair {
			label += "; informational: plain waiters race at each release"
		}
		fmt.Fprintf(&b, "\n    "+label+":", r.orders[0].Gap)
		for _, o := range r.orders {
			fmt.Fprintf(&b, "\n      %-11s %d violations in %d pairs (closer pairs: %d, %d inverted)",
				o.Server+":", o.Violations, o.Pairs, o.Close, o.CloseInverted)
		}
	}
	say(w, "%s", b.String())
}

// round restocks the round's product, fires the purchases at once through
// the proxy and collects what the store and the web servers saw.
func (s *shop) round(ctx context.Context, c config, spec roundSpec) (*roundResult, error) {
	res := &roundResult{spec: spec, purchases: c.purchases, stock0: c.stock, outcomes: map[string]int{}}
	body, _ := json.Marshal(map[string]int64{"stock": c.stock})
	if err := call(ctx, http.MethodPut, s.store.URL+"/products/"+spec.product, body, nil); err != nil {
		return nil, err
	}
	client := &http.Client{
		Timeout:   c.wait + time.Minute,
		Transport: &http.Transport{MaxIdleConns: c.purchases, MaxIdleConnsPerHost: c.purchases},
	}
	defer client.CloseIdleConnections()
	buyURL := s.proxy.URL + "/buy?product=" + url.QueryEscape(spec.product) + "&" + spec.query
	answers := make([]buyAnswer, c.purchases)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			<-start
			answers[i] = buy(ctx, client, buyURL)
		})
	}
	var arr *arrivals
	if spec.fair && !c.noMonitor {
		var dump io.Writer
		if c.monitorLog {
			f, err := os.Create(filepath.Join(s.dir, "monitor-"+spec.product+".log"))
			if err != nil {
				return nil, err
			}
			defer f.Close()
			w := bufio.NewWriterSize(f, 1<<20)
			defer w.Flush()
			dump = w
		}
		var err error
		if arr, err = watchArrivals(ctx, s.redisAddr, dump); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	res.elapsed = time.Since(t0)
	var first map[string]int
	if arr != nil {
		var err error
		if first, res.requeued, err = arr.stop(); err != nil {
			return nil, fmt.Errorf("MONITOR: %w", err)
		}
	}
	for _, a := range answers {
		res.outcomes[a.Outcome]++
		if a.ReleaseError != "" {
			res.releaseErrors++
		}
		if a.Error != "" && a.Outcome != "lock_busy" && res.firstError == "" {
			res.firstError = a.Error
		}
	}
	if err := call(ctx, http.MethodGet, s.store.URL+"/products/"+spec.product, nil, &res.final); err != nil {
		return nil, err
	}
	if spec.locked {
		for _, web := range s.webs {
			var raw json.RawMessage
			q := url.Values{"product": {spec.product}, "gap": {c.gap.String()}, "detail": {"true"}}
			if err := call(ctx, http.MethodGet, web.URL+"/order?"+q.Encode(), nil, &raw); err != nil {
				return nil, err
			}
			var o order
			if err := json.Unmarshal(raw, &o); err != nil {
				return nil, err
			}
			res.orders = append(res.orders, o)
			// Keep every request's times and token beside the logs.
			_ = os.WriteFile(filepath.Join(s.dir, "order-"+o.Server+"-"+spec.product+".json"), raw, 0o644)
			if first != nil {
				res.arrival = append(res.arrival, compareArrival(o.Server, o, first))
			}
		}
		if first != nil {
			res.arrival = append(res.arrival, compareArrival("all", allOrders(res.orders), first))
			b, _ := json.Marshal(first)
			_ = os.WriteFile(filepath.Join(s.dir, "arrivals-"+spec.product+".json"), b, 0o644)
		}
	}
	return res, nil
}

// buy makes one purchase; a failed call is recorded as outcome failedCall.
func buy(ctx context.Context, client *http.Client, url string) buyAnswer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return buyAnswer{Outcome: failedCall, Error: err.Error()}
	}
	resp, err := client.Do(req)
	if err != nil {
		return buyAnswer{Outcome: failedCall, Error: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	var a buyAnswer
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	if err != nil || a.Outcome == "" {
		return buyAnswer{Outcome: failedCall, Error: fmt.Sprintf("%d %s (%v)", resp.StatusCode, bytes.TrimSpace(b), err)}
	}
	return a
}

// call makes one request to the shop and decodes a 200's body into out
// (when not nil).
func call(ctx context.Context, method, url string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
