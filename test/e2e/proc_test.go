//go:build linux

package e2e

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/baton-dev/baton/test/e2e/harness"
)

func containerPIDs(p *corev1.Pod, cid string) ([]int, error) {
	return harness.ContainerPIDs(string(p.UID), cid)
}

type harnessLogLine = harness.LogLine

func rssKiB(pid int) (int, error) { return harness.RSSKiB(pid) }
