package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/baton-dev/baton/pkg/api"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/kube"
	"github.com/baton-dev/baton/pkg/locks/httpapi"
	"github.com/baton-dev/baton/pkg/redislock"
	runsapi "github.com/baton-dev/baton/pkg/runs/httpapi"
)

// Redis modes accepted by --redis-mode.
const (
	modeStandalone = "standalone"
	modeSentinel   = "sentinel"
	modeCluster    = "cluster"
)

// config is everything the sidecar is told at start-up. Each field is a flag
// with an environment fallback BATON_<FLAG>, for example --redis-addr and
// BATON_REDIS_ADDR. A flag on the command line wins over the environment.
type config struct {
	Lock      string
	Identity  string
	KeyPrefix string

	// Backend is where the lease lives (backend.go): Redis, or a
	// Kubernetes Lease in LeaseNamespace.
	Backend        string
	LeaseNamespace string

	RedisAddrs            []string
	RedisMode             string
	RedisMasterName       string
	RedisUsername         string
	RedisPassword         string // from BATON_REDIS_PASSWORD or --redis-password-file
	RedisPasswordFile     string
	RedisSentinelPassword string // from BATON_REDIS_SENTINEL_PASSWORD or the file
	RedisSentinelPassFile string
	RedisDB               int
	RedisTLS              bool
	RedisCAFile           string
	RedisCertFile         string
	RedisKeyFile          string
	RedisTLSServerName    string
	// RedisMinReplicasAck > 0 makes each acquire wait for that many replica
	// acknowledgements (WAIT) and give the lease back without them.
	RedisMinReplicasAck    int
	RedisReplicaAckTimeout time.Duration

	LeaseTTL       time.Duration
	RenewInterval  time.Duration
	RenewDeadline  time.Duration
	ReleaseTimeout time.Duration
	ResignHoldOff  time.Duration

	APIAddr string
	// APITokenFile holds the bearer token that the API's state-changing
	// calls require; APIToken is its content.
	APITokenFile    string
	APIToken        string
	APIAllowedHosts []string
	APIMaxWatchers  int
	ProbeAddr       string
	ReadyWhen       string
	LogFormat       string
	LogLevel        string

	// The application locks of the API (locks.go).
	LocksMaxHeld   int
	LocksKeyPrefix string
	// The runs of the API (runs.go).
	RunsKeyPrefix   string
	RunsMaxAttempts int

	// The Kubernetes publisher (kube.go): --kube, --kube-label-key,
	// --kubeconfig, and this pod from the downward API.
	Kube         string
	KubeLabelKey string
	Kubeconfig   string
	PodName      string // from POD_NAME
	PodNamespace string // from POD_NAMESPACE

	// Exec is set by `baton run` (exec.go); its Command is empty otherwise.
	Exec execConfig
	// Schedule is set by `baton run --schedule` (schedule_config.go).
	Schedule scheduleConfig
}

// parseConfig reads flags from args and the BATON_* environment, fills the
// defaults and validates every field. It never touches the network.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	return parseFlags(args, nil, getenv, stderr)
}

// parseRunConfig is parseConfig for `baton run [flags] -- CMD [ARGS...]`:
// the sidecar's flags, the exec flags, and the command.
func parseRunConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	flags, command := splitCommand(args)
	if command == nil {
		command = []string{}
	}
	return parseFlags(flags, command, getenv, stderr)
}

