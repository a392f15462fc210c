//go:build linux

package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// createBridge creates the pods' bridge with the node address, before
// anything starts: the API server, the kubelet and Redis bind that address.
// An existing link of that name is refused, not reused: it is not ours.
func (c *Cluster) createBridge(ctx context.Context) error {
	if _, err := net.InterfaceByName(c.opts.Bridge); err == nil {
		return fmt.Errorf("harness: %w: %s", ErrBridgeExists, c.opts.Bridge)
	}
	// A subnet that the host already uses would make the bridge's routes
	// shadow or be shadowed by the host's: refuse it.
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && (c.podNet().Contains(ipn.IP) || ipn.Contains(net.ParseIP(c.opts.NodeIP))) {
				return fmt.Errorf("harness: %w: %s has %s", ErrSubnetInUse, c.opts.PodCIDR, ipn)
			}
		}
	}
	if err := c.state.update(func(s *State) { s.Bridge = c.opts.Bridge }); err != nil {
		return err
	}
	ones, _ := c.podNet().Mask.Size()
	for _, args := range [][]string{
		{"link", "add", c.opts.Bridge, "type", "bridge"},
		{"addr", "add", fmt.Sprintf("%s/%d", c.opts.NodeIP, ones), "dev", c.opts.Bridge},
		{"link", "set", c.opts.Bridge, "up"},
	} {
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("harness: ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// ErrBridgeExists is returned when the bridge's name is already taken.
var ErrBridgeExists = errors.New("harness: a link with the bridge's name exists")

// ErrSubnetInUse is returned when the host already has an address in the
// pods' subnet.
var ErrSubnetInUse = errors.New("harness: the pods' subnet is in use on the host")

// addEgressGuard drops whatever a pod sends out of the bridge to anywhere
// but the bridge: pods have no default route either, so nothing leaves the
// machine. Pod to host (INPUT) and pod to pod stay allowed.
func (c *Cluster) addEgressGuard(ctx context.Context) error {
	rule := []string{"FORWARD", "-i", c.opts.Bridge, "!", "-o", c.opts.Bridge, "-j", "DROP"}
	if err := c.state.update(func(s *State) { s.Guard = rule }); err != nil {
		return err
	}
	args := append([]string{"-w", "5", "-I"}, rule...)
	if out, err := exec.CommandContext(ctx, "iptables", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("harness: egress guard: %w: %s", err, out)
	}
	return nil
}

func (c *Cluster) cniConfDir() string { return filepath.Join(c.Dir, "cni", "net.d") }

func (c *Cluster) podNet() *net.IPNet {
	_, n, _ := net.ParseCIDR(c.opts.PodCIDR)
	return n
}

// writeCNIConfig writes the bridge conflist: the bridge is the pods'
// gateway (isGateway), no masquerading, host-local IPAM with its state
// under Dir, and one route only, to the service range: no default route.
func (c *Cluster) writeCNIConfig() error {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       c.opts.CNINetwork,
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      c.opts.Bridge,
				"isGateway":   true,
				"ipMasq":      false,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": filepath.Join(c.Dir, "cni", "ipam"),
					"ranges":  [][]map[string]string{{{"subnet": c.opts.PodCIDR, "gateway": c.opts.NodeIP}}},
					"routes":  []map[string]string{{"dst": c.opts.ServiceCIDR}},
				},
			},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.cniConfDir(), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.cniConfDir(), "10-"+c.opts.CNINetwork+".conflist"), b, 0o644)
}
