package redistest

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// Main runs a package's tests and examples with one redis-server of their
// own, whose address it stores in *addr first, as etcd's concurrency
// examples do with their cluster. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m, &redisAddr)) }
//
// Without redis-server it fails under CI=true, and otherwise runs with
// *addr empty, so that the examples fail and the rest can skip.
func Main(m *testing.M, addr *string) int {
	dir, err := os.MkdirTemp("", "redistest-main-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	p, err := Launch(context.Background(), dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "redistest: the examples' redis-server: %v (run `make test`, which installs it)\n", err)
		if os.Getenv("CI") == "true" {
			return 1
		}
		return m.Run()
	}
	defer p.Stop()
	*addr = p.Addr()
	return m.Run()
}
