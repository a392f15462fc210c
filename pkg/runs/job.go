package runs

import (
	"context"
	_ "embed"
	"fmt"
	"regexp"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-dev/baton/internal/lockcore"
	"github.com/baton-dev/baton/internal/names"
	"github.com/baton-dev/baton/pkg/redislock"
)

var (
	//go:embed window.lua
	windowSource string
	//go:embed claim.lua
	claimSource string
	//go:embed renew.lua
	renewSource string
	//go:embed complete.lua
	completeSource string
	//go:embed inspect.lua
	inspectSource string

	prelude        = lockcore.FencePrelude + windowSource
	claimScript    = redis.NewScript(prelude + claimSource)
	renewScript    = redis.NewScript(prelude + renewSource)
	completeScript = redis.NewScript(prelude + completeSource)
	inspectScript  = redis.NewScript(prelude + inspectSource)
	timeScript     = redis.NewScript(`return redis.call('TIME')`)
)

// MaxWindowLen is the longest window name accepted.
const MaxWindowLen = 128

// windowRule is the charset of window names: the job's name's, with ':'
// for RFC 3339 times. It has no braces, so the hash tag stays baton's.
var windowRule = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// Job is one named job's runs on Redis. It is safe for concurrent use.
type Job struct {
	core *lockcore.Lock // validated options and the client
	opts Options

	tag                         string // <prefix>:{job}:run:
	fence, records, order, last string
	channel                     string
}

// New returns the job named name (1 to 128 characters from A-Z a-z 0-9
// . _ -) on client. It validates name and options but makes no Redis call.
func New(client redislock.Client, name string, opts Options) (*Job, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalid)
	}
	if names.Validate(name) != nil {
		return nil, invalid("job", "must be 1 to %d characters from A-Z a-z 0-9 . _ - (got %q)", names.MaxLen, name)
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	core, err := lockcore.New(client, name, opts.core())
	if err != nil {
		return nil, err
	}
	opts.Identity = core.Opts().Identity
	tag := core.Opts().Prefix + ":{" + name + "}:run:"
	return &Job{
		core: core, opts: opts, tag: tag,
		fence: tag + "fence", records: tag + "records", order: tag + "order", last: tag + "last",
		channel: tag + "events",
	}, nil
}

// Name is the job's name.
func (j *Job) Name() string { return j.core.Name() }

// keys are the keys of the scripts that write, for window.
func (j *Job) keys(window string) []string {
	return []string{j.tag + "w:" + window, j.fence, j.records, j.order, j.last}
}

// Now reads Redis server time, the time base of windows.
func (j *Job) Now(ctx context.Context) (time.Time, error) {
	reply, err := j.core.Script(ctx, timeScript, nil, nil, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("runs: time: %w", err)
	}
	if len(reply) != 2 {
		return time.Time{}, lockcore.Unexpected(reply)
	}
	sec, ok1 := reply[0].(string)
	usec, ok2 := reply[1].(string)
	var s, us int64
	if _, err := fmt.Sscan(sec+" "+usec, &s, &us); !ok1 || !ok2 || err != nil {
		return time.Time{}, lockcore.Unexpected(reply)
	}
	return time.Unix(s, us*1000).UTC(), nil
}

// Inspect reads the job's record without writing: the last success and
// failure, the attempts running now and the last runs.
func (j *Job) Inspect(ctx context.Context) (Info, error) {
	reply, err := j.inspect(ctx, "")
	if err != nil {
		return Info{}, err
	}
	now, err := replyTime(reply, 1)
	if err != nil {
		return Info{}, err
	}
	info := Info{Now: now}
	if info.LastSuccess, err = replyRecord(j.last, reply, 2, now); err != nil {
		return Info{}, err
	}
	if info.LastFailure, err = replyRecord(j.last, reply, 3, now); err != nil {
		return Info{}, err
	}
	recs, _ := reply[4].([]any)
	for i := range recs {
		r, err := replyRecord(j.records, recs, i, now)
		if err != nil {
			return Info{}, err
		}
		if r == nil { // a record trimmed between the reads: not in this script
			continue
		}
		info.Recent = append(info.Recent, *r)
		switch {
		case r.Status == Running:
			info.Running = append(info.Running, *r)
		case r.Status == Lost && (info.LastFailure == nil || r.End.After(info.LastFailure.End)):
			// Lost, as seen now: not yet marked by a claim.
			info.LastFailure = r
		}
	}
	return info, nil
}

// inspect runs inspect.lua, for run (a run's record) or "" (all).
func (j *Job) inspect(ctx context.Context, run string) ([]any, error) {
	reply, err := j.core.Script(ctx, inspectScript, []string{j.records, j.order, j.last}, []any{run}, nil)
	if err != nil {
		return nil, fmt.Errorf("runs: inspect %q: %w", j.Name(), err)
	}
	switch lockcore.Kind(reply) {
	case "ok":
		if len(reply) != 5 {
			return nil, lockcore.Unexpected(reply)
		}
		if _, ok := reply[4].([]any); !ok {
			return nil, lockcore.Unexpected(reply)
		}
		return reply, nil
	case "foreign":
		return nil, lockcore.ForeignReply(reply)
	}
	return nil, lockcore.Unexpected(reply)
}

// Watcher is a subscription to a job's claims and completions.
type Watcher struct{ core *lockcore.Watcher }

// Watch subscribes to the job's channel, on which every claim and every
// completion is announced, and returns once Redis has confirmed it.
func (j *Job) Watch(ctx context.Context) (*Watcher, error) {
	w, err := j.core.Subscribe(ctx, j.channel)
	if err != nil {
		return nil, err
	}
	return &Watcher{core: w}, nil
}

// Wait blocks until a claim or completion is announced, d elapses, or ctx
// ends; only the last returns an error.
func (w *Watcher) Wait(ctx context.Context, d time.Duration) error { return w.core.Wait(ctx, d) }

// Close ends the subscription. It always returns nil.
func (w *Watcher) Close() error { return w.core.Close() }

// CheckWindow checks a window name: 1 to MaxWindowLen characters from
// A-Z a-z 0-9 . _ : -.
func CheckWindow(window string) error {
	if len(window) == 0 || len(window) > MaxWindowLen || !windowRule.MatchString(window) {
		return invalid("window", "must be 1 to %d characters from A-Z a-z 0-9 . _ : - (got %q)", MaxWindowLen, window)
	}
	return nil
}
