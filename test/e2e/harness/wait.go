//go:build linux

package harness

import (
	"context"
	"net"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// waitDefaultServiceAccount waits for the default namespace's ServiceAccount,
// which the controller-manager creates: pods cannot be admitted before it.
func (c *Cluster) waitDefaultServiceAccount(ctx context.Context) error {
	return waitFor(ctx, 60*time.Second, nil, func() error {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

func dialOnce(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	return conn.Close()
}