// parseFlags parses the sidecar's flags; a non-nil command means exec mode.
func parseFlags(args, command []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	name := "baton"
	if command != nil {
		name = "baton run"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var addrs, allowedHosts string
	fs.StringVar(&c.Lock, "lock", "", "name of the lock to elect on (required; A-Z a-z 0-9 . _ -, at most 128)")
	fs.StringVar(&c.Identity, "identity", "", "this replica's identity (default $POD_NAME, else the hostname)")
	fs.StringVar(&c.KeyPrefix, "key-prefix", redislock.DefaultPrefix, "prefix of the lock's Redis keys")
	fs.StringVar(&addrs, "redis-addr", "127.0.0.1:6379", "comma-separated Redis addresses (sentinels in sentinel mode, seed nodes in cluster mode)")
	fs.StringVar(&c.RedisMode, "redis-mode", modeStandalone, "standalone, sentinel or cluster")
	fs.StringVar(&c.RedisMasterName, "redis-master-name", "", "Sentinel master name (required with --redis-mode=sentinel)")
	fs.StringVar(&c.RedisUsername, "redis-username", "", "Redis ACL user name")
	fs.StringVar(&c.RedisPasswordFile, "redis-password-file", "", "file holding the Redis password (or set BATON_REDIS_PASSWORD)")
	fs.StringVar(&c.RedisSentinelPassFile, "redis-sentinel-password-file", "", "file holding the Sentinel password (or set BATON_REDIS_SENTINEL_PASSWORD)")
	fs.IntVar(&c.RedisDB, "redis-db", 0, "Redis database number (standalone and sentinel only)")
	fs.BoolVar(&c.RedisTLS, "redis-tls", false, "connect to Redis over TLS")
	fs.StringVar(&c.RedisCAFile, "redis-ca-file", "", "PEM CA bundle to verify Redis (default: the system roots)")
	fs.StringVar(&c.RedisCertFile, "redis-cert-file", "", "PEM client certificate for mutual TLS")
	fs.StringVar(&c.RedisKeyFile, "redis-key-file", "", "PEM client key for mutual TLS")
	fs.StringVar(&c.RedisTLSServerName, "redis-tls-server-name", "", "server name to verify (default: the host of the address)")
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", 15*time.Second, "lease TTL: of the Redis key, or the Lease's leaseDurationSeconds with --backend kube-lease (whole seconds, at least 2s)")
	fs.DurationVar(&c.RenewInterval, "renew-interval", 0, "time between renewals (default lease-ttl/3; at least 1s with --backend kube-lease)")
	fs.DurationVar(&c.RenewDeadline, "renew-deadline", 0, "step down when no renewal succeeded for this long (default 2*lease-ttl/3)")
	fs.DurationVar(&c.ReleaseTimeout, "release-timeout", 5*time.Second, "bound on stepping down and releasing at shutdown or resign")
	fs.DurationVar(&c.ResignHoldOff, "resign-hold-off", 0, "default hold-off of POST /leader/release (default lease-ttl)")
	fs.IntVar(&c.RedisMinReplicasAck, "redis-min-replicas-ack", 0, "lead only on a lease that at least this many replicas acknowledged (WAIT); 0 disables (standalone and sentinel only)")
	fs.DurationVar(&c.RedisReplicaAckTimeout, "redis-replica-ack-timeout", redislock.DefaultReplicaAckTimeout, "how long an acquire waits for --redis-min-replicas-ack acknowledgements")
	fs.StringVar(&c.APIAddr, "api-addr", "127.0.0.1:4040", "listen address of the leader API (keep it on loopback: it can resign)")
	fs.StringVar(&c.APITokenFile, "api-token-file", "", "file holding a bearer token that POST /leader/release must present (default: none; set one before binding beyond loopback)")
	fs.StringVar(&allowedHosts, "api-allowed-hosts", "", "comma-separated Host names the API answers besides loopback and the --api-addr host (DNS-rebinding guard)")
	fs.IntVar(&c.APIMaxWatchers, "api-max-watchers", api.DefaultMaxWatchers, "most long-polls and event streams served at once; beyond it the API answers 503 with Retry-After")
	fs.IntVar(&c.LocksMaxHeld, "locks-max-held", httpapi.DefaultMaxHeld, "most application locks and semaphore permits held or being acquired through the API at once; beyond it the API answers 503 with Retry-After")
	fs.StringVar(&c.LocksKeyPrefix, "locks-key-prefix", httpapi.DefaultLocksPrefix, "prefix of the application locks' Redis keys; must differ from --key-prefix")
	fs.StringVar(&c.RunsKeyPrefix, "runs-key-prefix", runsapi.DefaultPrefix, "prefix of the Redis keys of the API's runs (/runs/{job}/claim); must differ from --key-prefix")
	fs.IntVar(&c.RunsMaxAttempts, "runs-max-attempts", runsapi.DefaultMaxAttempts, "attempts a window of the API's runs gets, failed or lost ones counted (1 to 100)")
	fs.StringVar(&c.ProbeAddr, "probe-addr", ":8081", "listen address of /healthz, /readyz and /metrics")
	fs.StringVar(&c.ReadyWhen, "ready-when", "connected", "readiness: connected (Redis reachable, loop running) or leader")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.Kube, "kube", kubeAuto, "publish leadership on this pod (label, condition, Events): auto (in a cluster with POD_NAME and POD_NAMESPACE set), true or false")
	fs.StringVar(&c.KubeLabelKey, "kube-label-key", kube.DefaultLabelKey, "pod label set to true on the leader and false on the others")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file for the Kubernetes publisher, and for the Lease with --backend kube-lease (default: the in-cluster configuration)")
	c.addBackendFlags(fs)
	if command != nil {
		c.Exec.Command = command
		c.Exec.addExecFlags(fs)
		c.Schedule.addScheduleFlags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: baton [flags]\n       baton run [flags] -- COMMAND [ARGS...]\n       baton run --schedule SPEC [flags] -- COMMAND [ARGS...]\n       baton install DEST\n       baton version\n\nEvery flag can also be set as BATON_<FLAG>, e.g. BATON_REDIS_ADDR.\n\nFlags:\n")
		fs.PrintDefaults()
	}

	set, err := parseArgs(fs, args, getenv)
	if err != nil {
		return nil, err
	}
	c.RedisAddrs = splitList(addrs)
	c.APIAllowedHosts = apiAllowedHosts(c.APIAddr, splitList(allowedHosts))
	c.PodName, c.PodNamespace = getenv("POD_NAME"), getenv("POD_NAMESPACE")
	if err := c.complete(set, getenv); err != nil {
		return nil, err
	}
	return c, nil
}

