package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/field"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestInvalidConfigExitsWithCode2BeforeAnyRedisCall(t *testing.T) {
	addr := undialedRedis(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyToken := filepath.Join(dir, "empty-token")
	if err := os.WriteFile(emptyToken, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badToken := filepath.Join(dir, "bad-token")
	if err := os.WriteFile(badToken, []byte("has space\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no lock", []string{"--redis-addr", addr}, nil, "--lock is required"},
		{"bad lock", []string{"--lock", "a{b}", "--redis-addr", addr}, nil, "--lock must be 1 to 128 characters"},
		{"lock that looks like a field", []string{"--lock", "{LeaseTTL}", "--redis-addr", addr}, nil, `(got "{LeaseTTL}")`},
		{"bad prefix", []string{"--lock", "j", "--key-prefix", "a b", "--redis-addr", addr}, nil, "--key-prefix"},
		{"unknown flag", []string{"--lock", "j", "--nope"}, nil, "flag provided but not defined"},
		{"stray argument", []string{"--lock", "j", "extra"}, nil, `unexpected argument "extra"`},
		{"deadline above ttl", []string{"--lock", "j", "--redis-addr", addr, "--lease-ttl", "15s", "--renew-deadline", "20s"}, nil, "--renew-deadline must be less than --lease-ttl"},
		{"interval above deadline", []string{"--lock", "j", "--redis-addr", addr, "--renew-interval", "11s"}, nil, "--renew-interval must be less than --renew-deadline"},
		{"negative interval", []string{"--lock", "j", "--redis-addr", addr, "--renew-interval", "-1s"}, nil, "--renew-interval must be greater than 0"},
		{"sub-millisecond ttl", []string{"--lock", "j", "--redis-addr", addr, "--lease-ttl", "1500us"}, nil, "--lease-ttl must be a whole number of milliseconds"},
		{"bad ready-when", []string{"--lock", "j", "--redis-addr", addr, "--ready-when", "always"}, nil, "--ready-when must be connected or leader"},
		{"bad log format", []string{"--lock", "j", "--redis-addr", addr, "--log-format", "xml"}, nil, "--log-format must be json or text"},
		{"bad mode", []string{"--lock", "j", "--redis-addr", addr, "--redis-mode", "ring"}, nil, "--redis-mode must be standalone, sentinel or cluster"},
		{"sentinel without master", []string{"--lock", "j", "--redis-addr", addr, "--redis-mode", "sentinel"}, nil, "--redis-master-name is required"},
		{"master without sentinel", []string{"--lock", "j", "--redis-addr", addr, "--redis-master-name", "m"}, nil, "--redis-master-name requires --redis-mode=sentinel"},
		{"two standalone addrs", []string{"--lock", "j", "--redis-addr", addr + "," + addr}, nil, "--redis-addr must be a single address"},
		{"addr without port", []string{"--lock", "j", "--redis-addr", "localhost"}, nil, "--redis-addr entries must be host:port"},
		{"cluster db", []string{"--lock", "j", "--redis-addr", addr, "--redis-mode", "cluster", "--redis-db", "1"}, nil, "--redis-db must be 0"},
		{"ca without tls", []string{"--lock", "j", "--redis-addr", addr, "--redis-ca-file", ca}, nil, "--redis-tls must be set"},
		{"bad ca", []string{"--lock", "j", "--redis-addr", addr, "--redis-tls", "--redis-ca-file", ca}, nil, "--redis-ca-file: no PEM certificate"},
		{"cert without key", []string{"--lock", "j", "--redis-addr", addr, "--redis-tls", "--redis-cert-file", ca}, nil, "--redis-cert-file and --redis-key-file"},
		{"missing password file", []string{"--lock", "j", "--redis-addr", addr, "--redis-password-file", filepath.Join(dir, "none")}, nil, "--redis-password-file"},
		{"password twice", []string{"--lock", "j", "--redis-addr", addr, "--redis-password-file", ca}, map[string]string{"BATON_REDIS_PASSWORD": "x"}, "not both"},
		{"same listen addrs", []string{"--lock", "j", "--redis-addr", addr, "--api-addr", ":9000", "--probe-addr", ":9000"}, nil, "--probe-addr must differ"},
		{"bad env duration", []string{"--lock", "j", "--redis-addr", addr}, map[string]string{"BATON_LEASE_TTL": "soon"}, `BATON_LEASE_TTL="soon"`},
		{"bad env lock", nil, map[string]string{"BATON_LOCK": "a b", "BATON_REDIS_ADDR": addr}, "--lock must be"},
		{"identity with space", []string{"--lock", "j", "--redis-addr", addr, "--identity", "a b"}, nil, "--identity must contain printable characters"},
		{"negative replica acks", []string{"--lock", "j", "--redis-addr", addr, "--redis-min-replicas-ack", "-1"}, nil, "--redis-min-replicas-ack must not be negative"},
		{"replica acks in cluster", []string{"--lock", "j", "--redis-addr", addr, "--redis-mode", "cluster", "--redis-min-replicas-ack", "1"}, nil, "--redis-min-replicas-ack is not supported with --redis-mode=cluster"},
		{"hold-off above the maximum", []string{"--lock", "j", "--redis-addr", addr, "--resign-hold-off", "2h"}, nil, "--resign-hold-off must lie between 0 and 1h0m0s"},
		{"empty token file", []string{"--lock", "j", "--redis-addr", addr, "--api-token-file", emptyToken}, nil, "--api-token-file: " + emptyToken + " is empty"},
		{"missing token file", []string{"--lock", "j", "--redis-addr", addr, "--api-token-file", filepath.Join(dir, "none")}, nil, "--api-token-file"},
		{"token with a space", []string{"--lock", "j", "--redis-addr", addr, "--api-token-file", badToken}, nil, "--api-token-file"},
		{"negative watchers", []string{"--lock", "j", "--redis-addr", addr, "--api-max-watchers", "-1"}, nil, "--api-max-watchers"},
		{"wildcard allowed host", []string{"--lock", "j", "--redis-addr", addr, "--api-allowed-hosts", "0.0.0.0"}, nil, "--api-allowed-hosts"},
		{"zero locks max held", []string{"--lock", "j", "--redis-addr", addr, "--locks-max-held", "0"}, nil, "--locks-max-held must be at least 1"},
		{"bad locks prefix", []string{"--lock", "j", "--redis-addr", addr, "--locks-key-prefix", "a:b"}, nil, "--locks-key-prefix is invalid"},
		{"locks prefix is the election's", []string{"--lock", "j", "--redis-addr", addr, "--locks-key-prefix", "baton"}, nil, "--locks-key-prefix must differ from --key-prefix"},
		{"election prefix is the locks'", []string{"--lock", "j", "--redis-addr", addr, "--key-prefix", "baton-locks"}, nil, "--locks-key-prefix must differ from --key-prefix"},
		{"ack timeout above interval", []string{"--lock", "j", "--redis-addr", addr, "--lease-ttl", "3s", "--redis-min-replicas-ack", "1", "--redis-replica-ack-timeout", "1s"}, nil, "--redis-replica-ack-timeout must be less than --renew-interval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, env(tc.env), &stdout, &stderr)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.want)
			}
			if n := strings.Count(strings.TrimSpace(stderr.String()), "\n"); n > 0 && !strings.Contains(tc.want, "flag provided") {
				t.Errorf("want one line, got %d:\n%s", n+1, stderr.String())
			}
		})
	}
}

