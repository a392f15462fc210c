package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// batonLDFlags returns the linker flags of baton's binary: stripped, and
// stamped with its version and revision. The Makefile's LDFLAGS and the
// Dockerfile's build step say the same; dockerfile_test.go checks that all
// three agree.
func batonLDFlags(version, revision string) string {
	return fmt.Sprintf("-s -w -X main.version=%s -X main.revision=%s", version, revision)
}

// goBuildEnv is the environment every binary of an image is built with on
// top of the caller's: static, for Linux on arch.
func goBuildEnv(arch string) []string {
	return []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + arch}
}

// goBuildArgs returns the arguments of `go` that build pkg into out, with
// -trimpath (no paths of the build machine in the binary) and ldflags.
func goBuildArgs(pkg, out, ldflags string) []string {
	args := []string{"build", "-trimpath"}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	return append(args, "-o", out, pkg)
}

// goBuild builds pkg with goTool into dir and returns the binary's content.
func goBuild(ctx context.Context, goTool, dir, pkg, ldflags, arch string) ([]byte, error) {
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, goTool, goBuildArgs(pkg, out, ldflags)...)
	cmd.Env = append(os.Environ(), goBuildEnv(arch)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return os.ReadFile(out)
}
