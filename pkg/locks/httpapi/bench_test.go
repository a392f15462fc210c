//go:build unix

package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// BenchmarkLockAPI is one client's POST /locks/{name} and DELETE over
// keep-alive HTTP on loopback, the sidecar's path without its process:
// the cost the API adds to the library's acquire and release, for
// -cpuprofile. The Redis client is the sidecar's kind, which bounds each
// call by its context.
func BenchmarkLockAPI(b *testing.B) {
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = rdb.Close() })
	backend, err := httpapi.NewRedisLocks(rdb, httpapi.RedisLocksOptions{Identity: "sidecar-1"})
	if err != nil {
		b.Fatal(err)
	}
	locks, err := httpapi.NewLocks(backend, httpapi.LocksOptions{})
	if err != nil {
		b.Fatal(err)
	}
	base := serveAPI(b, api.Options{Routes: []api.Routes{locks}}) + "/locks/bench"
	client := &http.Client{}
	call := func(method, url string, out any) {
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%s %s = %d %s (%v)", method, url, resp.StatusCode, body, err)
		}
		if out != nil {
			if err := json.Unmarshal(body, out); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		var lock httpapi.LockBody
		call(http.MethodPost, base+"?lease=30s", &lock)
		call(http.MethodDelete, base+"?token="+lock.Token, nil)
	}
}
