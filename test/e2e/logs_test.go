//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/test/e2e/harness"
)

// copyLogs copies the components' and the pods' logs to dir, before the
// teardown removes them.
func copyLogs(t *testing.T, c *harness.Cluster, dir string) {
	dst := filepath.Join(dir, time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Logf("e2e: copy logs: %v", err)
		return
	}
	for _, src := range []string{filepath.Join(c.Dir, "logs"), c.PodLogsDir} {
		if out, err := exec.Command("cp", "-rL", src, dst).CombinedOutput(); err != nil {
			t.Logf("e2e: copy logs: %v: %s", err, out)
		}
	}
	t.Logf("e2e: logs copied to %s", dst)
}

// batonMsg is the msg of one of baton's JSON log lines, "" for others.
func batonMsg(l harness.LogLine) string {
	var m struct {
		Msg string `json:"msg"`
	}
	if json.Unmarshal([]byte(l.Text), &m) != nil {
		return ""
	}
	return m.Msg
}

// find is the first line of pod at or after t whose text or baton msg has
// prefix.
func find(lines []harness.LogLine, pod string, after time.Time, prefix string) (harness.LogLine, bool) {
	for _, l := range lines {
		if l.Pod != pod || l.Time.Before(after) {
			continue
		}
		if strings.HasPrefix(l.Text, prefix) || strings.HasPrefix(batonMsg(l), prefix) {
			return l, true
		}
	}
	return harness.LogLine{}, false
}

// grepLines are the lines containing any of the words.
func grepLines(lines []harness.LogLine, words ...string) []string {
	var out []string
	for _, l := range lines {
		for _, w := range words {
			if strings.Contains(l.Text, w) {
				out = append(out, l.Pod+": "+l.Text)
				break
			}
		}
	}
	return out
}
