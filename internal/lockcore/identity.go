package lockcore

import (
	"os"
	"strconv"
)

// defaultIdentity is "<hostname>:<pid>", or "pid-<pid>" without a hostname.
func defaultIdentity() string {
	pid := strconv.Itoa(os.Getpid())
	if h, err := os.Hostname(); err == nil && h != "" {
		return h + ":" + pid
	}
	return "pid-" + pid
}
