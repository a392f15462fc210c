package proc

import (
	"os"
	"testing"
)

func TestReadSelf(t *testing.T) {
	rss, hwm, err := RSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || hwm < rss {
		t.Errorf("RSS = %d, HWM = %d", rss, hwm)
	}
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}
