package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The schedule step's inputs: the stamps of bench/cmd/runstamp, the
// replicas' JSON logs and the lines of Redis MONITOR.

// runStamp is one line of runstamp: one start of the job.
type runStamp struct {
	wall     int64     // the job's wall clock at its start, Unix ns
	window   time.Time // BATON_RUN_WINDOW
	claim    time.Time // BATON_TERM_START: the claim's Redis TIME
	identity string    // BATON_IDENTITY: the replica that ran it
	attempt  int
}

// parseRunStamp reads "<unix_ns> <window> <term_start> <identity> <attempt>".
func parseRunStamp(line string) (runStamp, error) {
	f := strings.Fields(line)
	if len(f) != 5 {
		return runStamp{}, fmt.Errorf("run stamp %q: not <unix_ns> <window> <term_start> <identity> <attempt>", line)
	}
	var s runStamp
	var err error
	if s.wall, err = strconv.ParseInt(f[0], 10, 64); err != nil {
		return runStamp{}, fmt.Errorf("run stamp %q: %w", line, err)
	}
	if s.window, err = time.Parse(time.RFC3339, f[1]); err != nil {
		return runStamp{}, fmt.Errorf("run stamp %q: window: %w", line, err)
	}
	if s.claim, err = time.Parse(time.RFC3339Nano, f[2]); err != nil {
		return runStamp{}, fmt.Errorf("run stamp %q: term start: %w", line, err)
	}
	s.identity = f[3]
	if s.attempt, err = strconv.Atoi(f[4]); err != nil || s.attempt < 1 {
		return runStamp{}, fmt.Errorf("run stamp %q: attempt %q is not a count from 1", line, f[4])
	}
	return s, nil
}

