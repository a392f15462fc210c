package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bad configurations of --backend kube-lease exit 2 naming the flag, before
// any network call (the kubeconfig points nowhere reachable).
func TestKubeLeaseFlagsRefused(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(unreachableKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--lock", "job", "--backend", "kube-lease", "--kubeconfig", kubeconfig, "--lease-namespace", "ns", "--lease-ttl", "4s"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown backend", []string{"--lock", "job", "--backend", "etcd"}, nil, `--backend must be redis or kube-lease (got "etcd")`},
		{"namespace with redis", []string{"--lock", "job", "--lease-namespace", "ns"}, nil, "--lease-namespace requires --backend kube-lease"},
		{"redis address", with("--redis-addr", "127.0.0.1:1"), nil, "--redis-addr does not apply with --backend kube-lease"},
		{"redis address from env", base, map[string]string{"BATON_REDIS_ADDR": "127.0.0.1:1"}, "--redis-addr does not apply"},
		{"key prefix", with("--key-prefix", "x"), nil, "--key-prefix does not apply"},
		{"locks", with("--locks-max-held", "3"), nil, "--locks-max-held does not apply with --backend kube-lease: the application locks need Redis"},
		{"fractional ttl", with("--lease-ttl", "2500ms"), nil, "--lease-ttl must be whole seconds"},
		{"short ttl", with("--lease-ttl", "1s", "--renew-deadline", "600ms"), nil, "--lease-ttl must be at least 2s"},
		{"short renew interval", with("--lease-ttl", "2s", "--renew-interval", "500ms"), nil, "--renew-interval must be at least 1s with a Kubernetes Lease"},
		{"deadline within the interval", with("--lease-ttl", "2s", "--renew-deadline", "1s"), nil, "--renew-deadline must be greater than the renew interval, at least 1s with --backend kube-lease (got 1s <= 1s)"},
		{"lease name", append([]string{"--lock", "Nightly_Report"}, base[2:]...), nil, "--lock must be a Lease name"},
		{"no namespace", []string{"--lock", "job", "--backend", "kube-lease", "--kubeconfig", kubeconfig}, nil, "--lease-namespace is required"},
		{"bad namespace", with("--lease-namespace", "Not.A.Label"), nil, "--lease-namespace must be a namespace name"},
		{"no kubeconfig", []string{"--lock", "job", "--backend", "kube-lease", "--lease-namespace", "ns"}, nil, "--backend kube-lease needs --kubeconfig outside a pod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, env(tc.env), &stdout, &stderr); code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.want)
			}
		})
	}
	t.Run("schedule", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		args := append([]string{"run"}, with("--schedule", "@every 1m", "--", "true")...)
		if code := run(args, env(nil), &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--schedule does not apply with --backend kube-lease: schedule mode records its runs in Redis") {
			t.Fatalf("exit %d, stderr %q", code, stderr.String())
		}
	})
}

// With a Lease, renewals come at least a second apart (client-go sees
// whole seconds): the default lease-ttl/3 is raised at the 2s TTL only.
func TestKubeLeaseRenewInterval(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(unreachableKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	kube := []string{"--lock", "job", "--backend", "kube-lease", "--kubeconfig", kubeconfig, "--lease-namespace", "ns"}
	cases := []struct {
		args []string
		want time.Duration
	}{
		{append(kube, "--lease-ttl", "2s"), time.Second},
		{append(kube, "--lease-ttl", "6s"), 2 * time.Second},
		{append(kube, "--lease-ttl", "2s", "--renew-interval", "1200ms"), 1200 * time.Millisecond},
		{[]string{"--lock", "job", "--lease-ttl", "2s"}, 2 * time.Second / 3}, // Redis
	}
	for _, tc := range cases {
		c, err := parseConfig(tc.args, env(nil), &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if c.RenewInterval != tc.want {
			t.Errorf("%q: renew interval %v, want %v", tc.args, c.RenewInterval, tc.want)
		}
	}
}

// unreachableKubeconfig names an API server on a port nothing listens on.
const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
