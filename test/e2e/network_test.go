//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// podRoutes are the destinations (CIDR) of the routes in the network
// namespace of pid, from /proc/PID/net/route.
func podRoutes(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/route", pid))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 8 {
			continue
		}
		var dst, mask uint32
		fmt.Sscanf(f[1], "%X", &dst)
		fmt.Sscanf(f[7], "%X", &mask)
		ones := 0
		for m := mask; m != 0; m >>= 1 {
			ones += int(m & 1)
		}
		out = append(out, fmt.Sprintf("%d.%d.%d.%d/%d", dst&0xff, dst>>8&0xff, dst>>16&0xff, dst>>24, ones))
	}
	return out, nil
}

// checkPodNetwork says whether a pod has no default route and the egress
// guard is in place, with what it found.
func (s *suite) checkPodNetwork(t *testing.T, p *corev1.Pod, container string) (bool, string) {
	t.Helper()
	cid := runningContainerID(p, container)
	pids, err := containerPIDs(p, cid)
	if err != nil {
		return false, err.Error()
	}
	routes, err := podRoutes(pids[0])
	if err != nil {
		return false, err.Error()
	}
	ok := true
	for _, r := range routes {
		if r == "0.0.0.0/0" {
			ok = false
		}
	}
	guard := exec.Command("iptables", "-w", "5", "-C", "FORWARD", "-i", s.c.Opts().Bridge, "!", "-o", s.c.Opts().Bridge, "-j", "DROP").Run() == nil
	return ok && guard, fmt.Sprintf("pod routes %v (no default route: %v), egress guard in FORWARD: %v", routes, ok, guard)
}
