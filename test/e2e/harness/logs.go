//go:build linux

package harness

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogLine is one line of a container's log as the kubelet's CRI log file
// has it, timestamped by containerd when it read the line: one clock for
// every container of the node, so that lines of different containers can
// be ordered.
type LogLine struct {
	Time    time.Time
	Pod     string
	Attempt int // the container's restart count when it wrote the line
	Text    string
}

// LogCollector keeps a copy of every container log under the pod logs
// directory, polled, so that the logs of a deleted pod stay readable.
type LogCollector struct {
	dir   string
	mu    sync.Mutex
	files map[string][]byte // path -> content last read
	stop  context.CancelFunc
	done  chan struct{}
}

// CollectLogs starts polling the pod logs every interval until Stop.
func (c *Cluster) CollectLogs(interval time.Duration) *LogCollector {
	ctx, cancel := context.WithCancel(context.Background())
	lc := &LogCollector{dir: c.PodLogsDir, files: map[string][]byte{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(lc.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			lc.Poll()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return lc
}

// Stop ends the polling after one last poll.
func (lc *LogCollector) Stop() {
	lc.stop()
	<-lc.done
	lc.Poll()
}

// Poll reads every log file once.
func (lc *LogCollector) Poll() {
	matches, _ := filepath.Glob(filepath.Join(lc.dir, "*", "*", "*.log"))
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		lc.mu.Lock()
		if len(b) >= len(lc.files[m]) {
			lc.files[m] = b
		}
		lc.mu.Unlock()
	}
}

// Lines are the lines of one container (by name) of the pods of a
// namespace whose name has the prefix podPrefix, in time order.
func (lc *LogCollector) Lines(namespace, podPrefix, container string) []LogLine {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	var out []LogLine
	for path, b := range lc.files {
		rel, _ := filepath.Rel(lc.dir, path)
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 3 || parts[1] != container {
			continue
		}
		// <namespace>_<pod>_<uid>
		f := strings.Split(parts[0], "_")
		if len(f) != 3 || f[0] != namespace || !strings.HasPrefix(f[1], podPrefix) {
			continue
		}
		attempt, _ := strconv.Atoi(strings.TrimSuffix(parts[2], ".log"))
		out = append(out, parseCRILog(string(b), f[1], attempt)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// parseCRILog parses "<RFC3339Nano> <stream> <P|F> <text>" lines, joining
// partial (P) lines.
func parseCRILog(s, pod string, attempt int) []LogLine {
	var out []LogLine
	var partial strings.Builder
	for _, l := range strings.Split(s, "\n") {
		f := strings.SplitN(l, " ", 4)
		if len(f) < 4 {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f[0])
		if err != nil {
			continue
		}
		partial.WriteString(f[3])
		if f[2] == "P" {
			continue
		}
		out = append(out, LogLine{Time: t, Pod: pod, Attempt: attempt, Text: partial.String()})
		partial.Reset()
	}
	return out
}
