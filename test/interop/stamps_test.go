//go:build linux

package interop

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/baton-dev/baton/internal/clocks"
	"github.com/baton-dev/baton/test/interop/internal/stamp"
)

// interval is one leadership as its process stamped it: a baton replica's
// job, or a client-go elector's work.
type interval struct {
	side, identity string
	pid            int
	start          int64 // CLOCK_MONOTONIC ns
	endStamp       int64 // the end stamp; 0 without one
	stamps         []int64
}

// stampLog reads one Lease's stamp file as it grows, and learns when each
// stamping process died.
type stampLog struct {
	path string

	mu     sync.Mutex
	off    int64
	carry  string
	open   map[int]*interval // by pid, until its end stamp
	all    []*interval
	deaths map[int]int64 // pid: CLOCK_MONOTONIC ns of its death, as its pidfd told
	errs   []string
}

func newStampLog(path string) *stampLog {
	return &stampLog{path: path, open: map[int]*interval{}, deaths: map[int]int64{}}
}

// poll reads the new lines. A job's pidfd is opened as soon as its start is
// read: it runs until a fault, well after.
func (l *stampLog) poll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.Open(l.path)
	if err != nil {
		return // nothing stamped yet
	}
	defer f.Close()
	if _, err := f.Seek(l.off, io.SeekStart); err != nil {
		l.errs = append(l.errs, err.Error())
		return
	}
	b, err := io.ReadAll(f)
	l.off += int64(len(b))
	if err != nil {
		l.errs = append(l.errs, err.Error())
	}
	lines := strings.Split(l.carry+string(b), "\n")
	l.carry = lines[len(lines)-1]
	for _, line := range lines[:len(lines)-1] {
		l.lineLocked(line)
	}
}

func (l *stampLog) lineLocked(line string) {
	fs := strings.Fields(line)
	if len(fs) != 5 {
		l.errs = append(l.errs, fmt.Sprintf("bad stamp %q", line))
		return
	}
	ns, err1 := strconv.ParseInt(fs[1], 10, 64)
	pid, err2 := strconv.Atoi(fs[2])
	if err1 != nil || err2 != nil {
		l.errs = append(l.errs, fmt.Sprintf("bad stamp %q", line))
		return
	}
	iv := l.open[pid]
	switch {
	case fs[0] == stamp.Start:
		if iv != nil {
			l.errs = append(l.errs, fmt.Sprintf("pid %d started twice", pid))
		}
		iv = &interval{side: fs[3], identity: fs[4], pid: pid, start: ns}
		l.open[pid] = iv
		l.all = append(l.all, iv)
		if fs[3] == stamp.Baton {
			l.watchDeathLocked(pid)
		}
	case iv == nil:
		l.errs = append(l.errs, fmt.Sprintf("stamp of pid %d outside an interval: %q", pid, line))
		return
	case fs[0] == stamp.End:
		iv.endStamp = ns
		delete(l.open, pid)
	}
	iv.stamps = append(iv.stamps, ns)
}

// watchDeath records when pid dies: a pidfd becomes readable when the
// process has exited (before its reap), and the time read after the wake-up
// is an upper bound of its last act.
func (l *stampLog) watchDeath(pid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.watchDeathLocked(pid)
}

func (l *stampLog) watchDeathLocked(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		// Already gone and reaped: its end stamp must be there, or the
		// check reports an interval without an end.
		return
	}
	go func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err == nil || err != unix.EINTR {
				break
			}
		}
		now := clocks.MonotonicNS()
		l.mu.Lock()
		l.deaths[pid] = now
		l.mu.Unlock()
	}()
}

// started returns the intervals begun after ns by side, in order.
func (l *stampLog) started(side string, after int64) []*interval {
	l.poll()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*interval
	for _, iv := range l.all {
		if iv.side == side && iv.start > after {
			out = append(out, iv)
		}
	}
	return out
}

// snapshot returns copies of the intervals, the deaths and the errors.
func (l *stampLog) snapshot() ([]interval, map[int]int64, []string) {
	l.poll()
	l.mu.Lock()
	defer l.mu.Unlock()
	ivs := make([]interval, len(l.all))
	for i, iv := range l.all {
		ivs[i] = *iv
		ivs[i].stamps = append([]int64(nil), iv.stamps...)
	}
	deaths := make(map[int]int64, len(l.deaths))
	for k, v := range l.deaths {
		deaths[k] = v
	}
	return ivs, deaths, append([]string(nil), l.errs...)
}
