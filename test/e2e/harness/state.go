//go:build linux

package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// StatePath is where the harness records what it changed on the host, so
// that the next run can undo what a crashed one left.
var StatePath = filepath.Join(os.TempDir(), "baton-e2e.state.json")

// State is everything a teardown must undo. It is written to StatePath on
// every change.
type State struct {
	// Dir holds all of the cluster's own state.
	Dir string `json:"dir"`
	// Procs are the processes the harness started, in start order.
	Procs []RecordedProc `json:"procs"`
	// ContainerdSocket identifies containerd's shims (their -address).
	ContainerdSocket string `json:"containerdSocket"`
	// Bridge is the pods' bridge, when the harness created it.
	Bridge string `json:"bridge,omitempty"`
	// Guard is the egress guard rule (iptables -I FORWARD args), when added.
	Guard []string `json:"guard,omitempty"`
	// Sysctls are the values to write back (name -> value).
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// NewDirs are host directories that did not exist before: removed.
	NewDirs []string `json:"newDirs,omitempty"`
	// NetnsBefore are the entries of /run/netns before the run.
	NetnsBefore []string `json:"netnsBefore,omitempty"`
	// ChainsBefore are the KUBE-/CNI- chains per "cmd/table" before the run.
	ChainsBefore map[string][]string `json:"chainsBefore,omitempty"`
	// CgroupsBefore says, per cgroup controller dir, whether kubepods existed.
	CgroupsBefore map[string]bool `json:"cgroupsBefore,omitempty"`
	// CNINetwork is the CNI network name, to find its cache entries.
	CNINetwork string `json:"cniNetwork,omitempty"`

	mu sync.Mutex
}

// RecordedProc is a started process: its PID and its start time in clock
// ticks since boot (/proc/PID/stat field 22), which tells it apart from a
// later process with the same PID.
type RecordedProc struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// update changes the state under its lock and saves it.
func (s *State) update(f func(*State)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
	return s.saveLocked()
}

func (s *State) saveLocked() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("harness: encode state: %w", err)
	}
	tmp := StatePath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("harness: write state: %w", err)
	}
	if err := os.Rename(tmp, StatePath); err != nil {
		return fmt.Errorf("harness: write state: %w", err)
	}
	return nil
}

// loadState reads StatePath; ok is false when there is none.
func loadState() (st *State, ok bool, err error) {
	b, err := os.ReadFile(StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("harness: read state: %w", err)
	}
	st = &State{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, false, fmt.Errorf("harness: decode state %s: %w", StatePath, err)
	}
	return st, true, nil
}

// snapshot is a copy of the state, for a teardown that may run while the
// bring-up still records.
func (s *State) snapshot() *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &State{
		Dir: s.Dir, Procs: append([]RecordedProc(nil), s.Procs...), ContainerdSocket: s.ContainerdSocket,
		Bridge: s.Bridge, Guard: s.Guard, Sysctls: s.Sysctls, NewDirs: s.NewDirs, NetnsBefore: s.NetnsBefore,
		ChainsBefore: s.ChainsBefore, CgroupsBefore: s.CgroupsBefore, CNINetwork: s.CNINetwork,
	}
}
