package main

import (
	"bytes"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/pkg/redislock"
)

// TestElectionClientLetsARenewalUseItsTime: a renewal may take up to
// renew-deadline − renew-interval without costing a term (issue 17, item
// 5), so neither the election client's socket timeouts nor its lock's
// attempt timeout may cut a call shorter.
func TestElectionClientLetsARenewalUseItsTime(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"ttl 3s", []string{"--lease-ttl", "3s"}},
		{"default ttl", nil},
		{"short interval", []string{"--lease-ttl", "3s", "--renew-interval", "500ms", "--renew-deadline", "2500ms"}},
		{"long ttl", []string{"--lease-ttl", "60s"}},
		{"long ttl, replica acks", []string{"--lease-ttl", "60s", "--redis-min-replicas-ack", "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--lock", "j", "--redis-addr", "127.0.0.1:1"}, tc.args...)
			c, err := parseConfig(args, env(nil), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			rtt := c.RenewDeadline - c.RenewInterval
			client, err := redisClient(c)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = client.Close() }()
			o := client.(*redis.Client).Options()
			if o.ReadTimeout < rtt || o.WriteTimeout < rtt {
				t.Errorf("socket timeouts read %v, write %v: below the %v a renewal may take", o.ReadTimeout, o.WriteTimeout, rtt)
			}
			attempt := electionAttemptTimeout(c)
			if attempt == 0 {
				attempt = redislock.DefaultAttemptTimeout
			}
			if c.RedisMinReplicasAck > 0 {
				rtt += c.RedisReplicaAckTimeout
			}
			if attempt < rtt {
				t.Errorf("attempt timeout %v: below the %v a renewal may take", attempt, rtt)
			}
		})
	}
}
