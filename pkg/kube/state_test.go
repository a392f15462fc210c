package kube

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/election"
)

func TestTrackerEventsAndReasons(t *testing.T) {
	base := election.Status{Name: "job", Identity: "a", Running: true}
	lead := func(f uint64) election.Status {
		s := base
		s.Leader, s.Holder, s.Fence = true, "a", f
		return s
	}
	ended := func(f uint64, r election.StepDownReason) election.Status {
		s := base
		s.LastStepDown, s.LastStepDownFence = r, f
		return s
	}
	following := func(s election.Status, holder string, f uint64) election.Status {
		s.Holder, s.Fence = holder, f
		return s
	}
	tests := []struct {
		name       string
		snaps      []election.Status
		wantEvents []string // reason:type
		wantReason string
		wantNote   string // in the last event
	}{
		{"start", []election.Status{base}, nil, ReasonCampaigning, ""},
		{"follower", []election.Status{following(base, "b", 4)}, nil, ReasonFollowing, ""},
		{"elected", []election.Status{base, lead(5)}, []string{"LeaderElected:Normal"}, ReasonLeading, "fence 5"},
		{"renewals are not transitions", []election.Status{lead(5), lead(5), lead(5)}, []string{"LeaderElected:Normal"}, ReasonLeading, ""},
		{"resigned", []election.Status{lead(5), ended(5, election.ReasonResigned)},
			[]string{"LeaderElected:Normal", "Resigned:Normal"}, ReasonResigned, "resigned"},
		{"shutdown", []election.Status{lead(5), ended(5, election.ReasonShutdown)},
			[]string{"LeaderElected:Normal", "Resigned:Normal"}, ReasonShutdown, "at shutdown"},
		{"lost, then a new holder is seen", []election.Status{lead(5), ended(5, election.ReasonLost), following(ended(5, election.ReasonLost), "b", 6)},
			[]string{"LeaderElected:Normal", "LeadershipLost:Warning"}, ReasonFollowing, "gone or taken"},
		{"deadline", []election.Status{lead(5), ended(5, election.ReasonDeadline)},
			[]string{"LeaderElected:Normal", "LeadershipLost:Warning"}, ReasonRenewDeadlineExceeded, "renew deadline"},
		{"validity ran out before the loop stepped down", []election.Status{lead(5), ended(2, election.ReasonResigned)},
			[]string{"LeaderElected:Normal", "LeadershipLost:Warning"}, ReasonRenewDeadlineExceeded, "fence 5"},
		{"a term ended and another began between reads", []election.Status{lead(5), func() election.Status {
			s := lead(7)
			s.LastStepDown, s.LastStepDownFence = election.ReasonResigned, 5
			return s
		}()}, []string{"LeaderElected:Normal", "Resigned:Normal", "LeaderElected:Normal"}, ReasonLeading, "fence 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr tracker
			var (
				d   desired
				all []event
			)
			for _, s := range tt.snaps {
				var evs []event
				d, evs = tr.observe(s, time.Unix(0, 0))
				all = append(all, evs...)
			}
			var got []string
			for _, e := range all {
				got = append(got, e.reason+":"+e.eventType)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantEvents, ",") {
				t.Errorf("events %v, want %v", got, tt.wantEvents)
			}
			if d.reason != tt.wantReason {
				t.Errorf("condition reason %q, want %q (message %q)", d.reason, tt.wantReason, d.message)
			}
			if tt.wantNote != "" && (len(all) == 0 || !strings.Contains(all[len(all)-1].note, tt.wantNote)) {
				t.Errorf("last event %+v, want a note with %q", all, tt.wantNote)
			}
		})
	}
}
