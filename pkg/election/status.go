package election

import (
	"time"
)

// Term is one period of leadership.
type Term struct {
	// Fence is the term's fencing token: larger than every earlier term's.
	Fence uint64
	// Start is when the term began (wall clock, for display).
	Start time.Time
}

// StepDownReason says why a term ended.
type StepDownReason string

// The reasons a term ends.
const (
	// ReasonLost: a renewal found the lease gone or someone else's.
	ReasonLost StepDownReason = "lost"
	// ReasonDeadline: no renewal succeeded within RenewDeadline.
	ReasonDeadline StepDownReason = "deadline"
	// ReasonResigned: Resign was called.
	ReasonResigned StepDownReason = "resigned"
	// ReasonShutdown: Run's context ended.
	ReasonShutdown StepDownReason = "shutdown"
)

// Status is a snapshot of an elector. Leader is computed at the moment of
// the read: a term whose validity has run out reads as not leader even if
// the election loop has not yet processed the deadline.
type Status struct {
	// Name is the lock's name.
	Name string
	// Identity is this candidate's identity.
	Identity string
	// Leader is true while this candidate leads and its term is valid.
	Leader bool
	// Holder is the identity seen holding the lock ("" when unknown).
	Holder string
	// Fence is this term's fence when Leader, otherwise the fence last seen
	// with Holder (0 when unknown).
	Fence uint64
	// TermStart is when this term began; zero unless Leader.
	TermStart time.Time
	// Remaining is how much longer this term is valid without another
	// successful renewal; zero unless Leader.
	Remaining time.Duration
	// HoldOff is how much longer this candidate stays out of the election
	// after a resign.
	HoldOff time.Duration
	// Withdrawn is true once Withdraw was called during this Run: this
	// candidate begins no new term.
	Withdrawn bool
	// Running is true while Run runs.
	Running bool
	// LastError is the last lock error, cleared by the next success.
	LastError string
	// LastStepDown is why this candidate's latest term ended, and
	// LastStepDownFence is that term's fence; both are zero before the
	// first step-down. They are set in the same change that turns Leader
	// false, so an observer can tell a term that ended (LastStepDownFence
	// is its fence) from one whose validity ran out before the loop
	// stepped down (it is not yet).
	LastStepDown      StepDownReason
	LastStepDownFence uint64
	// Generation grows with every change, so observers can tell snapshots
	// apart.
	Generation uint64
}
