package runs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/runs"
)

// On a Redis Cluster (one node owning every slot, which checks slots all
// the same), every script's keys lie in the job's slot, and the calls and
// the channel work through a ClusterClient.
func TestCluster(t *testing.T) {
	srv := redistest.Start(t, "cluster-enabled yes", "cluster-config-file nodes.conf")
	admin := srv.Client()
	if err := admin.Do(t.Context(), "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "cluster_state:ok", func() bool {
		return strings.Contains(admin.ClusterInfo(t.Context()).Val(), "cluster_state:ok")
	})
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
	t.Cleanup(func() { _ = c.Close() })
	j, err := runs.New(c, "report", runs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := j.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := j.Now(t.Context()); err != nil {
		t.Fatal(err)
	}
	r, err := j.Claim(t.Context(), "2026-12-07T03:00:00Z", time.Minute, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(t.Context(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	resumed, err := j.Resume(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := resumed.Renew(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Complete(t.Context(), runs.Succeeded); err != nil {
		t.Fatal(err)
	}
	if info, err := j.Inspect(t.Context()); err != nil || info.LastSuccess == nil || info.LastSuccess.RunID != r.ID {
		t.Fatalf("Inspect: %+v, %v", info, err)
	}
}
