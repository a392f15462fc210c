//go:build linux

package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure a cluster. The zero value of each field takes the
// default documented on it.
type Options struct {
	// Bin is the directory of kube-apiserver, kube-controller-manager,
	// kube-scheduler, kubelet, kube-proxy, kubectl and etcd (required:
	// hack/tools/kube-node.sh prints it).
	Bin string
	// Bridge is the pods' bridge; default baton0, a name unlikely to clash
	// with cni0 or docker0.
	Bridge string
	// NodeIP is the bridge's address and the node's; default 10.88.0.1.
	NodeIP string
	// PodCIDR is the bridge's subnet; default 10.88.0.0/16.
	PodCIDR string
	// ServiceCIDR is the service range, the pods' only route; default
	// 10.96.0.0/16.
	ServiceCIDR string
	// NodeName is the node's name; default baton-e2e.
	NodeName string
	// SandboxImage is containerd's pause image; default localhost/pause:e2e.
	SandboxImage string
	// CNINetwork is the CNI network's name; default baton-e2e.
	CNINetwork string
	// Images are docker-archive tarballs imported before the kubelet starts.
	Images []string
}

func (o *Options) defaults() error {
	if o.Bin == "" {
		return errors.New("harness: Options.Bin is required")
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.Bridge, "baton0")
	def(&o.NodeIP, "10.88.0.1")
	def(&o.PodCIDR, "10.88.0.0/16")
	def(&o.ServiceCIDR, "10.96.0.0/16")
	def(&o.NodeName, "baton-e2e")
	def(&o.SandboxImage, "localhost/pause:e2e")
	def(&o.CNINetwork, "baton-e2e")
	return nil
}

// Cluster is a running single-node cluster.
type Cluster struct {
	// Dir holds all of its state.
	Dir string
	// APIServer is the API server's URL, on the bridge address.
	APIServer string
	// Kubeconfig is an admin (system:masters) kubeconfig file.
	Kubeconfig string
	// RESTConfig and Client are the admin's.
	RESTConfig *rest.Config
	Client     kubernetes.Interface
	// ContainerdSocket is containerd's socket.
	ContainerdSocket string
	// KubeletRoot is the kubelet's --root-dir; PodLogsDir its podLogsDir.
	KubeletRoot, PodLogsDir string
	// Timings are the bring-up steps' durations, in order.
	Timings []Timing

	opts    Options
	state   *State
	pki     *pki
	procs   []*Proc
	etcdURL string
	saKey   string

	stopOnce sync.Once
	stopErr  error
}

// Timing is one bring-up step's duration.
type Timing struct {
	Step string
	D    time.Duration
}

// Opts are the options with their defaults filled in.
func (c *Cluster) Opts() Options { return c.opts }

func (c *Cluster) bin(name string) string { return filepath.Join(c.opts.Bin, name) }

// Start brings a cluster up. On failure it has torn down what it started.
// The caller must call Stop, also when the test fails.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(StatePath); err == nil {
		return nil, fmt.Errorf("harness: %s exists: another run is active or crashed (CleanLeftovers)", StatePath)
	}
	dir, err := os.MkdirTemp("", "baton-e2e-")
	if err != nil {
		return nil, fmt.Errorf("harness: temp dir: %w", err)
	}
	c := &Cluster{Dir: dir, opts: opts, state: &State{Dir: dir}}
	if err := c.state.update(func(*State) {}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	for _, d := range []string{"logs", "kubeconfig", "containerd", "cni"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d), 0o755); err != nil {
			return err
		}
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"host snapshot", c.snapshotHost},
		{"bridge", func() error { return c.createBridge(ctx) }},
		{"egress guard", func() error { return c.addEgressGuard(ctx) }},
		{"certificates", func() (err error) { c.pki, err = newPKI(filepath.Join(c.Dir, "pki")); return err }},
		{"etcd", func() error { return c.startEtcd(ctx) }},
		{"kube-apiserver", func() error { return c.startAPIServer(ctx) }},
		{"controller-manager, scheduler", func() error {
			if err := c.startControllerManager(); err != nil {
				return err
			}
			return c.startScheduler()
		}},
		{"cni config", c.writeCNIConfig},
		{"containerd", func() error { return c.startContainerd(ctx) }},
		{"images", func() error { return c.ImportImages(ctx, c.opts.Images...) }},
		{"kubelet (node Ready)", func() error { return c.startKubelet(ctx) }},
		{"kube-proxy", func() error { return c.startKubeProxy(ctx) }},
		{"default ServiceAccount", func() error { return c.waitDefaultServiceAccount(ctx) }},
	}
	for _, s := range steps {
		start := time.Now()
		if err := s.run(); err != nil {
			return fmt.Errorf("harness: %s: %w", s.name, err)
		}
		c.Timings = append(c.Timings, Timing{s.name, time.Since(start)})
	}
	return nil
}

// Stop tears the cluster down and restores the host; see the package doc.
// It is safe to call more than once and from a signal handler.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopErr = teardown(c.state.snapshot())
	})
	return c.stopErr
}

// LogTail returns the end of a component's log (etcd, kube-apiserver,
// kubelet, containerd, ...), for failure messages.
func (c *Cluster) LogTail(name string, n int) string {
	return tailFile(filepath.Join(c.Dir, "logs", name+".log"), n)
}

// StartRedis runs a redis-server on the host, bound to the bridge address
// (and loopback) on a free port, never 6379; it is stopped with the
// cluster. It returns host:port as pods reach it.
func (c *Cluster) StartRedis(ctx context.Context) (string, error) {
	port, err := freePort(c.opts.NodeIP)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(c.Dir, "redis")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p, err := c.startProc("redis-server", "redis-server", []string{
		"--bind", "127.0.0.1", c.opts.NodeIP, "--port", strconv.Itoa(port),
		"--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no",
		"--daemonize", "no", "--loglevel", "warning",
	}, nil)
	if err != nil {
		return "", err
	}
	addr := hostPort(c.opts.NodeIP, port)
	return addr, waitFor(ctx, 10*time.Second, p, func() error { return dialOnce(addr) })
}
