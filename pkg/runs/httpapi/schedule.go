package runsapi

import (
	"log/slog"
	"net/http"

	"github.com/baton-dev/baton/internal/httpx"
	"github.com/baton-dev/baton/pkg/runs"
)

// ScheduleOptions configures NewSchedule.
type ScheduleOptions struct {
	// Job is the scheduled job, whose record each request reads. Required.
	Job *runs.Job
	// Schedule is the job's schedule. Required.
	Schedule *runs.Schedule
	// TimeZone is the schedule's time zone, as given. Default "UTC".
	TimeZone string
	// Identity is this replica's identity. Default: "".
	Identity string
	// Running returns this replica's running attempt, nil between runs.
	// It must not block. Default: none runs here.
	Running func() *runs.Run
	// Logger receives a line per failed Redis read. Default: a logger that
	// discards.
	Logger *slog.Logger
}

// Schedule serves GET /leader in schedule mode, where no election runs:
// the job's windows and its record instead of a leader (ScheduleBody).
// Pass it to pkg/api's NewRoutesHandler in Options.Routes.
type Schedule struct {
	opts ScheduleOptions
	log  *slog.Logger
}

// NewSchedule returns schedule mode's /leader. It makes no Redis call.
func NewSchedule(o ScheduleOptions) (*Schedule, error) {
	switch {
	case o.Job == nil:
		return nil, invalid("Job", "is required")
	case o.Schedule == nil:
		return nil, invalid("Schedule", "is required")
	}
	if o.TimeZone == "" {
		o.TimeZone = "UTC"
	}
	if o.Running == nil {
		o.Running = func() *runs.Run { return nil }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Schedule{opts: o, log: o.Logger}, nil
}

// Register adds GET /leader to mux, for api.Options.Routes. The
// election's other routes answer 404: nothing leads in schedule mode.
func (s *Schedule) Register(mux *http.ServeMux, _ func(http.HandlerFunc) http.Handler) {
	mux.HandleFunc("GET /leader", s.leader)
	mux.Handle("/leader", httpx.MethodNotAllowed(s.log, "GET, HEAD"))
	noElection := func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(s.log, w, r, http.StatusNotFound, "%s is not served in schedule mode, which runs no election: GET /leader tells the job's windows and runs", r.URL.Path)
	}
	mux.HandleFunc("/leader/watch", noElection)
	mux.HandleFunc("/leader/release", noElection)
}

// leader serves GET /leader: 200 ScheduleBody, read from the job's record
// at the request (one Redis call), or 503 when Redis does not answer.
func (s *Schedule) leader(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("wait") {
		httpx.WriteError(s.log, w, r, http.StatusBadRequest, "wait: long-polls are not served in schedule mode, which runs no election")
		return
	}
	if _, err := httpx.Query(r); err != nil {
		httpx.WriteRequestError(s.log, w, r, err)
		return
	}
	info, err := s.opts.Job.Inspect(r.Context())
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Warn("cannot read the job's record", "job", s.opts.Job.Name(), "err", err)
		}
		httpx.WriteError(s.log, w, r, http.StatusServiceUnavailable, "redis: %v", err)
		return
	}
	httpx.WriteJSON(s.log, w, http.StatusOK, s.body(info))
}

// body is the answer for info.
func (s *Schedule) body(info runs.Info) ScheduleBody {
	b := ScheduleBody{
		Mode: "schedule", Job: s.opts.Job.Name(), Identity: s.opts.Identity,
		Schedule: s.opts.Schedule.String(), TimeZone: s.opts.TimeZone, Now: stamp(info.Now),
		LastSuccess: recordBody(info.LastSuccess), LastFailure: recordBody(info.LastFailure),
	}
	if w := s.opts.Schedule.Window(info.Now); !w.IsZero() {
		b.Window = runs.WindowName(w)
	}
	if n := s.opts.Schedule.Next(info.Now); !n.IsZero() {
		b.NextWindow = runs.WindowName(n)
	}
	if run := s.opts.Running(); run != nil {
		b.RunningHere = true
		b.Run = &RunBody{Job: b.Job, Window: run.Window, RunID: run.ID, Attempt: run.Attempt, Fence: run.Fence, LeaseMS: run.Lease.Milliseconds()}
	}
	if len(info.Recent) > 0 {
		b.LastRun = recordBody(&info.Recent[0])
	}
	return b
}

// ScheduleBody is the JSON body of GET /leader in schedule mode. Times
// are Redis server time; windows are named by their start, RFC 3339 in
// UTC, as BATON_RUN_WINDOW.
type ScheduleBody struct {
	// Mode is "schedule".
	Mode     string `json:"mode"`
	Job      string `json:"job"`
	Identity string `json:"identity"`
	// Schedule and TimeZone are --schedule and --time-zone.
	Schedule string `json:"schedule"`
	TimeZone string `json:"time_zone"`
	// Now is Redis server time at the read.
	Now string `json:"now"`
	// Window is the start of the window open now, "" before the first.
	Window string `json:"window"`
	// NextWindow is the start of the next window, "" when the schedule
	// fires no more.
	NextWindow string `json:"next_window"`
	// RunningHere is true while this replica runs an attempt: Run.
	RunningHere bool     `json:"running_here"`
	Run         *RunBody `json:"run,omitempty"`
	// LastRun is the job's latest attempt, by any replica, running or
	// ended; null when none is recorded.
	LastRun *RecordBody `json:"last_run"`
	// LastSuccess and LastFailure are the latest of each, null when none.
	LastSuccess *RecordBody `json:"last_success"`
	LastFailure *RecordBody `json:"last_failure"`
}