// readRunStamps reads a stamps file; a missing file has none yet, and a
// last line without its newline is still being written.
func readRunStamps(path string) ([]runStamp, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	text := string(b)
	text = text[:strings.LastIndexByte(text, '\n')+1]
	var out []runStamp
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			continue
		}
		s, err := parseRunStamp(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// windowLog is when a replica's log said, for one window, that it won the
// claim ("running the window's job") and that the job's process started
// ("child started": the guard and the job forked and exec'd). Wall clock.
type windowLog struct{ running, started time.Time }

// readWindowLogs adds the windows of one `baton run --schedule` JSON log
// to into (by the window's start, Unix ns), keeping each window's first
// lines.
func readWindowLogs(path string, into map[int64]windowLog) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev struct {
			Msg    string    `json:"msg"`
			Time   time.Time `json:"time"`
			Window string    `json:"window"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Window == "" {
			continue
		}
		w, err := time.Parse(time.RFC3339, ev.Window)
		if err != nil {
			continue
		}
		l := into[w.UnixNano()]
		switch {
		case ev.Msg == "running the window's job" && l.running.IsZero():
			l.running = ev.Time
		case ev.Msg == "child started" && l.started.IsZero():
			l.started = ev.Time
		default:
			continue
		}
		into[w.UnixNano()] = l
	}
	return sc.Err()
}

// monitorLine is one line of Redis MONITOR:
//
//	1796639111.338780 [0 127.0.0.1:44608] "hello" "3" "setname" "baton:r1"
//
// addr is the client's address, or "lua" for a command a script ran.
type monitorLine struct {
	at   time.Time // Redis TIME when the command ran
	addr string
	args []string
}

// parseMonitor reads one MONITOR line (the RESP "+" already stripped).
func parseMonitor(line string) (monitorLine, error) {
	bad := func(why string) (monitorLine, error) {
		return monitorLine{}, fmt.Errorf("monitor line %.80q: %s", line, why)
	}
	ts, rest, ok := strings.Cut(line, " [")
	if !ok {
		return bad("no [db addr]")
	}
	sec, usec, ok := strings.Cut(ts, ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	us, err2 := strconv.ParseInt(usec, 10, 64)
	if !ok || err1 != nil || err2 != nil || len(usec) != 6 {
		return bad("no <sec>.<usec> time")
	}
	client, rest, ok := strings.Cut(rest, "] ")
	if !ok {
		return bad("no ] after [db addr]")
	}
	_, addr, ok := strings.Cut(client, " ")
	if !ok || addr == "" {
		return bad("no address in [db addr]")
	}
	args, err := unquoteArgs(rest)
	if err != nil {
		return bad(err.Error())
	}
	if len(args) == 0 {
		return bad("no command")
	}
	return monitorLine{at: time.Unix(s, us*1000), addr: addr, args: args}, nil
}

// unquoteArgs splits MONITOR's arguments: double-quoted, space-separated,
// with Redis's escapes (sdscatrepr: \\ \" \n \r \t \a \b \xHH).
func unquoteArgs(s string) ([]string, error) {
	var args []string
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		if s[i] != '"' {
			return nil, fmt.Errorf("argument at %d does not start with a quote", i)
		}
		var b strings.Builder
		i++
		for {
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated argument")
			}
			c := s[i]
			if c == '"' {
				i++
				break
			}
			if c != '\\' {
				b.WriteByte(c)
				i++
				continue
			}
			if i+1 >= len(s) {
				return nil, fmt.Errorf("dangling backslash")
			}
			switch e := s[i+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'x':
				if i+3 >= len(s) {
					return nil, fmt.Errorf("short \\x escape")
				}
				v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
				if err != nil {
					return nil, fmt.Errorf("bad \\x escape: %w", err)
				}
				b.WriteByte(byte(v))
				i += 2
			default: // \\ and \"
				b.WriteByte(e)
			}
			i += 2
		}
		args = append(args, b.String())
	}
	return args, nil
}

// clientName is the name a connection gives itself on connecting (go-redis
// sends HELLO 3 SETNAME and CLIENT SETNAME with Options.ClientName), or "".
func (l monitorLine) clientName() string {
	switch strings.ToLower(l.args[0]) {
	case "hello":
		for i := 1; i+1 < len(l.args); i++ {
			if strings.EqualFold(l.args[i], "setname") {
				return l.args[i+1]
			}
		}
	case "client":
		if len(l.args) == 3 && strings.EqualFold(l.args[1], "setname") {
			return l.args[2]
		}
	}
	return ""
}

// cmdTally counts MONITOR's commands per window and per client name: each
// connection is known by the name it gave itself, and each command falls
// in the window whose start is nearest, in Redis TIME, to when Redis ran
// it. A window's traffic is over within milliseconds of its start, and a
// replica woken a little early counts with the window it claims. Commands
// that scripts ran (addr "lua") are not sent by anyone and are left out,
// as are those of connections that named themselves nothing.
type cmdTally struct {
	period time.Duration
	names  map[string]string                     // addr -> client name
	counts map[int64]map[string]map[string]int64 // window -> client -> command -> n
	dials  map[int64]map[string]int              // window -> client -> connections named
}

func newCmdTally(period time.Duration) *cmdTally {
	return &cmdTally{period: period, names: map[string]string{},
		counts: map[int64]map[string]map[string]int64{}, dials: map[int64]map[string]int{}}
}

// window is the index (start / period) of the window whose start is
// nearest to at.
func (t *cmdTally) window(at time.Time) int64 {
	return (at.UnixNano() + int64(t.period)/2) / int64(t.period)
}

func (t *cmdTally) add(l monitorLine) {
	if l.addr == "lua" {
		return
	}
	w := t.window(l.at)
	if name := l.clientName(); name != "" {
		// HELLO with SETNAME is a connection's first command; CLIENT
		// SETNAME repeats it on the same connection.
		if t.names[l.addr] != name {
			t.names[l.addr] = name
			if t.dials[w] == nil {
				t.dials[w] = map[string]int{}
			}
			t.dials[w][name]++
		}
	}
	name := t.names[l.addr]
	if name == "" {
		return
	}
	if t.counts[w] == nil {
		t.counts[w] = map[string]map[string]int64{}
	}
	if t.counts[w][name] == nil {
		t.counts[w][name] = map[string]int64{}
	}
	t.counts[w][name][strings.ToLower(l.args[0])]++
}

// ScheduleCommands are the Redis commands of one phase's replicas per
// window, counted with MONITOR.
type ScheduleCommands struct {
	Windows int `json:"windows"`
	// Runner and NonRunner are the mean commands per window of the replica
	// that ran the window's job and of each other replica; NonRunnerMax is
	// the most any non-runner sent in one window.
	Runner       float64 `json:"runner"`
	NonRunner    float64 `json:"non_runner"`
	NonRunnerMax int64   `json:"non_runner_max"`
	// RunnerCmds and NonRunnerCmds split those means by command.
	RunnerCmds    map[string]float64 `json:"runner_commands"`
	NonRunnerCmds map[string]float64 `json:"non_runner_commands"`
	// Dials is the connections all replicas opened per window (each named
	// itself with HELLO SETNAME).
	Dials float64 `json:"connections_per_window"`
}

// perWindow sums t over the windows in runners (window index -> the
// identity of the replica that ran it) for the clients "baton:<id>" of ids.
func (t *cmdTally) perWindow(runners map[int64]string, ids []string) *ScheduleCommands {
	c := &ScheduleCommands{Windows: len(runners), RunnerCmds: map[string]float64{}, NonRunnerCmds: map[string]float64{}}
	if len(runners) == 0 || len(ids) < 2 {
		return c
	}
	var runner, other int64
	for w, ran := range runners {
		for _, id := range ids {
			var n int64
			into := c.NonRunnerCmds
			if id == ran {
				into = c.RunnerCmds
			}
			for cmd, k := range t.counts[w]["baton:"+id] {
				n += k
				into[cmd] += float64(k)
			}
			if id == ran {
				runner += n
			} else {
				other += n
				c.NonRunnerMax = max(c.NonRunnerMax, n)
			}
			c.Dials += float64(t.dials[w]["baton:"+id])
		}
	}
	windows, others := float64(len(runners)), float64(len(runners)*(len(ids)-1))
	c.Runner, c.NonRunner, c.Dials = float64(runner)/windows, float64(other)/others, c.Dials/windows
	for cmd := range c.RunnerCmds {
		c.RunnerCmds[cmd] /= windows
	}
	for cmd := range c.NonRunnerCmds {
		c.NonRunnerCmds[cmd] /= others
	}
	return c
}
