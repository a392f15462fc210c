//go:build linux

package harness

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// sysctls are the host settings that the kubelet (kernel tunables), the
// bridge plugin (ip_forward) and kube-proxy may change; they are written
// back after the run.
var sysctls = []string{
	"kernel.panic",
	"kernel.panic_on_oops",
	"vm.overcommit_memory",
	"vm.panic_on_oom",
	"kernel.keys.root_maxkeys",
	"kernel.keys.root_maxbytes",
	"net.ipv4.ip_forward",
	"net.ipv4.conf.all.forwarding",
	"net.ipv4.conf.all.route_localnet",
	"net.bridge.bridge-nf-call-iptables",
	"net.netfilter.nf_conntrack_max",
}

// hostDirs are the host directories that the kubelet, containerd and the
// CNI plugins write outside Dir.
var hostDirs = []string{"/var/lib/cni", "/run/netns", "/run/containerd", "/var/log/containers", "/var/lib/kubelet", "/etc/cni"}

func sysctlPath(name string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/"))
}

// snapshotHost records, before anything starts, what the teardown must
// restore or keep.
func (c *Cluster) snapshotHost() error {
	return c.state.update(func(s *State) {
		s.Sysctls = map[string]string{}
		for _, name := range sysctls {
			if b, err := os.ReadFile(sysctlPath(name)); err == nil {
				s.Sysctls[name] = strings.TrimSpace(string(b))
			}
		}
		for _, d := range hostDirs {
			if _, err := os.Lstat(d); errors.Is(err, os.ErrNotExist) {
				s.NewDirs = append(s.NewDirs, d)
			}
		}
		entries, _ := os.ReadDir("/run/netns")
		for _, e := range entries {
			s.NetnsBefore = append(s.NetnsBefore, e.Name())
		}
		s.ChainsBefore = map[string][]string{}
		for _, t := range iptablesTables() {
			s.ChainsBefore[t.key()] = t.ownChains()
		}
		s.CgroupsBefore = map[string]bool{}
		for _, d := range cgroupControllers() {
			_, err := os.Stat(filepath.Join(d, "kubepods"))
			s.CgroupsBefore[d] = err == nil
		}
		s.CNINetwork = c.opts.CNINetwork
	})
}

// cgroupControllers are the cgroup v1 hierarchies (or the v2 root).
func cgroupControllers() []string {
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	var out []string
	for _, e := range entries {
		p := filepath.Join("/sys/fs/cgroup", e.Name())
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err == nil {
				out = append(out, p)
			}
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.procs"); err == nil {
		out = append(out, "/sys/fs/cgroup")
	}
	return out
}
