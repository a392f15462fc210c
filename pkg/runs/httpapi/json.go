package runsapi

import (
	"time"

	"github.com/baton-dev/baton/pkg/runs"
)

// RunBody is the JSON body of a successful claim or renew.
type RunBody struct {
	Job    string `json:"job"`
	Window string `json:"window"`
	// RunID is the run's id, which renew and complete present.
	RunID   string `json:"run_id"`
	Attempt int    `json:"attempt"`
	// Fence is larger than any fence the job issued before: pass it to
	// the systems written to, so that they can refuse a stale run.
	Fence uint64 `json:"fence"`
	// LeaseMS is the lease in milliseconds, counted from the call.
	LeaseMS int64 `json:"lease_ms"`
}

// CompleteBody is the JSON body of a successful complete.
type CompleteBody struct {
	Job     string `json:"job"`
	Window  string `json:"window"`
	RunID   string `json:"run_id"`
	Attempt int    `json:"attempt"`
	Fence   uint64 `json:"fence"`
	// Status is "succeeded" or "failed".
	Status string `json:"status"`
}

// RecordBody is one attempt of a window. Times are Redis server time in
// RFC 3339; End is "" while running.
type RecordBody struct {
	Window   string `json:"window"`
	RunID    string `json:"run_id"`
	Attempt  int    `json:"attempt"`
	Fence    uint64 `json:"fence"`
	Identity string `json:"identity"`
	// Status is running, succeeded, failed or lost.
	Status   string `json:"status"`
	Start    string `json:"start"`
	End      string `json:"end"`
	LeaseEnd string `json:"lease_end"`
	LeaseMS  int64  `json:"lease_ms"`
}

// ConflictBody is the JSON body of a 409. State is succeeded, running,
// exhausted or closed for a claim (Last is the window's current attempt:
// who ran it, when, with which fence; RemainingMS its lease left while
// running), and stale for a renew or complete (Last is the window's
// current attempt, if any).
type ConflictBody struct {
	Error       string      `json:"error"`
	State       string      `json:"state"`
	Job         string      `json:"job"`
	Window      string      `json:"window,omitempty"`
	RunID       string      `json:"run_id,omitempty"`
	Last        *RecordBody `json:"last,omitempty"`
	RemainingMS int64       `json:"remaining_ms,omitempty"`
}

// InfoBody is the JSON body of GET /runs/{job}.
type InfoBody struct {
	Job string `json:"job"`
	// Now is Redis server time at the read.
	Now         string       `json:"now"`
	LastSuccess *RecordBody  `json:"last_success"`
	LastFailure *RecordBody  `json:"last_failure"`
	Running     []RecordBody `json:"running"`
	// Recent are the last runs, newest first.
	Recent []RecordBody `json:"recent"`
}

func runBody(job string, r *runs.Run) RunBody {
	return RunBody{Job: job, Window: r.Window, RunID: r.ID, Attempt: r.Attempt, Fence: r.Fence, LeaseMS: r.Lease.Milliseconds()}
}

func recordBody(r *runs.Record) *RecordBody {
	if r == nil {
		return nil
	}
	return &RecordBody{
		Window: r.Window, RunID: r.RunID, Attempt: r.Attempt, Fence: r.Fence, Identity: r.Identity,
		Status: string(r.Status), Start: stamp(r.Start), End: stamp(r.End), LeaseEnd: stamp(r.LeaseEnd),
		LeaseMS: r.Lease.Milliseconds(),
	}
}

func recordBodies(rs []runs.Record) []RecordBody {
	out := make([]RecordBody, 0, len(rs))
	for i := range rs {
		out = append(out, *recordBody(&rs[i]))
	}
	return out
}

// stamp is t in RFC 3339 with its fraction, "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
