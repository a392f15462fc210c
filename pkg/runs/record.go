package runs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/baton-dev/baton/internal/lockcore"
)

// Status is the state of one attempt.
type Status string

// The states of an attempt.
const (
	// Running: its lease holds in Redis time.
	Running Status = "running"
	// Succeeded: it completed with success; its window is done.
	Succeeded Status = "succeeded"
	// Failed: it completed with failure.
	Failed Status = "failed"
	// Lost: its lease ran out without a completion (a crash, a lost
	// lease, or a claim whose reply was lost). It counts as failed.
	Lost Status = "lost"
)

// Record is one attempt of a window. Times are Redis server TIME, in UTC.
type Record struct {
	Window   string
	RunID    string
	Attempt  int
	Fence    uint64
	Identity string
	Status   Status
	Start    time.Time
	// End is when it completed, or for a lost attempt when its lease ran
	// out; zero while running.
	End time.Time
	// LeaseEnd is when its lease runs or ran out.
	LeaseEnd time.Time
	// Lease is the lease time it was claimed with.
	Lease time.Duration
}

// Info is what Inspect read of a job.
type Info struct {
	// Now is Redis server time at the read.
	Now time.Time
	// LastSuccess and LastFailure are the latest of each, nil when none.
	LastSuccess, LastFailure *Record
	// Running are the attempts of Recent whose lease holds now.
	Running []Record
	// Recent are the last runs, newest first: at most Options.Keep, and
	// older attempts whose lease still holds.
	Recent []Record
}

// rawRecord is a record as the scripts write it (window.lua).
type rawRecord struct {
	Window   string `json:"window"`
	RunID    string `json:"run_id"`
	Attempt  string `json:"attempt"`
	Fence    string `json:"fence"`
	Identity string `json:"identity"`
	Start    string `json:"start_us"`
	End      string `json:"end_us"`
	Until    string `json:"until_us"`
	Status   string `json:"status"`
	Lease    string `json:"lease_ms"`
}

// decodeRecord reads a record's JSON as of now: a running attempt whose
// lease ran out is lost, ended at its lease end.
func decodeRecord(key string, s string, now time.Time) (*Record, error) {
	var raw rawRecord
	foreign := &lockcore.ForeignError{Key: key, What: "field that is not a run record"}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, foreign
	}
	var n [6]uint64
	for i, v := range []string{raw.Attempt, raw.Fence, raw.Start, raw.End, raw.Until, raw.Lease} {
		u, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, foreign
		}
		n[i] = u
	}
	r := &Record{
		Window: raw.Window, RunID: raw.RunID, Attempt: int(n[0]), Fence: n[1], Identity: raw.Identity,
		Status: Status(raw.Status), Start: micros(n[2]), LeaseEnd: micros(n[4]), Lease: time.Duration(n[5]) * time.Millisecond,
	}
	if n[3] != 0 {
		r.End = micros(n[3])
	}
	switch r.Status {
	case Running:
		if !r.LeaseEnd.After(now) {
			r.Status, r.End = Lost, r.LeaseEnd
		}
	case Succeeded, Failed, Lost:
	default:
		return nil, foreign
	}
	return r, nil
}

// micros is a Redis time in microseconds as a UTC time.
func micros(us uint64) time.Time { return time.UnixMicro(int64(us)).UTC() }

// replyTime reads reply[i], Redis time in microseconds as a decimal string.
func replyTime(reply []any, i int) (time.Time, error) {
	us, err := lockcore.ReplyUint(reply, i)
	if err != nil {
		return time.Time{}, err
	}
	return micros(us), nil
}

// replyRecord reads reply[i], a record or ” (nil), as of now.
func replyRecord(key string, reply []any, i int, now time.Time) (*Record, error) {
	if i >= len(reply) {
		return nil, lockcore.Unexpected(reply)
	}
	switch v := reply[i].(type) {
	case nil:
		return nil, nil
	case string:
		if v == "" {
			return nil, nil
		}
		return decodeRecord(key, v, now)
	}
	return nil, fmt.Errorf("%w: record %v", lockcore.ErrUnexpectedReply, reply[i])
}
