package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// install copies the running binary to dest, for an init container that
// puts baton into a volume shared with the job's container: the distroless
// image has no cp. It writes to a temporary file beside dest and renames it,
// so that dest is never half-written.
func install(args []string, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintln(stderr, "baton: usage: baton install DEST")
		return exitUsage
	}
	if err := copySelf(args[0]); err != nil {
		fmt.Fprintf(stderr, "baton: install: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func copySelf(dest string) (err error) {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary: %w", err)
	}
	src, err := os.Open(self)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".baton-install-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, src); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Chmod(0o755); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}
