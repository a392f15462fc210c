package monitoring

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/baton-dev/baton/internal/redistest"
)

// batonBin is the sidecar, built from this checkout by TestMain.
var batonBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "baton-monitoring-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		// Built in the main module, with its own versions, as `make
		// build` builds it (not with this module's, which Prometheus
		// raises).
		batonBin = filepath.Join(dir, "baton")
		build := exec.Command("go", "build", "-o", batonBin, "./cmd/sidecar")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build the sidecar: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// exposed is what real baton processes serve on /metrics: each series
// name (a histogram's _bucket, _sum and _count) with its label names.
type exposed map[string]map[string]bool

// targetLabels are the labels that Prometheus adds to every scraped series
// (instance, job) or that the Prometheus Operator adds from the pod
// (namespace, pod, ...). Queries may match and group on them.
var targetLabels = map[string]bool{"job": true, "instance": true, "namespace": true, "pod": true, "service": true, "container": true, "endpoint": true}

// scrapeBaton starts a real redis-server and four real baton processes
// that together register every metric baton has: a sidecar, exec mode
// (baton run) with a child, a sidecar whose Kubernetes publisher is on
// (pointed at a loopback port where no API server listens, since only
// its metrics matter here), and schedule mode (baton run --schedule),
// scraped once its job ran. It returns the union of their /metrics.
func scrapeBaton(t *testing.T) exposed {
	t.Helper()
	redis := redistest.Start(t)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	deadPort, err := redistest.FreeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kubeconfig, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "http://127.0.0.1:%d"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
`, deadPort), 0o600); err != nil {
		t.Fatal(err)
	}
	ran := filepath.Join(dir, "scheduled-job-ran")
	runs := []struct {
		name string
		pre  []string // before the common flags
		post []string // after them
		env  []string
		// ready says when to scrape it; nil: once it leads, and after
		// one call of its lock API, whose request counter has no series
		// before the first.
		ready func(metrics string) bool
		// noRedis: the Lease backend, which refuses --redis-addr.
		noRedis bool
	}{
		{name: "sidecar", post: []string{"--kube", "false"}},
		{name: "exec", pre: []string{"run"}, post: []string{"--kube", "false", "--", "sleep", "600"}},
		{name: "kube", post: []string{"--kube", "true", "--kubeconfig", kubeconfig}, env: []string{"POD_NAME=baton-kube", "POD_NAMESPACE=monitoring"}},
		{name: "schedule", pre: []string{"run"}, post: []string{"--kube", "false", "--schedule", "@every 1s", "--", "touch", ran},
			ready: func(metrics string) bool { return scheduledRan(ran, metrics) }},
		// The Lease backend on an API server that is not there: its
		// metrics are served all the same, its error counter among them.
		{name: "kube-lease", post: []string{"--kube", "false", "--backend", "kube-lease", "--kubeconfig", kubeconfig,
			"--lease-namespace", "monitoring", "--lease-ttl", "2s"}, noRedis: true,
			ready: func(metrics string) bool { return strings.Contains(metrics, "\nbaton_kube_lease_errors_total{") }},
	}
	all := exposed{}
	for _, r := range runs {
		ready := r.ready
		if ready == nil {
			ready = func(metrics string) bool { return strings.Contains(metrics, "\nbaton_is_leader 1\n") }
		}
		redisAddr := redis.Addr()
		if r.noRedis {
			redisAddr = ""
		}
		probe, api := startBaton(t, dir, r.name, redisAddr, r.pre, r.post, r.env, ready)
		if r.ready == nil {
			if _, err := get(t.Context(), api+"/locks/monitoring-probe"); err != nil {
				t.Fatalf("GET /locks: %v", err)
			}
		}
		for name, labels := range scrape(t, probe) {
			if all[name] == nil {
				all[name] = map[string]bool{}
			}
			for l := range labels {
				all[name][l] = true
			}
		}
	}
	addRunContract(t, all)
	return all
}

// startBaton starts one baton on lock <name> (on the Redis at redisAddr,
// none when "") with its API and probes on
// free loopback ports, stops it at the end of the test, and returns the
// URLs of its probe listener and its API once ready(its /metrics).
func startBaton(t *testing.T, dir, name, redisAddr string, pre, post, env []string, ready func(metrics string) bool) (probeURL, apiURL string) {
	t.Helper()
	port := func() string {
		p, err := redistest.FreeLoopbackPort()
		if err != nil {
			t.Fatal(err)
		}
		return "127.0.0.1:" + strconv.Itoa(p)
	}
	apiAddr, probeAddr := port(), port()
	args := append(pre, "--lock", "monitoring-"+name, "--identity", name)
	if redisAddr != "" {
		args = append(args, "--redis-addr", redisAddr)
	}
	args = append(append(args, "--api-addr", apiAddr, "--probe-addr", probeAddr), post...)
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(batonBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logf.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	url := "http://" + probeAddr
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		// Wait for the steady state: a sidecar leads its own lock, a
		// scheduled job has run.
		if body, err := get(ctx, url+"/metrics"); err == nil && ready(body) {
			return url, "http://" + apiAddr
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			t.Fatalf("baton %s exited:\n%s", name, log)
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			t.Fatalf("baton %s was not ready within 30s:\n%s", name, log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// scrape reads one /metrics in the text format.
func scrape(t *testing.T, probeURL string) exposed {
	t.Helper()
	body, err := get(t.Context(), probeURL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := exposed{}
	add := func(name string, m *dto.Metric, extra ...string) {
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		for _, l := range m.GetLabel() {
			out[name][l.GetName()] = true
		}
		for _, l := range extra {
			out[name][l] = true
		}
	}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				add(name+"_bucket", m, "le")
				add(name+"_sum", m)
				add(name+"_count", m)
			case dto.MetricType_SUMMARY:
				add(name, m, "quantile")
				add(name+"_sum", m)
				add(name+"_count", m)
			default:
				add(name, m)
			}
		}
	}
	return out
}
