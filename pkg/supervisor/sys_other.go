//go:build !unix

package supervisor

import (
	"context"
	"log/slog"
	"os"
	"syscall"
)

// platformSupported refuses exec mode: there are no process groups to stop
// a job with all its descendants.
func platformSupported() error { return ErrUnsupported }

func sysProcAttr() *syscall.SysProcAttr                    { return nil }
func signalGroup(int, syscall.Signal) error                { return ErrUnsupported }
func groupExists(int) bool                                 { return false }
func groupAlive(int) bool                                  { return false }
func waitExited(int)                                       {}
func decodeWait(ps *os.ProcessState) (int, syscall.Signal) { return ps.ExitCode(), 0 }

// BecomeSubreaper returns ErrUnsupported: it is Linux only.
func BecomeSubreaper() error { return ErrUnsupported }

// ReapOrphans returns ErrUnsupported: it is Linux only.
func ReapOrphans(context.Context, *slog.Logger) error { return ErrUnsupported }
