package sidecartest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles the sidecar from this checkout into a new temporary
// directory and returns the binary's path and a function that removes it.
// The tests that drive real sidecar processes build it once, in TestMain.
func Build() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "baton-bin-")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "baton")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/baton-dev/baton/cmd/sidecar").CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("sidecartest: go build: %w\n%s", err, out)
	}
	return bin, func() { _ = os.RemoveAll(dir) }, nil
}
