//go:build linux

package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeletConfig holds the settings that were required on these VMs
// (Firecracker, cgroup v1, root without CAP_SYS_RESOURCE): oomScoreAdj 0,
// cgroup v1 with cgroupfs, no swap check; and the ones that keep the
// machine as it is: no read-only port, healthz on loopback, a resolv.conf
// with only 127.0.0.1 so that no pod DNS leaves the machine, image GC off
// (the imported images cannot be pulled again), pod logs under Dir.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: %[2]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[3]d
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[4]s}
authorization:
  mode: Webhook
tlsCertFile: %[5]s
tlsPrivateKeyFile: %[6]s
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
resolvConf: %[7]s
clusterDomain: cluster.local
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
hairpinMode: hairpin-veth
podLogsDir: %[8]s
containerRuntimeEndpoint: unix://%[9]s
serializeImagePulls: false
protectKernelDefaults: false
syncFrequency: 10s
nodeStatusUpdateFrequency: 5s
shutdownGracePeriod: 0s
maxPods: 64
`

// startKubelet runs the kubelet with its root dir under Dir, registering
// the node with the bridge address.
func (c *Cluster) startKubelet(ctx context.Context) error {
	port, err := freePort(c.opts.NodeIP)
	if err != nil {
		return err
	}
	health, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	scrt, skey, err := c.pki.issue("kubelet-serving", "system:node:"+c.opts.NodeName, []string{"system:nodes"},
		[]net.IP{net.ParseIP(c.opts.NodeIP)}, []string{c.opts.NodeName})
	if err != nil {
		return err
	}
	kc, err := c.writeKubeconfig("kubelet", c.APIServer, scrt, skey)
	if err != nil {
		return err
	}
	resolv := filepath.Join(c.Dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		return err
	}
	c.PodLogsDir = filepath.Join(c.Dir, "pod-logs")
	cfg := fmt.Sprintf(kubeletConfig, c.opts.NodeIP, port, health, c.pki.CAFile(), scrt, skey, resolv, c.PodLogsDir, c.ContainerdSocket)
	path := filepath.Join(c.Dir, "kubelet.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("harness: kubelet config: %w", err)
	}
	c.KubeletRoot = filepath.Join(c.Dir, "kubelet")
	p, err := c.startProc("kubelet", c.bin("kubelet"), []string{
		"--config", path, "--kubeconfig", kc,
		"--root-dir", c.KubeletRoot,
		"--cert-dir", filepath.Join(c.Dir, "pki", "kubelet"),
		"--hostname-override", c.opts.NodeName,
		"--node-ip", c.opts.NodeIP,
		"--v", "0",
	}, nil)
	if err != nil {
		return err
	}
	return waitFor(ctx, 60*time.Second, p, func() error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, c.opts.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("node not ready: %s", cond.Message)
			}
		}
		return fmt.Errorf("node has no Ready condition")
	})
}
