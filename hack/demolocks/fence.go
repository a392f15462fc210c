package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/baton-dev/baton/internal/sidecartest"
)

// staleLease is the lease of the fencing scene's first holder: short, so
// that it runs out while the holder is "paused".
const staleLease = 200 * time.Millisecond

// fenceResult is the fencing scene: a holder whose lease ran out writes
// after a newer holder has read, and the store must refuse it.
type fenceResult struct {
	staleFence, newFence uint64
	// The statuses of the store's answers to the two holders' writes, and
	// of the sidecar's to the stale holder's release.
	staleWrite, newWrite, staleRelease int
	rejected                           int64
}

func (r *fenceResult) failures() []string {
	var f []string
	if r.newFence <= r.staleFence {
		f = append(f, fmt.Sprintf("fencing: the new holder's fence %d is not above the old one's %d", r.newFence, r.staleFence))
	}
	if r.staleWrite != http.StatusConflict || r.rejected != 1 {
		f = append(f, fmt.Sprintf("fencing: the store answered %d to the write of a holder whose lease had run out (%d rejections), want 409 and 1", r.staleWrite, r.rejected))
	}
	if r.newWrite != http.StatusOK {
		f = append(f, fmt.Sprintf("fencing: the store answered %d to the new holder's write, want 200", r.newWrite))
	}
	return f
}

func (r *fenceResult) print(w io.Writer) {
	verdict := "PASS"
	if len(r.failures()) > 0 {
		verdict = "FAIL"
	}
	say(w, "fencing: holder 1 takes the lock (fence %d, lease %v) and reads the stock, then stalls past its lease; holder 2 takes it (fence %d) and reads; "+
		"holder 1's late write gets %d from the store, holder 2's %d; holder 1's release gets %d from its sidecar; stale-fence rejections %d: %s",
		r.staleFence, staleLease, r.newFence, r.staleWrite, r.newWrite, r.staleRelease, r.rejected, verdict)
}

// fencing plays the fencing scene on the product widget-fenced, with holder 1
// on the first sidecar and holder 2 on the last.
func (s *shop) fencing(ctx context.Context, c config, sidecars []*sidecartest.Sidecar) (*fenceResult, error) {
	const item = "widget-fenced"
	name := "stock-" + item
	body, _ := json.Marshal(map[string]int64{"stock": c.stock})
	if err := call(ctx, http.MethodPut, s.store.URL+"/products/"+item, body, nil); err != nil {
		return nil, err
	}
	one, two := sidecars[0], sidecars[len(sidecars)-1]
	var r fenceResult
	stale, err := acquire(ctx, one, name, staleLease)
	if err != nil {
		return nil, err
	}
	r.staleFence = stale.Fence
	var p product
	if err := call(ctx, http.MethodGet, fmt.Sprintf("%s/products/%s?fence=%d", s.store.URL, item, stale.Fence), nil, &p); err != nil {
		return nil, err
	}
	// Holder 1 "pauses" (a GC pause, a stalled VM) until its lease is gone.
	if err := waitFree(ctx, one, name); err != nil {
		return nil, err
	}
	fresh, err := acquire(ctx, two, name, c.lease)
	if err != nil {
		return nil, err
	}
	r.newFence = fresh.Fence
	var p2 product
	if err := call(ctx, http.MethodGet, fmt.Sprintf("%s/products/%s?fence=%d", s.store.URL, item, fresh.Fence), nil, &p2); err != nil {
		return nil, err
	}
	if r.staleWrite, err = writeStock(ctx, s.store.URL, item, p.Stock-1, stale.Fence); err != nil {
		return nil, err
	}
	if r.newWrite, err = writeStock(ctx, s.store.URL, item, p2.Stock-1, fresh.Fence); err != nil {
		return nil, err
	}
	if err := call(ctx, http.MethodDelete, two.APIURL+"/locks/"+name+"?token="+url.QueryEscape(fresh.Token), nil, nil); err != nil {
		return nil, err
	}
	if r.staleRelease, err = status(ctx, http.MethodDelete, one.APIURL+"/locks/"+name+"?token="+url.QueryEscape(stale.Token), nil); err != nil {
		return nil, err
	}
	var final product
	if err := call(ctx, http.MethodGet, s.store.URL+"/products/"+item, nil, &final); err != nil {
		return nil, err
	}
	r.rejected = final.Rejected
	return &r, nil
}

type lockAnswer struct {
	Token string `json:"token"`
	Fence uint64 `json:"fence"`
}

func acquire(ctx context.Context, sc *sidecartest.Sidecar, name string, lease time.Duration) (lockAnswer, error) {
	var lk lockAnswer
	err := call(ctx, http.MethodPost, fmt.Sprintf("%s/locks/%s?wait=5s&lease=%s", sc.APIURL, name, lease), nil, &lk)
	return lk, err
}

// waitFree polls GET /locks/{name} until the lock is free (the scene's
// lease is 200ms; this is the demo waiting for a fact, not a test racing).
func waitFree(ctx context.Context, sc *sidecartest.Sidecar, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		var info struct {
			Held bool `json:"held"`
		}
		if err := call(ctx, http.MethodGet, sc.APIURL+"/locks/"+name, nil, &info); err != nil {
			return err
		}
		if !info.Held {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lock %s still held: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// writeStock is a store write under fence; it returns the store's status.
func writeStock(ctx context.Context, store, product string, stock int64, fence uint64) (int, error) {
	body, _ := json.Marshal(map[string]any{"stock": stock, "fence": fence})
	return status(ctx, http.MethodPut, store+"/products/"+product+"/stock", body)
}

// status makes a request and returns only its status code.
func status(ctx context.Context, method, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
