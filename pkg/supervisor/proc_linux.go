package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// procStat is what the supervisor reads of /proc/<pid>/stat.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
}

// dead reports a zombie (Z) or a process being torn down (X).
func (p procStat) dead() bool { return p.state == 'Z' || p.state == 'X' }

// parseProcStat parses a /proc/<pid>/stat line: "pid (comm) state ppid
// pgrp ...". The command name may hold spaces and parentheses, so the
// fields are counted from its last closing parenthesis.
func parseProcStat(b []byte) (procStat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return procStat{}, fmt.Errorf("supervisor: malformed /proc stat %q", b)
	}
	rest := bytes.Fields(b[end+1:])
	if len(rest) < 3 || len(rest[0]) != 1 {
		return procStat{}, fmt.Errorf("supervisor: malformed /proc stat %q", b)
	}
	var p procStat
	var err error
	if p.pid, err = strconv.Atoi(string(bytes.TrimSpace(b[:open]))); err != nil {
		return procStat{}, fmt.Errorf("supervisor: malformed /proc stat pid: %w", err)
	}
	p.state = rest[0][0]
	if p.ppid, err = strconv.Atoi(string(rest[1])); err != nil {
		return procStat{}, fmt.Errorf("supervisor: malformed /proc stat ppid: %w", err)
	}
	if p.pgrp, err = strconv.Atoi(string(rest[2])); err != nil {
		return procStat{}, fmt.Errorf("supervisor: malformed /proc stat pgrp: %w", err)
	}
	return p, nil
}

// scanProcs calls fn for every process in /proc. Processes that vanish
// during the scan are skipped.
func scanProcs(fn func(procStat)) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // exited and reaped meanwhile
		}
		p, err := parseProcStat(b)
		if err != nil {
			return err
		}
		fn(p)
	}
	return nil
}
