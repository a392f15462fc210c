//go:build linux

package harness

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// startAPIServer runs kube-apiserver on the bridge address: it publishes
// its advertise address as the endpoint of the kubernetes Service, which
// pods must reach.
func (c *Cluster) startAPIServer(ctx context.Context) error {
	port, err := freePort(c.opts.NodeIP)
	if err != nil {
		return err
	}
	serviceIP := firstServiceIP(c.opts.ServiceCIDR)
	crt, key, err := c.pki.issue("apiserver", "kube-apiserver", nil,
		[]net.IP{net.ParseIP(c.opts.NodeIP), serviceIP, net.ParseIP("127.0.0.1")},
		[]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"})
	if err != nil {
		return err
	}
	kcrt, kkey, err := c.pki.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil)
	if err != nil {
		return err
	}
	saKey, saPub, err := c.pki.serviceAccountKey()
	if err != nil {
		return err
	}
	c.saKey = saKey
	c.APIServer = "https://" + hostPort(c.opts.NodeIP, port)
	p, err := c.startProc("kube-apiserver", c.bin("kube-apiserver"), []string{
		"--etcd-servers", c.etcdURL,
		"--bind-address", c.opts.NodeIP, "--advertise-address", c.opts.NodeIP,
		"--secure-port", fmt.Sprint(port),
		"--cert-dir", filepath.Join(c.Dir, "pki", "apiserver"),
		"--tls-cert-file", crt, "--tls-private-key-file", key,
		"--client-ca-file", c.pki.CAFile(),
		"--kubelet-client-certificate", kcrt, "--kubelet-client-key", kkey,
		"--kubelet-certificate-authority", c.pki.CAFile(),
		"--kubelet-preferred-address-types", "InternalIP",
		"--service-account-key-file", saPub,
		"--service-account-signing-key-file", saKey,
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range", c.opts.ServiceCIDR,
		"--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction",
		"--endpoint-reconciler-type", "lease",
		"--allow-privileged=false",
		"--profiling=false",
		"--v", "0",
	}, nil)
	if err != nil {
		return err
	}
	acrt, akey, err := c.pki.issue("admin", "e2e-admin", []string{"system:masters"}, nil, nil)
	if err != nil {
		return err
	}
	if c.Kubeconfig, err = c.writeKubeconfig("admin", c.APIServer, acrt, akey); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("harness: admin kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	c.RESTConfig = cfg
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("harness: client: %w", err)
	}
	return waitFor(ctx, 60*time.Second, p, func() error {
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("%w: %s", err, body)
		}
		return nil
	})
}

// firstServiceIP is the first address of the service range: the
// kubernetes Service's ClusterIP.
func firstServiceIP(cidr string) net.IP {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil
	}
	ip := n.IP.To4()
	out := make(net.IP, len(ip))
	copy(out, ip)
	out[len(out)-1]++
	return out
}
