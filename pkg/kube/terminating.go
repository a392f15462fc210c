package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/baton-dev/baton/internal/kubeerr"
)

// watchTerminating watches the own pod until ctx ends or the pod is seen
// being deleted (a deletionTimestamp), and then calls OnTerminating once.
// A pod on its way out must not take a new term: in a rollout its baton
// keeps running after its app has stopped, until the kubelet stops the
// native sidecar, and a term it took then would be handed over again a
// moment later, with no app to do the work. A failed or ended watch is
// started again after a back-off; each sync's read of the pod checks the
// same thing, so a watch that keeps failing costs at most a resync. An
// expected answer of the API server (kubeerr.Expected) is no failure: the
// new watch, which lists the pod afresh, is the remedy, at once; a run of
// them backs off all the same, so that a server that keeps answering so is
// not hammered.
func (p *Publisher) watchTerminating(ctx context.Context) {
	if p.opts.OnTerminating == nil {
		return
	}
	failures, expected := 0, 0
	for ctx.Err() == nil && !p.terminating.Load() {
		err := p.watchOnce(ctx)
		if ctx.Err() != nil || p.terminating.Load() {
			return
		}
		n := 1
		switch {
		case kubeerr.Expected(err):
			expected++
			p.log.Debug("watch of the own pod ended with an expected answer; watching again", "err", err)
			if expected == 1 {
				continue
			}
			n = expected - 1
		case err != nil:
			failures++
			n = failures
			if failures == 1 {
				p.log.Warn("watch of the own pod failed; retrying with back-off", "err", err)
			}
		default:
			failures, expected = 0, 0 // the server ended a healthy watch: start again
		}
		t := p.opts.Clock.NewTimer(backoff(p.opts.MinBackoff, p.opts.MaxBackoff, n))
		select {
		case <-t.C():
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// watchOnce runs one watch of the own pod until it ends.
func (p *Publisher) watchOnce(ctx context.Context) error {
	w, err := p.opts.Client.WatchPod(ctx, p.opts.Namespace, p.opts.PodName, "")
	if err != nil {
		return p.watchError(err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			switch ev.Type {
			case watch.Error:
				return p.watchError(apierrors.FromObject(ev.Object))
			case watch.Deleted:
				p.sawTerminating("deleted")
				return nil
			case watch.Added, watch.Modified:
				if pod, ok := ev.Object.(*corev1.Pod); ok {
					p.checkTerminating(pod)
				}
			}
			if p.terminating.Load() {
				return nil
			}
		}
	}
}

// watchError is the error that ends a watch: counted as a failed call of
// the API, unless it is an expected answer.
func (p *Publisher) watchError(err error) error {
	if kubeerr.Expected(err) {
		return fmt.Errorf("kube: %s %s/%s: %w", OpWatchPod, p.opts.Namespace, p.opts.PodName, err)
	}
	return p.apiError(OpWatchPod, p.opts.PodName, err)
}

// checkTerminating calls OnTerminating, once, if pod is being deleted.
func (p *Publisher) checkTerminating(pod *corev1.Pod) {
	if pod.DeletionTimestamp != nil {
		p.sawTerminating("deletionTimestamp " + pod.DeletionTimestamp.UTC().Format(time.RFC3339))
	}
}

func (p *Publisher) sawTerminating(why string) {
	if p.opts.OnTerminating == nil || !p.terminating.CompareAndSwap(false, true) {
		return
	}
	p.log.Info("own pod is being deleted: withdrawing from the election", "seen", why)
	p.opts.OnTerminating()
}

// errStaleMark stops a sync whose sweep could not clear another pod's
// leader mark: this pod is not marked leader while another one may still
// be. The sync is retried after a back-off.
var errStaleMark = errors.New("kube: another pod's leader mark changed before it could be cleared")
