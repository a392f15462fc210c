//go:build linux

package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CleanLeftovers undoes what a previous run that crashed left behind, from
// its State file. It does nothing when there is none.
func CleanLeftovers() error {
	st, ok, err := loadState()
	if err != nil || !ok {
		return err
	}
	return teardown(st)
}

// stopOrder stops the kubelet first, so that it restarts nothing, and the
// store last.
var stopOrder = []string{"kubelet", "kube-proxy", "kube-scheduler", "kube-controller-manager", "containerd", "kube-apiserver", "etcd"}

// teardown undoes everything st records, best effort and in order, and
// returns every failure. It is idempotent: a second call finds nothing.
func teardown(st *State) error {
	var errs []error
	// runc's state of the run's containers lives under /run/containerd
	// (shared by every containerd); a container whose shim is killed keeps
	// it. Its IDs are those of the run's containerd's tasks.
	var taskIDs []string
	if st.Dir != "" {
		entries, _ := os.ReadDir(filepath.Join(st.Dir, "containerd", "state", "io.containerd.runtime.v2.task", "k8s.io"))
		for _, e := range entries {
			taskIDs = append(taskIDs, e.Name())
		}
	}
	procs := slices.Clone(st.Procs)
	rank := func(name string) int {
		if i := slices.Index(stopOrder, name); i >= 0 {
			return i
		}
		return -1 // anything else (Redis) first
	}
	sort.SliceStable(procs, func(i, j int) bool { return rank(procs[i].Name) < rank(procs[j].Name) })
	for _, p := range procs {
		if p.Name == "containerd" {
			// The containers, then their shims, before containerd.
			errs = append(errs, killKubepods(st)...)
			if st.ContainerdSocket != "" {
				for _, pid := range pidsWithArg("containerd-shim", st.ContainerdSocket) {
					start, _ := procStart(pid)
					errs = appendErr(errs, stopPID(RecordedProc{Name: "containerd-shim", PID: pid, Start: start}, 2*time.Second))
				}
			}
		}
		errs = appendErr(errs, stopPID(p, 10*time.Second))
	}
	errs = append(errs, killKubepods(st)...)
	if st.ContainerdSocket != "" {
		for _, pid := range pidsWithArg("containerd-shim", st.ContainerdSocket) {
			start, _ := procStart(pid)
			errs = appendErr(errs, stopPID(RecordedProc{Name: "containerd-shim", PID: pid, Start: start}, 2*time.Second))
		}
	}
	for _, id := range taskIDs {
		errs = appendErr(errs, os.RemoveAll(filepath.Join("/run/containerd/runc/k8s.io", id)))
	}
	errs = append(errs, unmountNetns(st)...)
	if st.Dir != "" {
		errs = append(errs, unmountUnder(st.Dir)...)
	}
	if st.Bridge != "" {
		errs = append(errs, deleteBridge(st.Bridge)...)
	}
	if len(st.Guard) > 0 {
		for i := 0; i < 10; i++ {
			if exec.Command("iptables", append([]string{"-w", "5", "-D"}, st.Guard...)...).Run() != nil {
				break
			}
		}
	}
	for _, t := range iptablesTables() {
		if before, ok := st.ChainsBefore[t.key()]; ok {
			t.removeChains(before)
		}
	}
	errs = append(errs, removeKubepods(st)...)
	for name, v := range st.Sysctls {
		if err := os.WriteFile(sysctlPath(name), []byte(v), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("harness: restore %s=%s: %w", name, v, err))
		}
	}
	errs = append(errs, cleanHostDirs(st)...)
	if st.Dir != "" && strings.HasPrefix(st.Dir, os.TempDir()) {
		// Only once no mount is left under it: RemoveAll would descend
		// into a mount and delete what is not the run's.
		if len(mountsUnder(st.Dir)) == 0 {
			errs = appendErr(errs, os.RemoveAll(st.Dir))
		} else {
			errs = append(errs, fmt.Errorf("harness: %s still has mounts; left in place", st.Dir))
		}
	}
	if err := os.Remove(StatePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		return append(errs, err)
	}
	return errs
}

