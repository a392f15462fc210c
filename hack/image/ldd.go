package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"sort"
	"strings"
)

var errLDD = errors.New("image: ldd")

// sharedLibs returns the absolute paths of the shared libraries and the
// dynamic loader that binary needs, as ldd resolves them on this machine.
func sharedLibs(ctx context.Context, binary string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", binary).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w\n%s", errLDD, binary, err, out)
	}
	return parseLDD(string(out))
}

// parseLDD reads ldd's output: "name => /path (addr)" for a library,
// "/path (addr)" for the loader, and a bare "name (addr)" for the vDSO,
// which the kernel provides. A library ldd could not find is an error.
func parseLDD(out string) ([]string, error) {
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.Contains(line, "statically linked") {
			continue
		}
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("%w: missing library: %s", errLDD, line)
		}
		fields := strings.Fields(line)
		var p string
		switch {
		case len(fields) >= 3 && fields[1] == "=>":
			p = fields[2]
		case len(fields) >= 1:
			p = fields[0]
		}
		if !path.IsAbs(p) {
			if strings.HasPrefix(p, "linux-vdso") || strings.HasPrefix(p, "linux-gate") {
				continue
			}
			return nil, fmt.Errorf("%w: cannot read %q", errLDD, line)
		}
		seen[p] = true
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%w: no libraries in %q", errLDD, out)
	}
	libs := make([]string, 0, len(seen))
	for p := range seen {
		libs = append(libs, p)
	}
	sort.Strings(libs)
	return libs, nil
}
