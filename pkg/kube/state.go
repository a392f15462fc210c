package kube

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/baton-dev/baton/pkg/election"
)

// Reasons of the baton.dev/leader pod condition.
const (
	// ReasonLeading: this pod leads (condition True).
	ReasonLeading = "Leading"
	// ReasonFollowing: another candidate is known to lead.
	ReasonFollowing = "Following"
	// ReasonCampaigning: no leader is known yet.
	ReasonCampaigning = "Campaigning"
	// ReasonResigned: this pod's term ended by a resign.
	ReasonResigned = "Resigned"
	// ReasonLeaseLost: a renewal found the lease gone or someone else's.
	ReasonLeaseLost = "LeaseLost"
	// ReasonRenewDeadlineExceeded: no renewal succeeded within the renew
	// deadline, so the term ran out.
	ReasonRenewDeadlineExceeded = "RenewDeadlineExceeded"
	// ReasonShutdown: the sidecar stopped.
	ReasonShutdown = "Shutdown"
	// ReasonStale: the current leader found this pod still marked as leader
	// and corrected it.
	ReasonStale = "StaleLeaderCorrected"
)

// Reasons of the Events recorded on the pod.
const (
	// EventLeaderElected (Normal): a term started.
	EventLeaderElected = "LeaderElected"
	// EventLeadershipLost (Warning): a term ended because the lease was lost
	// or its renew deadline passed.
	EventLeadershipLost = "LeadershipLost"
	// EventResigned (Normal): a term ended by a resign, or by releasing the
	// lock at shutdown.
	EventResigned = "Resigned"
)

// desired is what the pod should show.
type desired struct {
	leader  bool
	fence   uint64 // this pod's term's fence while leader
	lock    string
	reason  string
	message string
}

func (d desired) conditionStatus() corev1.ConditionStatus {
	if d.leader {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

// event is an Event waiting to be created.
type event struct {
	seq       uint64
	at        time.Time
	eventType string // corev1.EventTypeNormal or corev1.EventTypeWarning
	reason    string
	action    string
	note      string
}

// tracker turns consecutive Status snapshots into the desired state and the
// Events of this candidate's own terms. It is not safe for concurrent use.
type tracker struct {
	leadFence uint64 // the fence of the term seen leading, 0 when not
	// endReason is how the latest term seen ending ended, "" before any.
	endReason election.StepDownReason
	endFence  uint64
}

// observe takes a snapshot and returns the desired state and the Events of
// the transitions since the previous snapshot.
func (t *tracker) observe(st election.Status, now time.Time) (desired, []event) {
	var evs []event
	end := func(fence uint64) {
		reason := election.ReasonDeadline
		if st.LastStepDownFence == fence && st.LastStepDown != "" {
			reason = st.LastStepDown
		}
		// Otherwise the term's validity ran out before the election loop
		// stepped down: the loop will end it with ReasonDeadline.
		t.endReason, t.endFence = reason, fence
		evs = append(evs, endEvent(st, fence, reason, now))
	}
	if st.Leader {
		if t.leadFence != 0 && t.leadFence != st.Fence {
			end(t.leadFence) // one term ended and another began between reads
		}
		if t.leadFence != st.Fence {
			evs = append(evs, event{
				at: now, eventType: corev1.EventTypeNormal, reason: EventLeaderElected, action: "Lead",
				note: fmt.Sprintf("%s became leader of lock %s with fence %d", st.Identity, st.Name, st.Fence),
			})
		}
		t.leadFence = st.Fence
	} else if t.leadFence != 0 {
		end(t.leadFence)
		t.leadFence = 0
	}
	return t.desire(st), evs
}

func (t *tracker) desire(st election.Status) desired {
	d := desired{leader: st.Leader, lock: st.Name}
	switch {
	case st.Leader:
		d.fence = st.Fence
		d.reason = ReasonLeading
		d.message = fmt.Sprintf("%s leads lock %s with fence %d", st.Identity, st.Name, st.Fence)
	case st.Holder != "" && st.Holder != st.Identity:
		d.reason = ReasonFollowing
		d.message = fmt.Sprintf("%s leads lock %s with fence %d", st.Holder, st.Name, st.Fence)
	case t.endReason != "":
		d.reason = conditionReason(t.endReason)
		d.message = fmt.Sprintf("%s stepped down from lock %s, fence %d (%s); no leader known", st.Identity, st.Name, t.endFence, t.endReason)
	default:
		d.reason = ReasonCampaigning
		d.message = fmt.Sprintf("no leader of lock %s known", st.Name)
	}
	return d
}

// shutdown is the state published when the publisher stops.
func shutdown(st election.Status) desired {
	return desired{
		lock: st.Name, reason: ReasonShutdown,
		message: fmt.Sprintf("baton stopped publishing for %s on lock %s", st.Identity, st.Name),
	}
}

func conditionReason(r election.StepDownReason) string {
	switch r {
	case election.ReasonResigned:
		return ReasonResigned
	case election.ReasonLost:
		return ReasonLeaseLost
	case election.ReasonDeadline:
		return ReasonRenewDeadlineExceeded
	default:
		return ReasonShutdown
	}
}

func endEvent(st election.Status, fence uint64, reason election.StepDownReason, now time.Time) event {
	holder := "unknown"
	if st.Holder != "" && st.Holder != st.Identity {
		holder = st.Holder
	}
	ev := event{at: now, action: "StepDown"}
	switch reason {
	case election.ReasonResigned:
		ev.eventType, ev.reason = corev1.EventTypeNormal, EventResigned
		ev.note = fmt.Sprintf("%s resigned leadership of lock %s, fence %d; holder now %s", st.Identity, st.Name, fence, holder)
	case election.ReasonShutdown:
		ev.eventType, ev.reason = corev1.EventTypeNormal, EventResigned
		ev.note = fmt.Sprintf("%s released lock %s, fence %d, at shutdown; holder now %s", st.Identity, st.Name, fence, holder)
	case election.ReasonLost:
		ev.eventType, ev.reason = corev1.EventTypeWarning, EventLeadershipLost
		ev.note = fmt.Sprintf("%s lost lock %s, fence %d: the lease was gone or taken; holder now %s", st.Identity, st.Name, fence, holder)
	default:
		ev.eventType, ev.reason = corev1.EventTypeWarning, EventLeadershipLost
		ev.note = fmt.Sprintf("%s lost lock %s, fence %d: no renewal succeeded within the renew deadline; holder now %s", st.Identity, st.Name, fence, holder)
	}
	return ev
}