// kubepodsDirs are the kubepods cgroups that the run created.
func kubepodsDirs(st *State) []string {
	var out []string
	for ctl, existed := range st.CgroupsBefore {
		if !existed {
			out = append(out, filepath.Join(ctl, "kubepods"))
		}
	}
	sort.Strings(out)
	return out
}

// killKubepods SIGKILLs, one PID at a time, every process in the run's
// kubepods cgroups: the containers and their pause processes.
func killKubepods(st *State) []error {
	dirs := kubepodsDirs(st)
	if len(dirs) == 0 {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := map[int]bool{}
		for _, d := range dirs {
			_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
				if err != nil || e.IsDir() || e.Name() != "cgroup.procs" {
					return nil
				}
				b, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
						pids[pid] = true
					}
				}
				return nil
			})
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return []error{fmt.Errorf("harness: %d container processes survive in kubepods", len(pids))}
		}
		for pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeKubepods removes the run's kubepods cgroups, deepest first.
func removeKubepods(st *State) []error {
	var errs []error
	for _, root := range kubepodsDirs(st) {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			var err error
			for i := 0; i < 50; i++ {
				if err = unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
					err = nil
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			errs = appendErr(errs, err)
		}
	}
	return errs
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return slices.Compact(out)
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func unmountUnder(dir string) []error {
	var errs []error
	for i := 0; i < 5; i++ {
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, mp := range mps {
			if err := unix.Unmount(mp, 0); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
					errs = append(errs, fmt.Errorf("harness: unmount %s: %w", mp, err))
				}
			}
		}
	}
	return errs
}

// unmountNetns removes the network namespaces the run added to /run/netns.
func unmountNetns(st *State) []error {
	var errs []error
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if slices.Contains(st.NetnsBefore, e.Name()) {
			continue
		}
		p := filepath.Join("/run/netns", e.Name())
		_ = unix.Unmount(p, unix.MNT_DETACH)
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errs
}

// deleteBridge deletes the veths attached to the bridge, then the bridge.
func deleteBridge(name string) []error {
	var errs []error
	out, _ := exec.Command("ip", "-o", "link", "show", "master", name).Output()
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		veth, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		_ = exec.Command("ip", "link", "del", veth).Run()
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", name)); err == nil {
		if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("harness: delete bridge %s: %w: %s", name, err, out))
		}
	}
	return errs
}

// cleanHostDirs removes the host directories that did not exist before
// the run, and the run's own entries in those that did: the log links
// into its pod logs and the CNI cache of its network.
func cleanHostDirs(st *State) []error {
	var errs []error
	for _, d := range hostDirs {
		if slices.Contains(st.NewDirs, d) {
			_ = unmountUnder(d)
			errs = appendErr(errs, removeAllSettled(d))
			continue
		}
		switch d {
		case "/var/log/containers":
			entries, _ := os.ReadDir(d)
			for _, e := range entries {
				p := filepath.Join(d, e.Name())
				if t, err := os.Readlink(p); err == nil && st.Dir != "" && strings.HasPrefix(t, st.Dir+"/") {
					errs = appendErr(errs, os.Remove(p))
				}
			}
		case "/var/lib/cni":
			if st.CNINetwork == "" {
				continue
			}
			matches, _ := filepath.Glob(filepath.Join(d, "results", st.CNINetwork+"-*"))
			more, _ := filepath.Glob(filepath.Join(d, "cache", "results", st.CNINetwork+"-*"))
			for _, m := range append(matches, more...) {
				errs = appendErr(errs, os.Remove(m))
			}
		}
	}
	return errs
}

// removeAllSettled removes dir, and again if a process that was still
// exiting wrote into it meanwhile.
func removeAllSettled(dir string) error {
	for i := 0; i < 5; i++ {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	return fmt.Errorf("harness: %s keeps coming back", dir)
}
