//go:build linux

package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ContainerPIDs are the PIDs in a container's cgroup (kubelet's cgroupfs
// layout: kubepods[/burstable|/besteffort]/pod<uid>/<container id>), the
// container's first process first.
func ContainerPIDs(podUID, containerID string) ([]int, error) {
	containerID = strings.TrimPrefix(containerID, "containerd://")
	var procs string
	for _, qos := range []string{"", "burstable", "besteffort"} {
		p := filepath.Join("/sys/fs/cgroup/pids/kubepods", qos, "pod"+podUID, containerID, "cgroup.procs")
		if _, err := os.Stat(p); err == nil {
			procs = p
			break
		}
	}
	if procs == "" {
		return nil, fmt.Errorf("harness: no cgroup for container %s of pod %s", containerID, podUID)
	}
	b, err := os.ReadFile(procs)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("harness: container %s has no process", containerID)
	}
	return pids, nil
}

// RSSKiB is VmRSS of pid, in KiB.
func RSSKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("harness: no VmRSS for %d", pid)
}
