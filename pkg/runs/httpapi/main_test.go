package runsapi_test

import (
	"os"
	"testing"

	"github.com/baton-dev/baton/internal/redistest"
)

// redisAddr is the address of the redis-server that TestMain starts for
// the examples.
var redisAddr string

func TestMain(m *testing.M) { os.Exit(redistest.Main(m, &redisAddr)) }
