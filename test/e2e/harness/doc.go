//go:build linux

// Package harness brings up a real single-node Kubernetes for the e2e
// tests: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// containerd, the kubelet and kube-proxy, with every byte of state in one
// temporary directory, pods on a bridge of their own with an egress guard
// and no default route, and a teardown that leaves the machine as it was.
//
// What it changes outside its directory, and how it puts it back:
//   - processes: started by the harness, stopped by their recorded PID
//     (checked against the process's start time, so a reused PID is never
//     signalled); containerd's shims, which containerd starts, are matched
//     by the containerd socket path in their command line, one PID at a
//     time; container processes are those in the kubepods cgroups;
//   - the bridge (Bridge, default baton0) and its veths are deleted;
//   - the egress guard rule and every KUBE-/CNI- iptables chain that was
//     not there before are removed, for IPv4 and IPv6;
//   - the sysctls that the kubelet, kube-proxy and the bridge plugin set
//     are saved before and written back after;
//   - the kubepods cgroups are removed; so are /var/lib/cni, /run/netns,
//     /run/containerd and /var/log/containers when they did not exist
//     before, and only the harness's own entries when they did.
//
// A State file (StatePath) records all of that as it happens, so that a
// run that crashed is cleaned up by the next one (CleanLeftovers).
package harness
