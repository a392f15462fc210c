package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/kube"
)

// Values of --kube.
const (
	kubeAuto = "auto"
	kubeOn   = "true"
	kubeOff  = "false"
)

// kubeRequestTimeout bounds each Kubernetes API call, so that a hung API
// server costs a back-off, not a stuck publisher.
const kubeRequestTimeout = 10 * time.Second

// kubeRules are the rules of the Kubernetes flags. They never touch the
// network.
var kubeRules = []rule{
	{"--kube", func(c *config) string { return oneOf(c.Kube, kubeAuto, kubeOn, kubeOff) }},
	{"--kube", func(c *config) string {
		return when(c.Kube == kubeOn && (c.PodName == "" || c.PodNamespace == ""),
			"is true but POD_NAME or POD_NAMESPACE is not set (set both from the downward API: metadata.name and metadata.namespace)")
	}},
	{"--kube-label-key", func(c *config) string {
		if errs := validation.IsQualifiedName(c.KubeLabelKey); len(errs) > 0 {
			return fmt.Sprintf("must be a label key such as %s: %s (got %q)", kube.DefaultLabelKey, errs[0], c.KubeLabelKey)
		}
		return ""
	}},
}

// kubeRESTConfig decides whether the Kubernetes publisher runs and returns
// its client configuration, or nil (and why) when it is off. It reads files
// and the environment but makes no network call. With --kube=true, or with
// an unreadable --kubeconfig, a missing configuration is a usage error.
func kubeRESTConfig(c *config) (cfg *rest.Config, off string, err error) {
	if c.Kube == kubeOff {
		return nil, "--kube=false", nil
	}
	if c.Kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
		if err != nil {
			return nil, "", fmt.Errorf("%w: --kubeconfig: %v", errUsage, err)
		}
	} else {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			if c.Kube == kubeOn {
				return nil, "", fmt.Errorf("%w: --kube is true but there is no in-cluster configuration (use --kubeconfig outside a pod): %v", errUsage, err)
			}
			return nil, fmt.Sprintf("no in-cluster configuration: %v", err), nil
		}
	}
	if c.PodName == "" || c.PodNamespace == "" {
		// --kube=true without them was rejected by kubeRules.
		return nil, "POD_NAME or POD_NAMESPACE not set", nil
	}
	cfg.UserAgent = "baton/" + version
	cfg.Timeout = kubeRequestTimeout
	return cfg, "", nil
}

// newKubePublisher builds the publisher for this pod, or returns nil when
// restCfg is nil. It makes no API call.
func newKubePublisher(c *config, restCfg *rest.Config, elector *election.Elector, reg prometheus.Registerer, log *slog.Logger) (*kube.Publisher, error) {
	if restCfg == nil {
		return nil, nil
	}
	client, err := kube.NewClient(restCfg)
	if err != nil {
		return nil, fmt.Errorf("%w: kubernetes client: %v", errUsage, err)
	}
	m, err := kube.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	return kube.New(elector, kube.Options{
		Client:    client,
		Namespace: c.PodNamespace,
		PodName:   c.PodName,
		LabelKey:  c.KubeLabelKey,
		Resync:    c.LeaseTTL,
		Metrics:   m,
		Logger:    log,
		// A pod being deleted keeps a term it holds, so that its app can
		// finish first, but takes no new one.
		OnTerminating: func() {
			if err := elector.Withdraw(); err != nil {
				log.Debug("withdraw after the pod's deletion", "err", err)
			}
		},
	})
}

// unmarkBeforeRelease wraps the term's work (nil: none) so that, when the
// Kubernetes publisher runs, the pod's leader label is set to false before
// the elector releases the lock: see kube.Publisher.Lead. publisher is read
// when a term starts, as the publisher is built after the elector.
func unmarkBeforeRelease(work func(context.Context, election.Term), publisher func() *kube.Publisher) func(context.Context, election.Term) {
	return func(ctx context.Context, term election.Term) {
		if p := publisher(); p != nil {
			p.Lead(work)(ctx, term)
			return
		}
		if work != nil {
			work(ctx, term)
		}
	}
}

// startKube runs the publisher, if any, until the returned function is
// called; that function returns once the publisher has published
// leader=false for the last time (within kube.DefaultShutdownTimeout). The
// publisher outlives the signal: it is stopped after the elector's Run has
// returned, so that it publishes the final step-down.
func (s *sidecar) startKube() (stop func()) {
	if s.kube == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.kube.Run(ctx); err != nil {
			s.log.Error("kubernetes publisher failed", "err", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