func TestConfigFromEnvironmentAndDefaults(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseConfig([]string{"--lease-ttl", "30s", "--redis-password-file", pw}, env(map[string]string{
		"BATON_LOCK":       "nightly",
		"BATON_REDIS_ADDR": "r1:6380",
		"BATON_LEASE_TTL":  "1s", // the flag wins
		"BATON_READY_WHEN": "leader",
		"BATON_REDIS_TLS":  "true",
		"POD_NAME":         "pod-7",
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"lock", c.Lock, "nightly"},
		{"identity from POD_NAME", c.Identity, "pod-7"},
		{"addrs", strings.Join(c.RedisAddrs, ","), "r1:6380"},
		{"flag wins over env", c.LeaseTTL, 30 * time.Second},
		{"renew interval ttl/3", c.RenewInterval, 10 * time.Second},
		{"renew deadline 2ttl/3", c.RenewDeadline, 20 * time.Second},
		{"hold-off defaults to ttl", c.ResignHoldOff, 30 * time.Second},
		{"password from file", c.RedisPassword, "s3cret"},
		{"ready-when from env", c.ReadyWhen, "leader"},
		{"tls from env", c.RedisTLS, true},
		{"api addr", c.APIAddr, "127.0.0.1:4040"},
		{"probe addr", c.ProbeAddr, ":8081"},
		{"mode", c.RedisMode, "standalone"},
		{"log format", c.LogFormat, "json"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	c, err = parseConfig([]string{"--lock", "j", "--resign-hold-off", "0s"}, env(map[string]string{"BATON_REDIS_PASSWORD": "pw"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ResignHoldOff != 0 || c.RedisPassword != "pw" {
		t.Errorf("explicit zero hold-off = %v, password %q", c.ResignHoldOff, c.RedisPassword)
	}
	c, err = parseConfig([]string{"--lock", "j"}, env(map[string]string{"BATON_RESIGN_HOLD_OFF": "0s"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ResignHoldOff != 0 {
		t.Errorf("zero hold-off from the environment = %v, want 0", c.ResignHoldOff)
	}
}

// Every flag in flagOf exists, so that a library's rule names a real flag.
func TestFlagOfNamesFlags(t *testing.T) {
	var usage strings.Builder
	if _, err := parseRunConfig([]string{"-h"}, env(nil), &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for key, name := range flagOf {
		if f, ok := strings.CutPrefix(name, "--"); ok && !strings.Contains(usage.String(), "  -"+f+" ") {
			t.Errorf("flagOf[%q] = %q, which is no flag of baton run", key, name)
		}
	}
}

func TestUsageErrorNamesTheFlags(t *testing.T) {
	err := fmt.Errorf("election: invalid config: %w",
		field.Invalid("RenewDeadline", "must be less than {LeaseTTL} (got %v >= %v)", 20*time.Second, 15*time.Second))
	got := usageError("election", err)
	if want := "invalid configuration: --renew-deadline must be less than --lease-ttl (got 20s >= 15s)"; !errors.Is(got, errUsage) || got.Error() != want {
		t.Errorf("usageError = %v; want errUsage: %s", got, want)
	}
	err = field.Invalid("AllowedHosts[2]", "must name a host")
	if got, want := usageError("api", err).Error(), "invalid configuration: --api-allowed-hosts[2] must name a host"; got != want {
		t.Errorf("usageError = %s; want %s", got, want)
	}
	if other := errors.New("dial tcp: refused"); usageError("api", other) != other {
		t.Error("usageError changed an error that is not a *field.Error")
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, env(nil), &out, &out); code != exitOK || !strings.HasPrefix(out.String(), "baton ") {
		t.Errorf("version: code %d, output %q", code, out.String())
	}
}

// undialedRedis returns the address of a listener that stands in for Redis:
// at cleanup, the test fails if anything connected to it, which would mean
// the sidecar talked to "Redis" before rejecting its configuration.
func undialedRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dialed := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			dialed <- struct{}{}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		select {
		case <-dialed:
			t.Error("the sidecar connected to Redis despite an invalid configuration")
		default:
		}
	})
	return ln.Addr().String()
}
