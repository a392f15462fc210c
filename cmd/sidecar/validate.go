package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/field"
	"github.com/baton-dev/baton/pkg/redislock"
)

// errUsage marks errors that end the process with exit code 2.
var errUsage = errors.New("invalid configuration")

// flagOf names the flag that sets each library field, keyed by package and
// field: the libraries' own rules (a *field.Error) are reported with the
// flags' names through it. MaxHeld and Prefix are httpapi's LocksOptions
// and RedisLocksOptions.
var flagOf = map[string]string{
	"election.Name":           "--lock",
	"election.Identity":       "--identity",
	"election.LeaseTTL":       "--lease-ttl",
	"election.RenewInterval":  "--renew-interval",
	"election.RenewDeadline":  "--renew-deadline",
	"election.ReleaseTimeout": "--release-timeout",
	// The sidecar has no flag of its own for it: a quarter of --renew-interval.
	"election.RetryPeriod": "the retry period (--renew-interval / 4)",

	"api.DefaultHoldOff": "--resign-hold-off",
	"api.AllowedHosts":   "--api-allowed-hosts",
	"api.MaxWatchers":    "--api-max-watchers",
	"api.Token":          "--api-token-file",

	"kubelease.Name":          "--lock",
	"kubelease.Namespace":     "--lease-namespace",
	"kubelease.LeaseTTL":      "--lease-ttl",
	"kubelease.RenewInterval": "--renew-interval",

	"redislock.Prefix":            "--key-prefix",
	"redislock.MinReplicas":       "--redis-min-replicas-ack",
	"redislock.ReplicaAckTimeout": "--redis-replica-ack-timeout",

	"httpapi.MaxHeld": "--locks-max-held",
	"httpapi.Prefix":  "--locks-key-prefix",

	"runsapi.Prefix":      "--runs-key-prefix",
	"runsapi.MaxAttempts": "--runs-max-attempts",

	"supervisor.Command":   "the command after --",
	"supervisor.Lock":      "--lock",
	"supervisor.Identity":  "--identity",
	"supervisor.APIURL":    "--api-addr",
	"supervisor.KillGrace": "--kill-grace",
	"supervisor.OnExit":    "--on-exit",

	"runs.Schedule":    "--schedule",
	"runs.TimeZone":    "--time-zone",
	"runs.MaxAttempts": "--max-attempts",
	"runs.job":         "--lock",
	"runs.Prefix":      "--key-prefix",
	"runs.lease":       "--lease-ttl",
}

// usageError turns a library's *field.Error into a usage error that names
// the flags; scope is the library's package, as in flagOf. A field path
// such as AllowedHosts[1] keeps its index. Other errors pass through.
func usageError(scope string, err error) error {
	var fe *field.Error
	if !errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("%w: %s", errUsage, fe.Render(func(f string) string {
		base, index, indexed := strings.Cut(f, "[")
		name, ok := flagOf[scope+"."+base]
		switch {
		case !ok:
			return f
		case indexed:
			return name + "[" + index
		}
		return name
	}))
}

// rule is one rule of the configuration: check returns what flag must be
// when c breaks the rule, or "".
type rule struct {
	flag  string
	check func(c *config) string
}

// checkRules reports the first rule that c breaks, naming its flag.
func (c *config) checkRules(rules []rule) error {
	for _, r := range rules {
		if broken := r.check(c); broken != "" {
			return fmt.Errorf("%w: %s %s", errUsage, r.flag, broken)
		}
	}
	return nil
}

// validate checks each field and names the flag and the rule it breaks.
func (c *config) validate() error {
	if c.Backend == backendRedis {
		if err := c.checkRules(redisRules); err != nil {
			return err
		}
	}
	if err := c.checkRules(configRules); err != nil {
		return err
	}
	return c.checkRules(kubeRules)
}

