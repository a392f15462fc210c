//go:build linux

package harness

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// writeKubeconfig writes Dir/kubeconfig/<name>.yaml for a client
// certificate, pointing at server.
func (c *Cluster) writeKubeconfig(name, server, crt, key string) (string, error) {
	path := filepath.Join(c.Dir, "kubeconfig", name+".yaml")
	body := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: %s
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: %s, namespace: default}
current-context: e2e
`, server, c.pki.CAFile(), name, crt, key, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return "", fmt.Errorf("harness: kubeconfig %s: %w", name, err)
	}
	return path, nil
}

// freePort is a TCP port on ip that was free a moment ago; never 6379.
func freePort(ip string) (int, error) {
	for {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, fmt.Errorf("harness: free port on %s: %w", ip, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port != 6379 {
			return port, nil
		}
	}
}

func hostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }
