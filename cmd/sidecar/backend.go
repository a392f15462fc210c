package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/baton-dev/baton/pkg/kubelease"
)

// Values of --backend: where the election's lease lives.
const (
	backendRedis     = "redis"
	backendKubeLease = "kube-lease"
)

// serviceAccountNamespace is where a pod finds its own namespace when
// POD_NAMESPACE is not set.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// addBackendFlags registers --backend and --lease-namespace (--kubeconfig
// is the publisher's flag, and the Lease's too).
func (c *config) addBackendFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Backend, "backend", backendRedis, "where the election's lease lives: redis, or kube-lease (a coordination.k8s.io/v1 Lease named --lock, shared with client-go electors; no Redis)")
	fs.StringVar(&c.LeaseNamespace, "lease-namespace", "", "namespace of the Lease with --backend kube-lease (default: the pod's, from POD_NAMESPACE or the service account)")
}

// redisOnlyFlags are refused with --backend kube-lease: they configure
// Redis, or what stands on Redis (the application locks, the runs, schedule
// mode).
var redisOnlyFlags = []string{
	"redis-addr", "redis-mode", "redis-master-name", "redis-username", "redis-password-file",
	"redis-sentinel-password-file", "redis-db", "redis-tls", "redis-ca-file", "redis-cert-file",
	"redis-key-file", "redis-tls-server-name", "redis-min-replicas-ack", "redis-replica-ack-timeout",
	"key-prefix", "locks-max-held", "locks-key-prefix", "runs-key-prefix", "runs-max-attempts",
	"schedule", "time-zone", "max-attempts", "catch-up", "attempt-deadline",
}

// validateBackend checks --backend and what it allows; set holds the flags
// given. With kube-lease it takes the Lease's namespace from the pod. It
// makes no network call.
func (c *config) validateBackend(set map[string]bool, getenv func(string) string) error {
	if r := oneOf(c.Backend, backendRedis, backendKubeLease); r != "" {
		return fmt.Errorf("%w: --backend %s", errUsage, r)
	}
	if c.Backend == backendRedis {
		if set["lease-namespace"] {
			return fmt.Errorf("%w: --lease-namespace requires --backend kube-lease", errUsage)
		}
		return nil
	}
	for _, f := range redisOnlyFlags {
		if set[f] {
			return fmt.Errorf("%w: --%s does not apply with --backend kube-lease: %s", errUsage, f, whyRedisOnly(f))
		}
	}
	if c.LeaseNamespace == "" {
		c.LeaseNamespace = podNamespace(getenv)
	}
	if !set["renew-interval"] {
		// lease-ttl/3 is below a second at the 2s TTL only.
		c.RenewInterval = max(c.RenewInterval, kubelease.MinRenewInterval)
	}
	return c.checkRules(kubeLeaseRules)
}

func whyRedisOnly(f string) string {
	switch {
	case slices.Contains([]string{"schedule", "time-zone", "max-attempts", "catch-up", "attempt-deadline"}, f):
		return "schedule mode records its runs in Redis"
	case strings.HasPrefix(f, "locks-"):
		return "the application locks need Redis"
	case strings.HasPrefix(f, "runs-"):
		return "the runs of the API need Redis"
	}
	return "it configures Redis"
}

// podNamespace is this pod's namespace: POD_NAMESPACE, else the service
// account's, else "".
func podNamespace(getenv func(string) string) string {
	if ns := getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	b, err := os.ReadFile(serviceAccountNamespace)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// kubeLeaseRules are the rules of --backend kube-lease.
var kubeLeaseRules = []rule{
	{"--lease-namespace", func(c *config) string {
		return when(c.LeaseNamespace == "", "is required with --backend kube-lease outside a pod (POD_NAMESPACE is not set and there is no service account)")
	}},
	{"--lease-namespace", func(c *config) string {
		if errs := validation.IsDNS1123Label(c.LeaseNamespace); len(errs) > 0 {
			return fmt.Sprintf("must be a namespace name: %s (got %q)", errs[0], c.LeaseNamespace)
		}
		return ""
	}},
	{"--lock", func(c *config) string {
		if errs := validation.IsDNS1123Subdomain(c.Lock); len(errs) > 0 {
			return fmt.Sprintf("must be a Lease name with --backend kube-lease: %s (got %q)", errs[0], c.Lock)
		}
		return ""
	}},
	{"--lease-ttl", func(c *config) string {
		if err := kubelease.CheckTTL(c.LeaseTTL); err != nil {
			return strings.TrimPrefix(usageError("kubelease", err).Error(), errUsage.Error()+": --lease-ttl ")
		}
		return ""
	}},
	{"--renew-interval", func(c *config) string {
		if err := kubelease.CheckRenewInterval(c.RenewInterval); err != nil {
			return strings.TrimPrefix(usageError("kubelease", err).Error(), errUsage.Error()+": --renew-interval ")
		}
		return ""
	}},
	{"--renew-deadline", func(c *config) string {
		return when(c.RenewDeadline <= c.RenewInterval, "must be greater than the renew interval, at least %v with --backend kube-lease (got %v <= %v)",
			kubelease.MinRenewInterval, c.RenewDeadline, c.RenewInterval)
	}},
}

// leaseRESTConfig is the Lease's client configuration: --kubeconfig, or the
// pod's in-cluster one. Without either it is a usage error. It reads files
// but makes no network call. Unlike the publisher's, it sets no overall
// request timeout, which would cut the follower's watch: kubelease bounds
// each call itself.
func leaseRESTConfig(c *config) (*rest.Config, error) {
	var (
		cfg *rest.Config
		err error
	)
	if c.Kubeconfig != "" {
		if cfg, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
			return nil, fmt.Errorf("%w: --kubeconfig: %v", errUsage, err)
		}
	} else if cfg, err = rest.InClusterConfig(); err != nil {
		return nil, fmt.Errorf("%w: --backend kube-lease needs --kubeconfig outside a pod: %v", errUsage, err)
	}
	cfg.UserAgent = "baton/" + version
	return cfg, nil
}

// newKubeLeaseLocker builds the Lease backend. It makes no API call.
func newKubeLeaseLocker(c *config, onError func(op string, err error)) (*kubelease.Locker, error) {
	restCfg, err := leaseRESTConfig(c)
	if err != nil {
		return nil, err
	}
	// kubelease's lean client: the typed clientset would link every API
	// group into the binary (pkg/kube's client_test keeps it out).
	leases, err := kubelease.NewClient(restCfg, c.LeaseNamespace)
	if err != nil {
		return nil, fmt.Errorf("%w: kubernetes client: %v", errUsage, err)
	}
	l, err := kubelease.New(leases, c.LeaseNamespace, c.Lock, kubelease.Options{
		CallTimeout: kubeRequestTimeout,
		OnError:     onError,
	})
	if err != nil {
		return nil, usageError("kubelease", err)
	}
	return l, nil
}
