package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// lockBody is the part of the sidecar's answer to POST /locks/{name} that
// the shop reads. It is a copy of the sidecar's own type, kept here so that
// the example needs only the standard library; lockbody_test.go checks
// that the copy matches.
type lockBody struct {
	Name    string `json:"name"`
	Token   string `json:"token"`
	Fence   uint64 `json:"fence"`
	LeaseMS int64  `json:"lease_ms"`
}

var (
	// errLockBusy: the wait ran out while another holder had the lock.
	errLockBusy = errors.New("shop: lock busy")
	// errLockLost: the release found the lock gone or taken over.
	errLockLost = errors.New("shop: lock lost before release")
)

// sidecar calls one baton sidecar's lock API.
type sidecar struct {
	base string
	// token is the API's bearer token (the sidecar's --api-token-file),
	// "" when it has none.
	token  string
	client *http.Client
}

func newSidecar(base, token string) *sidecar {
	return &sidecar{base: strings.TrimSuffix(base, "/"), token: token, client: &http.Client{
		// A web server has as many acquires in flight as requests in
		// flight; keep their connections for reuse.
		Transport: &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second},
	}}
}

// acquire takes lock name, waiting up to wait, with a lease of lease; fair
// queues in FIFO order. The lock is held until the lease runs out unless
// released first.
func (s *sidecar) acquire(ctx context.Context, name string, wait, lease time.Duration, fair bool) (lockBody, error) {
	q := url.Values{"wait": {wait.String()}, "lease": {lease.String()}}
	if fair {
		q.Set("fair", "true")
	}
	var lk lockBody
	status, body, err := s.call(ctx, http.MethodPost, "/locks/"+url.PathEscape(name)+"?"+q.Encode())
	switch {
	case err != nil:
		return lk, err
	case status == http.StatusConflict:
		return lk, fmt.Errorf("%w: %s", errLockBusy, body)
	case status != http.StatusOK:
		return lk, fmt.Errorf("shop: acquire %s: %d %s", name, status, body)
	}
	if err := json.Unmarshal(body, &lk); err != nil || lk.Token == "" || lk.Fence == 0 {
		return lk, fmt.Errorf("shop: acquire %s: unexpected answer %s", name, body)
	}
	return lk, nil
}

// release gives the lock back. It uses its own short deadline, so that a
// purchase whose client went away still releases.
func (s *sidecar) release(name, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status, body, err := s.call(ctx, http.MethodDelete, "/locks/"+url.PathEscape(name)+"?token="+url.QueryEscape(token))
	switch {
	case err != nil:
		return err
	case status == http.StatusConflict:
		return fmt.Errorf("%w: %s", errLockLost, body)
	case status != http.StatusOK:
		return fmt.Errorf("shop: release %s: %d %s", name, status, body)
	}
	return nil
}

func (s *sidecar) call(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("shop: sidecar: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, fmt.Errorf("shop: sidecar: %w", err)
	}
	return resp.StatusCode, []byte(strings.TrimSpace(string(body))), nil
}
