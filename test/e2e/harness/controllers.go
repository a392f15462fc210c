//go:build linux

package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// startControllerManager runs kube-controller-manager on loopback. It signs
// ServiceAccount tokens' controllers with their own credentials and hands
// pods the cluster CA (kube-root-ca.crt).
func (c *Cluster) startControllerManager() error {
	crt, key, err := c.pki.issue("controller-manager", "system:kube-controller-manager", nil, nil, nil)
	if err != nil {
		return err
	}
	kc, err := c.writeKubeconfig("controller-manager", c.APIServer, crt, key)
	if err != nil {
		return err
	}
	port, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	_, err = c.startProc("kube-controller-manager", c.bin("kube-controller-manager"), []string{
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(port),
		"--cert-dir", filepath.Join(c.Dir, "pki", "controller-manager"),
		"--service-account-private-key-file", c.saKey,
		"--root-ca-file", c.pki.CAFile(),
		"--use-service-account-credentials",
		"--service-cluster-ip-range", c.opts.ServiceCIDR,
		"--leader-elect=false",
		"--v", "0",
	}, nil)
	return err
}

// startScheduler runs kube-scheduler on loopback.
func (c *Cluster) startScheduler() error {
	crt, key, err := c.pki.issue("scheduler", "system:kube-scheduler", nil, nil, nil)
	if err != nil {
		return err
	}
	kc, err := c.writeKubeconfig("scheduler", c.APIServer, crt, key)
	if err != nil {
		return err
	}
	port, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	_, err = c.startProc("kube-scheduler", c.bin("kube-scheduler"), []string{
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(port),
		"--cert-dir", filepath.Join(c.Dir, "pki", "scheduler"),
		"--leader-elect=false",
		"--v", "0",
	}, nil)
	return err
}

// startKubeProxy runs kube-proxy in iptables mode. It masquerades all
// Service traffic, so that a pod reaching a Service whose endpoint is on
// the same bridge gets its replies through the host (no br_netfilter
// needed), leaves conntrack's sysctls alone, and programs node ports only
// on the bridge address (no route_localnet).
func (c *Cluster) startKubeProxy(ctx context.Context) error {
	crt, key, err := c.pki.issue("kube-proxy", "system:kube-proxy", []string{"system:node-proxier"}, nil, nil)
	if err != nil {
		return err
	}
	kc, err := c.writeKubeconfig("kube-proxy", c.APIServer, crt, key)
	if err != nil {
		return err
	}
	health, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	metrics, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: %s
hostnameOverride: %s
bindAddress: %s
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
clusterCIDR: %s
nodePortAddresses: ["%s/32"]
iptables:
  masqueradeAll: true
  localhostNodePorts: false
  syncPeriod: 30s
  minSyncPeriod: 0s
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, kc, c.opts.NodeName, c.opts.NodeIP, health, metrics, c.opts.PodCIDR, c.opts.NodeIP)
	path := filepath.Join(c.Dir, "kube-proxy.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("harness: kube-proxy config: %w", err)
	}
	_, err = c.startProc("kube-proxy", c.bin("kube-proxy"), []string{"--config", path, "--v", "0"}, nil)
	return err
}
