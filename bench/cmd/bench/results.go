package main

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/baton-dev/baton/bench/internal/stats"
)

// Tool ids, in the order the tables list them.
const (
	idBaton     = "baton"
	idSidecar   = "baton-sidecar"
	idFloor     = "raw-floor"
	idBsm       = "bsm-redislock"
	idRedsync   = "redsync"
	idKubeLease = "baton-kube-lease"
	idKubeTTL   = "client-go-ttl"
	idKube15    = "client-go-15s"
)

var toolOrder = []string{idBaton, idSidecar, idFloor, idBsm, idRedsync, idKubeLease, idKubeTTL, idKube15}

// pollingPeers are the peers that find a free lock by polling.
var pollingPeers = []string{idBsm, idRedsync, idKubeTTL, idKube15}

// toolLabel describes each tool as the tables show it.
func (r *Results) toolLabel(id string) string {
	switch id {
	case idBaton:
		return "baton (library: pkg/election over pkg/redislock)"
	case idSidecar:
		return "baton sidecar (binary, via its HTTP API)"
	case idFloor:
		return "raw floor (go-redis: DEL+PUBLISH → SET NX)"
	case idBsm:
		return fmt.Sprintf("bsm/redislock (linear retry %v)", r.Meta.BsmBackoff)
	case idRedsync:
		return "go-redsync/redsync (defaults: 32 tries, 50–250ms delay)"
	case idKubeLease:
		ttl := "?"
		if r.KubeLease != nil {
			ttl = r.KubeLease.TTL
		}
		return fmt.Sprintf("baton sidecar, --backend kube-lease (Lease, TTL %s, watch)", ttl)
	case idKubeTTL:
		return fmt.Sprintf("client-go leaderelection, Lease (%s)", scaledKube(r.ttl()).String())
	case idKube15:
		return "client-go leaderelection, Lease (usual 15s/10s/2s)"
	}
	return id
}

// Results is everything one run measured. Durations in JSON are
// nanoseconds.
type Results struct {
	Meta      Meta              `json:"meta"`
	Handover  []*LatencySeries  `json:"graceful_handover"`
	Waiters   []*LatencySeries  `json:"handover_by_waiters"`
	Crash     []*FailoverSeries `json:"crash_failover"`
	Idle      []*IdleCost       `json:"idle_cost"`
	Sidecar   *SidecarResult    `json:"sidecar"`
	Core      *CoreResult       `json:"core,omitempty"`
	Exec      *ExecResult       `json:"exec,omitempty"`
	Locks     *LocksResult      `json:"locks,omitempty"`
	Schedule  *ScheduleResult   `json:"schedule,omitempty"`
	KubeLease *KubeLeaseResult  `json:"kube_lease,omitempty"`
	Ratios    []RatioRow        `json:"ratios"`
	Targets   []Target          `json:"targets"`
	// Rewon counts baton handovers in which the resigning leader took the
	// lock back (left out of the latencies).
	Rewon int `json:"rewon"`
}

// Meta describes the run.
type Meta struct {
	Date            string     `json:"date"`
	GoVersion       string     `json:"go_version"`
	CPUs            int        `json:"cpus"`
	CPUModel        string     `json:"cpu_model"`
	RedisVersion    string     `json:"redis_version"`
	KubeVersion     string     `json:"kube_apiserver_version,omitempty"`
	LoadAvgBeg      string     `json:"loadavg_start"`
	LoadAvgEnd      string     `json:"loadavg_end"`
	TTL             string     `json:"ttl"`
	BsmBackoff      string     `json:"bsm_backoff"`
	Quick           bool       `json:"quick"`
	Seed            uint64     `json:"seed"`
	Rounds          int        `json:"rounds"`
	CommandLine     string     `json:"command_line"`
	DurationSeconds float64    `json:"duration_s"`
	Steps           []StepTime `json:"steps"`
	// Updates are later runs of some steps only (-only), whose figures
	// replaced those of this run's (see mergePrevious).
	Updates []MetaUpdate `json:"updates,omitempty"`
}

// StepTime is how long one step of the run took.
type StepTime struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// LatencySeries is one tool's (or one waiter count's) latencies.
type LatencySeries struct {
	Tool    string          `json:"tool"`
	Label   string          `json:"label"`
	Waiters int             `json:"waiters,omitempty"`
	Summary stats.Summary   `json:"summary"`
	Rounds  []stats.Summary `json:"rounds"`
	Samples []time.Duration `json:"samples_ns"`
}

func (s *LatencySeries) add(lat []time.Duration) {
	s.Samples = append(s.Samples, lat...)
	s.Rounds = append(s.Rounds, stats.Summarize(lat))
	s.Summary = stats.Summarize(s.Samples)
}