// redisRules are the sidecar's own rules of Redis and what stands on it
// (--backend redis), in the order they are checked; pkg/election's rules
// come first (validateElection), pkg/api's later.
var redisRules = []rule{
	{"--key-prefix", func(c *config) string { return prefixRule(c.KeyPrefix) }},
	{"--redis-addr", func(c *config) string { return when(len(c.RedisAddrs) == 0, "must name at least one host:port") }},
	{"--redis-addr", redisAddrsRule},
	{"--redis-mode", func(c *config) string {
		ok := c.RedisMode == modeStandalone || c.RedisMode == modeSentinel || c.RedisMode == modeCluster
		return when(!ok, "must be standalone, sentinel or cluster (got %q)", c.RedisMode)
	}},
	{"--redis-addr", func(c *config) string {
		return when(c.RedisMode == modeStandalone && len(c.RedisAddrs) != 1,
			"must be a single address with --redis-mode=standalone (got %d)", len(c.RedisAddrs))
	}},
	{"--redis-master-name", func(c *config) string {
		return when(c.RedisMode != modeSentinel && c.RedisMasterName != "", "requires --redis-mode=sentinel")
	}},
	{"--redis-master-name", func(c *config) string {
		return when(c.RedisMode == modeSentinel && c.RedisMasterName == "", "is required with --redis-mode=sentinel")
	}},
	{"--redis-db", func(c *config) string {
		return when(c.RedisMode == modeCluster && c.RedisDB != 0, "must be 0 with --redis-mode=cluster")
	}},
	{"--redis-db", func(c *config) string { return when(c.RedisDB < 0, "must not be negative (got %d)", c.RedisDB) }},
	{"--redis-tls", func(c *config) string {
		tlsSet := c.RedisCAFile != "" || c.RedisCertFile != "" || c.RedisKeyFile != "" || c.RedisTLSServerName != ""
		return when(!c.RedisTLS && tlsSet, "must be set when a TLS file or server name is given")
	}},
	{"--redis-cert-file", func(c *config) string {
		return when((c.RedisCertFile == "") != (c.RedisKeyFile == ""), "and --redis-key-file must be given together")
	}},
	{"--redis-min-replicas-ack", func(c *config) string {
		return when(c.RedisMinReplicasAck < 0, "must not be negative (got %d)", c.RedisMinReplicasAck)
	}},
	{"--redis-min-replicas-ack", func(c *config) string {
		return when(c.RedisMinReplicasAck > 0 && c.RedisMode == modeCluster, "is not supported with --redis-mode=cluster")
	}},
	{"--redis-replica-ack-timeout", func(c *config) string {
		d := c.RedisReplicaAckTimeout
		return when(d <= 0 || d%time.Millisecond != 0, "must be a positive whole number of milliseconds (got %v)", d)
	}},
	{"--redis-replica-ack-timeout", func(c *config) string {
		return when(c.RedisMinReplicasAck > 0 && c.RedisReplicaAckTimeout >= c.RenewInterval/2,
			"must be less than --renew-interval/2, the bound of one renew attempt (got %v >= %v): the wait is spent out of the term",
			c.RedisReplicaAckTimeout, c.RenewInterval/2)
	}},
	{"--locks-max-held", func(c *config) string { return when(c.LocksMaxHeld < 1, "must be at least 1 (got %d)", c.LocksMaxHeld) }},
	{"--locks-key-prefix", func(c *config) string { return prefixRule(c.LocksKeyPrefix) }},
	{"--locks-key-prefix", func(c *config) string {
		return when(c.LocksKeyPrefix == c.KeyPrefix,
			"must differ from --key-prefix (both %q): the application's locks would share the election's keys", c.KeyPrefix)
	}},
	{"--runs-key-prefix", func(c *config) string {
		return when(c.RunsKeyPrefix == c.KeyPrefix,
			"must differ from --key-prefix (both %q): the runs would share the election's keys", c.KeyPrefix)
	}},
}

// configRules are the rules of every backend, checked after redisRules.
var configRules = []rule{
	{"--resign-hold-off", func(c *config) string {
		return when(c.ResignHoldOff < 0 || c.ResignHoldOff > election.MaxHoldOff,
			"must lie between 0 and %v (got %v)", election.MaxHoldOff, c.ResignHoldOff)
	}},
	{"--api-addr", func(c *config) string { return when(c.APIAddr == "", "must not be empty") }},
	{"--probe-addr", func(c *config) string { return when(c.ProbeAddr == "", "must not be empty") }},
	{"--probe-addr", func(c *config) string {
		return when(c.APIAddr == c.ProbeAddr && !strings.HasSuffix(c.APIAddr, ":0"), "must differ from --api-addr")
	}},
	{"--ready-when", func(c *config) string { return oneOf(c.ReadyWhen, "connected", "leader") }},
	{"--log-format", func(c *config) string { return oneOf(c.LogFormat, "json", "text") }},
	{"--log-level", func(c *config) string { return oneOf(c.LogLevel, "debug", "info", "warn", "error") }},
}

// when returns the rule format says when broken is true, and "" otherwise.
func when(broken bool, format string, args ...any) string {
	if !broken {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

// oneOf is the rule that v is one of values.
func oneOf(v string, values ...string) string {
	for _, ok := range values {
		if v == ok {
			return ""
		}
	}
	list := strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
	return fmt.Sprintf("must be %s (got %q)", list, v)
}

// prefixRule is the rule of a key prefix: a valid lock name.
func prefixRule(prefix string) string {
	if err := redislock.ValidateName(prefix); err != nil {
		return fmt.Sprintf("is invalid: %v", err)
	}
	return ""
}

// redisAddrsRule is the rule that every --redis-addr entry is host:port.
func redisAddrsRule(c *config) string {
	for _, a := range c.RedisAddrs {
		if i := strings.LastIndex(a, ":"); i <= 0 || i == len(a)-1 {
			return fmt.Sprintf("entries must be host:port (got %q)", a)
		}
	}
	return ""
}