// parseArgs parses args into fs, then sets each flag not on the command
// line from its BATON_* variable, and returns the flags set either way.
func parseArgs(fs *flag.FlagSet, args []string, getenv func(string) string) (set map[string]bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		if v := getenv(env); v != "" && !set[f.Name] && err == nil {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%w: %s=%q: %v", errUsage, env, v, serr)
			}
			set[f.Name] = true
		}
	})
	return set, err
}

// complete takes the identity, the secrets and the defaults that follow
// other flags, and checks every rule; set holds the flags given.
func (c *config) complete(set map[string]bool, getenv func(string) string) error {
	if c.Identity == "" {
		c.Identity = getenv("POD_NAME")
	}
	if c.Identity == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("%w: --identity not set, POD_NAME empty and no hostname: %v", errUsage, err)
		}
		c.Identity = h
	}
	if err := c.readSecrets(getenv); err != nil {
		return err
	}
	if err := c.validateElection(); err != nil {
		return err
	}
	if err := c.validateBackend(set, getenv); err != nil {
		return err
	}
	if c.ResignHoldOff == 0 && !set["resign-hold-off"] {
		c.ResignHoldOff = c.LeaseTTL
		if c.Schedule.Spec != "" {
			// Schedule mode resigns nothing, and its run leases may
			// outlast the hold-off's bound (up to maxRunLease).
			c.ResignHoldOff = min(c.LeaseTTL, election.MaxHoldOff)
		}
	}
	if err := c.validate(); err != nil {
		return err
	}
	if c.Exec.Command == nil {
		return nil
	}
	if !set["kill-grace"] {
		c.Exec.KillGrace = c.defaultKillGrace()
	}
	if err := c.validateExec(); err != nil {
		return err
	}
	return c.validateSchedule(set)
}

// electionConfig is the part of the configuration that pkg/election owns.
func (c *config) electionConfig() election.Config {
	return election.Config{
		Name:           c.Lock,
		Identity:       c.Identity,
		LeaseTTL:       c.LeaseTTL,
		RenewInterval:  c.RenewInterval,
		RenewDeadline:  c.RenewDeadline,
		ReleaseTimeout: c.ReleaseTimeout,
	}
}

// validateElection checks the lock name, the identity and the timings with
// the library's own rules, and takes the library's defaults for the
// timings left at zero.
func (c *config) validateElection() error {
	ec := c.electionConfig()
	if err := ec.Validate(); err != nil {
		return usageError("election", err)
	}
	c.RenewInterval, c.RenewDeadline, c.ReleaseTimeout = ec.RenewInterval, ec.RenewDeadline, ec.ReleaseTimeout
	return nil
}

// envName is the environment fallback of a flag: BATON_ and the flag's name
// in upper case with dashes as underscores.
func envName(flagName string) string {
	return "BATON_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readSecrets takes passwords from files or the environment, never from the
// command line, where every user of the machine could read them.
func (c *config) readSecrets(getenv func(string) string) error {
	read := func(flagName, path, env string) (string, error) {
		if path == "" {
			return getenv(env), nil
		}
		if getenv(env) != "" {
			return "", fmt.Errorf("%w: set either --%s or %s, not both", errUsage, flagName, env)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%w: --%s: %v", errUsage, flagName, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	var err error
	if c.RedisPassword, err = read("redis-password-file", c.RedisPasswordFile, "BATON_REDIS_PASSWORD"); err != nil {
		return err
	}
	c.RedisSentinelPassword, err = read("redis-sentinel-password-file", c.RedisSentinelPassFile, "BATON_REDIS_SENTINEL_PASSWORD")
	if err != nil {
		return err
	}
	if c.APITokenFile != "" {
		b, err := os.ReadFile(c.APITokenFile)
		if err != nil {
			return fmt.Errorf("%w: --api-token-file: %v", errUsage, err)
		}
		if c.APIToken = strings.TrimRight(string(b), " \t\r\n"); c.APIToken == "" {
			return fmt.Errorf("%w: --api-token-file: %s is empty", errUsage, c.APITokenFile)
		}
	}
	return nil
}

// apiAllowedHosts is the host of --api-addr, when it names one (not a
// wildcard), followed by the extra names.
func apiAllowedHosts(apiAddr string, extra []string) []string {
	var hosts []string
	if host, _, err := net.SplitHostPort(apiAddr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			hosts = append(hosts, host)
		}
	}
	return append(hosts, extra...)
}