// FailoverSeries is one tool's crash failovers.
type FailoverSeries struct {
	Tool      string          `json:"tool"`
	Label     string          `json:"label"`
	TTL       time.Duration   `json:"ttl_ns"`
	Failover  stats.Summary   `json:"failover"`
	Overshoot stats.Summary   `json:"overshoot"`
	Rounds    []stats.Summary `json:"overshoot_rounds"`
	FoSamples []time.Duration `json:"failover_samples_ns"`
	OvSamples []time.Duration `json:"overshoot_samples_ns"`
}

func (s *FailoverSeries) add(fo, ov []time.Duration) {
	s.FoSamples = append(s.FoSamples, fo...)
	s.OvSamples = append(s.OvSamples, ov...)
	s.Rounds = append(s.Rounds, stats.Summarize(ov))
	s.Failover = stats.Summarize(s.FoSamples)
	s.Overshoot = stats.Summarize(s.OvSamples)
}

// IdleCost is what a lock costs its store while nothing changes.
type IdleCost struct {
	Tool          string  `json:"tool"`
	Store         string  `json:"store"`
	TTL           string  `json:"ttl"`
	Timings       string  `json:"timings,omitempty"`
	Waiters       int     `json:"waiters"`
	WindowSeconds float64 `json:"window_s"`
	// LeaderStoreCmdsPerMin: the leader alone, commands Redis executed
	// (commandstats, in-script commands included) per minute; for
	// client-go, apiserver requests.
	LeaderStoreCmdsPerMin float64 `json:"leader_store_cmds_per_min"`
	// LeaderRequestsPerMin: the leader's client-side requests per minute.
	LeaderRequestsPerMin float64 `json:"leader_requests_per_min"`
	// LeaderWritesPerMin: the leader's writes of the Lease (updates and
	// creates) per minute; Kubernetes rows only.
	LeaderWritesPerMin float64 `json:"leader_writes_per_min,omitempty"`
	// WaiterStoreCmdsPerSec: per idle waiter, commandstats delta (minus the
	// leader's rate) per second.
	WaiterStoreCmdsPerSec float64 `json:"waiter_store_cmds_per_s"`
	// WaiterRequestsPerSec: per idle waiter, client-side requests per
	// second (one EVALSHA is one request).
	WaiterRequestsPerSec float64 `json:"waiter_requests_per_s"`
	// WaiterAttemptsPerTTL: per idle waiter, lock attempts per TTL.
	WaiterAttemptsPerTTL float64          `json:"waiter_attempts_per_ttl"`
	LeaderCommands       map[string]int64 `json:"leader_commandstats,omitempty"`
	BothCommands         map[string]int64 `json:"leader_and_waiters_commandstats,omitempty"`
	WaiterCommands       map[string]int64 `json:"waiters_client_commands,omitempty"`
}

// SidecarResult is the baton binary's footprint and /leader performance.
type SidecarResult struct {
	Flags        string        `json:"flags"`
	LeaderIdle   procSample    `json:"leader_idle"`
	FollowerIdle procSample    `json:"follower_idle"`
	LeaderLoad   procSample    `json:"leader_under_load"`
	Conns        int           `json:"conns"`
	LoadSeconds  float64       `json:"load_s"`
	Requests     int64         `json:"requests"`
	BadStatus    int64         `json:"bad_status"`
	RPS          float64       `json:"requests_per_s"`
	Latency      stats.Summary `json:"latency"`
}

// RatioRow compares baton with one peer on one figure.
type RatioRow struct {
	Figure string  `json:"figure"`
	Peer   string  `json:"peer"`
	Baton  float64 `json:"baton"`
	Other  float64 `json:"peer_value"`
	Unit   string  `json:"unit"`
	stats.Comparison
	// PairedMedian is the median over interleaved rounds of
	// peer/baton for that round's p50 (0 when not interleaved).
	PairedMedian float64 `json:"paired_round_median_peer_over_baton,omitempty"`
}

// Target is one of the targets, checked.
type Target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Pass bool   `json:"pass"`
}

func (r *Results) ttl() time.Duration {
	d, _ := time.ParseDuration(r.Meta.TTL)
	return d
}

func (r *Results) handover(id string) *LatencySeries {
	for _, s := range r.Handover {
		if s.Tool == id {
			return s
		}
	}
	s := &LatencySeries{Tool: id, Label: r.toolLabel(id)}
	r.Handover = append(r.Handover, s)
	return s
}

func (r *Results) waiters(n int) *LatencySeries {
	for _, s := range r.Waiters {
		if s.Waiters == n {
			return s
		}
	}
	s := &LatencySeries{Tool: idBaton, Label: fmt.Sprintf("baton, %d waiter(s)", n), Waiters: n}
	r.Waiters = append(r.Waiters, s)
	return s
}

