//go:build linux

package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// containerdConfig is containerd 1.6's config (version 2): root, state and
// sockets under Dir, overlayfs, runc with cgroupfs, the local pause image,
// the CNI config of the harness, and restrict_oom_score_adj, without which
// every sandbox dies on these VMs (root lacks CAP_SYS_RESOURCE, so a
// negative oom_score_adj is refused). The opt plugin, which would write
// /opt/containerd, and the snapshotters that are not used are off.
const containerdConfig = `version = 2
root = %[1]q
state = %[2]q
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[6]q
`

// startContainerd writes the config and runs containerd until its socket
// answers.
func (c *Cluster) startContainerd(ctx context.Context) error {
	dir := filepath.Join(c.Dir, "containerd")
	c.ContainerdSocket = filepath.Join(dir, "containerd.sock")
	if err := c.state.update(func(s *State) { s.ContainerdSocket = c.ContainerdSocket }); err != nil {
		return err
	}
	cfg := fmt.Sprintf(containerdConfig, filepath.Join(dir, "root"), filepath.Join(dir, "state"),
		c.ContainerdSocket, c.ContainerdSocket+".ttrpc", c.opts.SandboxImage, c.cniConfDir())
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("harness: containerd config: %w", err)
	}
	p, err := c.startProc("containerd", "containerd", []string{"--config", path}, nil)
	if err != nil {
		return err
	}
	return waitFor(ctx, 30*time.Second, p, func() error {
		out, err := c.Ctr(ctx, "version")
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	})
}

// Ctr runs ctr against the harness's containerd in the k8s.io namespace.
func (c *Cluster) Ctr(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", c.ContainerdSocket, "--namespace", "k8s.io"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd.CombinedOutput()
}

// ImportImages loads docker-archive tarballs into containerd's k8s.io
// namespace, where the kubelet finds them.
func (c *Cluster) ImportImages(ctx context.Context, tarballs ...string) error {
	for _, t := range tarballs {
		if out, err := c.Ctr(ctx, "images", "import", t); err != nil {
			return fmt.Errorf("harness: import %s: %w: %s", t, err, out)
		}
	}
	return nil
}
