//go:build linux

package harness

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"
)

// startEtcd runs Debian's etcd on loopback, its data under Dir/etcd.
func (c *Cluster) startEtcd(ctx context.Context) error {
	client, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	peer, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	clientURL := "http://" + hostPort("127.0.0.1", client)
	peerURL := "http://" + hostPort("127.0.0.1", peer)
	p, err := c.startProc("etcd", c.bin("etcd"), []string{
		"--name", "e2e",
		"--data-dir", filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "e2e=" + peerURL,
		"--logger", "zap", "--log-level", "warn",
	}, nil)
	if err != nil {
		return err
	}
	c.etcdURL = clientURL
	return waitFor(ctx, 20*time.Second, p, func() error {
		resp, err := http.Get(clientURL + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("etcd health: %s", resp.Status)
		}
		return nil
	})
}

// waitFor polls check until it succeeds, the process exits, or timeout.
func waitFor(ctx context.Context, timeout time.Duration, p *Proc, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		if p != nil && p.Exited() {
			return fmt.Errorf("harness: %s exited: %v\n%s", p.Name, p.err, p.Tail())
		}
		select {
		case <-ctx.Done():
			name := "check"
			tail := ""
			if p != nil {
				name, tail = p.Name, p.Tail()
			}
			return fmt.Errorf("harness: %s not ready: %w (last: %v)\n%s", name, ctx.Err(), last, tail)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
