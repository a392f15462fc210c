package election

import "context"

// Withdraw takes this candidate out of the election for the rest of Run
// without ending a term in progress. A term it holds goes on until it ends
// for its own reason (a shutdown, a resign, a lost or expired lease); after
// that, and from the moment Withdraw is called if it does not lead, it
// never begins another term: a campaign in flight is interrupted and what
// it wins is given straight back.
//
// It is for a replica on its way out, such as a pod being deleted: its own
// work may finish its term, as the native sidecar's order lets it, but a
// replica that is about to stop must not take over from another one and
// hand over again a moment later. It returns ErrNotRunning when Run is not
// running, and is idempotent.
func (e *Elector) Withdraw() error {
	var (
		running, already bool
		cancelAcquire    context.CancelFunc
	)
	e.update(func() {
		running, already = e.running, e.withdrawn
		if !running || already {
			return
		}
		e.withdrawn = true
		// begin compares the epoch: an acquire already under way does not
		// lead on what it wins.
		e.resignEpoch++
		cancelAcquire = e.acquireCancel
	})
	if !running {
		return ErrNotRunning
	}
	if already {
		return nil
	}
	e.log.Info("withdrawn from the election: no new term until Run returns", "leading", e.IsLeader())
	if cancelAcquire != nil {
		cancelAcquire()
	}
	select {
	case e.kick <- struct{}{}:
	default:
	}
	return nil
}

// isWithdrawn reports whether Withdraw was called during this Run.
func (e *Elector) isWithdrawn() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.withdrawn
}
