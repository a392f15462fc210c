package supervisor

import (
	"os"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		line string
		want procStat
	}{
		{"123 (sleep) S 1 123 123 0 -1", procStat{pid: 123, ppid: 1, pgrp: 123, state: 'S'}},
		{"7 (a) (b) c) Z 5 6 7", procStat{pid: 7, ppid: 5, pgrp: 6, state: 'Z'}},
		{"8 (x y) R 2 3", procStat{pid: 8, ppid: 2, pgrp: 3, state: 'R'}},
	} {
		got, err := parseProcStat([]byte(tc.line))
		if err != nil || got != tc.want {
			t.Errorf("parseProcStat(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "123", "123 (x", "123 (x) S", "x (y) S 1 2", "1 (y) S a 2", "1 (y) SS 1 2"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) accepted it", bad)
		}
	}
}

func TestScanProcsFindsThisProcess(t *testing.T) {
	found := false
	err := scanProcs(func(p procStat) {
		if p.pid == os.Getpid() {
			found = p.ppid == os.Getppid() && !p.dead()
		}
	})
	if err != nil || !found {
		t.Errorf("scanProcs: %v; found this process with its parent: %v", err, found)
	}
}
