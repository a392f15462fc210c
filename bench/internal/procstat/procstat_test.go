package procstat

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadSelf(t *testing.T) {
	rss, hwm, err := RSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || hwm < rss {
		t.Errorf("RSS = %d, HWM = %d", rss, hwm)
	}
	if f := strings.Fields(LoadAvg()); len(f) != 3 {
		t.Errorf("LoadAvg = %q, want three fields", LoadAvg())
	}
}

// TestCPUTimeGrows spins until the process's CPU time moves on (its
// resolution is 10 ms), bounded in wall time.
func TestCPUTimeGrows(t *testing.T) {
	start, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for x := 0; ; x++ {
		if x%1_000_000 == 0 {
			now, err := CPUTime(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			if now > start {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("CPU time stayed at %v for 20s of spinning", start)
			}
		}
	}
}

func TestNoSuchProcess(t *testing.T) {
	const pid = 1 << 30 // above pid_max
	if _, _, err := RSS(pid); err == nil {
		t.Error("RSS of a missing process: no error")
	}
	if _, err := CPUTime(pid); err == nil {
		t.Error("CPUTime of a missing process: no error")
	}
}