func (r *Results) crash(id string, ttl time.Duration) *FailoverSeries {
	for _, s := range r.Crash {
		if s.Tool == id {
			return s
		}
	}
	s := &FailoverSeries{Tool: id, Label: r.toolLabel(id), TTL: ttl}
	r.Crash = append(r.Crash, s)
	return s
}

func (r *Results) findHandover(id string) *LatencySeries {
	for _, s := range r.Handover {
		if s.Tool == id && s.Summary.N > 0 {
			return s
		}
	}
	return nil
}

func (r *Results) findCrash(id string) *FailoverSeries {
	for _, s := range r.Crash {
		if s.Tool == id && s.Summary().N > 0 {
			return s
		}
	}
	return nil
}

// Summary is the overshoot summary (for findCrash).
func (s *FailoverSeries) Summary() stats.Summary { return s.Overshoot }

func (r *Results) findIdle(id string) *IdleCost {
	for _, c := range r.Idle {
		if c.Tool == id {
			return c
		}
	}
	return nil
}

func order(id string) int {
	if i := slices.Index(toolOrder, id); i >= 0 {
		return i
	}
	return len(toolOrder)
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// finish sorts the series and computes ratios and targets.
func (r *Results) finish() {
	slices.SortStableFunc(r.Handover, func(a, b *LatencySeries) int { return order(a.Tool) - order(b.Tool) })
	slices.SortStableFunc(r.Crash, func(a, b *FailoverSeries) int { return order(a.Tool) - order(b.Tool) })
	slices.SortStableFunc(r.Idle, func(a, b *IdleCost) int { return order(a.Tool) - order(b.Tool) })
	slices.SortStableFunc(r.Waiters, func(a, b *LatencySeries) int { return a.Waiters - b.Waiters })
	r.Ratios = r.ratios()
	r.Targets = r.targets()
	if r.Locks != nil {
		r.Locks.sort()
		r.Targets = append(r.Targets, r.Locks.targets()...)
	}
}

// roundP50s is the per-round p50 of a series, in ms.
func roundP50s(s *LatencySeries) []float64 {
	out := make([]float64, len(s.Rounds))
	for i, rs := range s.Rounds {
		out[i] = msf(rs.P50)
	}
	return out
}

func (r *Results) ratios() []RatioRow {
	var rows []RatioRow
	if b := r.findHandover(idBaton); b != nil {
		for _, id := range toolOrder[1:] {
			p := r.findHandover(id)
			if p == nil {
				continue
			}
			for _, q := range []struct {
				name string
				get  func(stats.Summary) time.Duration
			}{{"p50", func(s stats.Summary) time.Duration { return s.P50 }}, {"p99", func(s stats.Summary) time.Duration { return s.P99 }}} {
				bv, pv := msf(q.get(b.Summary)), msf(q.get(p.Summary))
				row := RatioRow{Figure: "graceful handover " + q.name, Peer: id, Baton: bv, Other: pv, Unit: "ms", Comparison: stats.Compare(id, bv, pv)}
				if q.name == "p50" && len(p.Rounds) == len(b.Rounds) && len(b.Rounds) > 1 {
					row.PairedMedian, _ = stats.Median(stats.PairedRatios(roundP50s(p), roundP50s(b)))
				}
				rows = append(rows, row)
			}
		}
	}
	if b := r.findCrash(idBaton); b != nil {
		for _, id := range toolOrder[1:] {
			p := r.findCrash(id)
			if p == nil {
				continue
			}
			bv, pv := msf(b.Overshoot.P99), msf(p.Overshoot.P99)
			rows = append(rows, RatioRow{Figure: "crash overshoot p99", Peer: id, Baton: bv, Other: pv, Unit: "ms", Comparison: stats.Compare(id, bv, pv)})
		}
	}
	if b := r.findIdle(idBaton); b != nil {
		for _, id := range toolOrder[1:] {
			p := r.findIdle(id)
			if p == nil {
				continue
			}
			rows = append(rows, RatioRow{Figure: "idle waiter store cmds/s", Peer: id, Baton: b.WaiterStoreCmdsPerSec, Other: p.WaiterStoreCmdsPerSec, Unit: "cmd/s",
				Comparison: stats.Compare(id, b.WaiterStoreCmdsPerSec, p.WaiterStoreCmdsPerSec)})
		}
	}
	return rows
}

func fmtMs(d time.Duration) string {
	if d < 0 {
		return "−" + fmtMs(-d)
	}
	v := msf(d)
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.2f ms", v)
	case v < 10000:
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f s", v/1000)
}

func (r *Results) targets() []Target {
	var ts []Target
	missing := func(name, want string) {
		ts = append(ts, Target{Name: name, Want: want, Got: "not measured", Pass: false})
	}
	b := r.findHandover(idBaton)
	if b == nil {
		missing("graceful handover p99", "≤ 5 ms")
	} else {
		ts = append(ts, Target{"graceful handover p99 (library)", "≤ 5 ms", fmtMs(b.Summary.P99), b.Summary.P99 <= 5*time.Millisecond})
		if s := r.findHandover(idSidecar); s != nil {
			ts = append(ts, Target{"graceful handover p99 (sidecar, HTTP release → long-poll)", "≤ 5 ms", fmtMs(s.Summary.P99), s.Summary.P99 <= 5*time.Millisecond})
		}
		fastest, fastestID := time.Duration(math.MaxInt64), ""
		for _, id := range pollingPeers {
			if p := r.findHandover(id); p != nil && p.Summary.P99 < fastest {
				fastest, fastestID = p.Summary.P99, id
			}
		}
		if fastestID == "" {
			missing("≥ 50× faster than the fastest polling peer (p99)", "≥ 50×")
		} else {
			x, _ := stats.Ratio(msf(fastest), msf(b.Summary.P99))
			ts = append(ts, Target{"≥ 50× faster than the fastest polling peer (p99)", "≥ 50×",
				fmt.Sprintf("%.0f× (%s p99 %s)", x, fastestID, fmtMs(fastest)), x >= 50})
		}
		if f := r.findHandover(idFloor); f != nil {
			x, _ := stats.Ratio(msf(b.Summary.P99), msf(f.Summary.P99))
			x50, _ := stats.Ratio(msf(b.Summary.P50), msf(f.Summary.P50))
			ts = append(ts, Target{"within 5× of the raw floor (p99)", "≤ 5×",
				fmt.Sprintf("%.1f× (floor p99 %s; p50 %.1f×)", x, fmtMs(f.Summary.P99), x50), x <= 5})
		} else {
			missing("within 5× of the raw floor", "≤ 5×")
		}
	}
	for _, id := range []string{idBaton, idSidecar} {
		if c := r.findCrash(id); c != nil {
			name := "crash-failover overshoot p99 (library)"
			if id == idSidecar {
				name = "crash-failover overshoot p99 (sidecar, SIGKILL)"
			}
			ts = append(ts, Target{name, "≤ 20 ms", fmtMs(c.Overshoot.P99), c.Overshoot.P99 <= 20*time.Millisecond})
		}
	}
	if c := r.findIdle(idBaton); c != nil {
		ts = append(ts, Target{"idle waiter lock attempts per TTL", "≤ 1", fmt.Sprintf("%.2f (TTL %s)", c.WaiterAttemptsPerTTL, c.TTL), c.WaiterAttemptsPerTTL <= 1})
	} else {
		missing("idle waiter lock attempts per TTL", "≤ 1")
	}
	if s := r.Sidecar; s != nil {
		worst := max(s.LeaderIdle.RSS, s.FollowerIdle.RSS)
		ts = append(ts, Target{"idle RSS (sidecar)", "≤ 30 MiB", fmt.Sprintf("%.1f MiB", float64(worst)/(1<<20)), worst <= 30<<20})
		ts = append(ts, Target{"/leader throughput (64 keep-alive connections)", "≥ 20k req/s", fmt.Sprintf("%.0f req/s (p99 %s)", s.RPS, fmtMs(s.Latency.P99)), s.RPS >= 20000})
	} else {
		missing("idle RSS", "≤ 30 MiB")
		missing("/leader throughput", "≥ 20k req/s")
	}
	if k := r.KubeLease; k != nil {
		ts = append(ts, Target{"graceful handover p99 (--backend kube-lease, release → follower's term start)", "≤ 50 ms", fmtMs(k.Handover.P99), k.Handover.N > 0 && k.Handover.P99 <= 50*time.Millisecond})
		for _, c := range k.Idle {
			ts = append(ts, Target{"idle follower requests beyond its watch (--backend kube-lease, TTL " + c.TTL + ")", "≤ 1 per lease", fmt.Sprintf("%.2f per lease (%.2f/min)", c.FollowerPerLease, c.FollowerPerMin), c.FollowerPerLease <= 1})
		}
	}
	var w100 *LatencySeries
	for _, w := range r.Waiters {
		if w.Waiters == 100 {
			w100 = w
		}
	}
	if w100 != nil {
		ts = append(ts, Target{"handover p99 with 100 waiters", "≤ 20 ms", fmtMs(w100.Summary.P99), w100.Summary.P99 <= 20*time.Millisecond})
	} else {
		missing("handover p99 with 100 waiters", "≤ 20 ms")
	}
	return ts
}
