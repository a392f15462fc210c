package kube

import (
	"context"
	"encoding/json"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/election"
)

// DefaultUnmarkTimeout bounds Unmark when Options.UnmarkTimeout is zero.
const DefaultUnmarkTimeout = 500 * time.Millisecond

// Lead wraps a term's work (nil: none) for election.Config.OnStartedLeading
// so that this pod's leader label is set to false before the lock is
// released: the elector releases only once OnStartedLeading has returned,
// and this one returns after the work has, and after Unmark. A waiter woken
// by the release can then never find two pods labelled leader. The wait is
// bounded by UnmarkTimeout, so a slow API server delays a hand-over by at
// most that much, never more; the elector's own bounds (ReleaseTimeout, the
// lease's expiry) still apply on top.
func (p *Publisher) Lead(work func(context.Context, election.Term)) func(context.Context, election.Term) {
	return func(ctx context.Context, term election.Term) {
		if work != nil {
			work(ctx, term)
		}
		<-ctx.Done()
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.UnmarkTimeout)
		defer cancel()
		if err := p.Unmark(uctx); err != nil {
			p.log.Warn("could not unmark the pod before the release; the publisher retries", "err", err)
		}
	}
}

// Unmark sets this pod's leader label to false now, unless the publisher
// has not labelled it true. It is serialized with the publisher's own
// label writes, so a write of "true" decided before the step-down cannot
// land after it.
func (p *Publisher) Unmark(ctx context.Context) error {
	select {
	case p.labelMu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.labelMu }()
	if !p.markedTrue {
		return nil
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels": map[string]string{p.opts.LabelKey: labelValue(false)},
	}})
	if err != nil {
		return err
	}
	if _, err := p.opts.Client.PatchPod(ctx, p.opts.Namespace, p.opts.PodName, types.MergePatchType, body); err != nil {
		return p.apiError(OpPatchPod, p.opts.PodName, err)
	}
	p.markedTrue = false
	p.log.Info("pod label published before the release", "label", p.opts.LabelKey+"=false")
	return nil
}
