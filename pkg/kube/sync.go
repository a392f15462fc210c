package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/baton-dev/baton/pkg/election"
)

// Limits of the events.k8s.io/v1 API.
const (
	maxEventNote     = 1024
	maxEventInstance = 128
	maxEventNamePod  = 200 // leaves room for the suffix in a 253-byte name
)

// sync publishes the latest desired state on the own pod, sweeps stale
// leader marks while leading, and creates the queued Events. It stops at
// the first failed call; everything it does is idempotent, so the next sync
// starts over.
func (p *Publisher) sync(ctx context.Context) error {
	err := p.syncOnce(ctx)
	if !errors.Is(err, context.Canceled) {
		p.opts.Metrics.synced(err, p.opts.Clock.Now())
	}
	return err
}

func (p *Publisher) syncOnce(ctx context.Context) error {
	p.mu.Lock()
	d := p.want
	p.mu.Unlock()

	pod, err := p.opts.Client.GetPod(ctx, p.opts.Namespace, p.opts.PodName)
	if err != nil {
		return p.apiError(OpGetPod, p.opts.PodName, err)
	}
	p.checkTerminating(pod)
	// Others' marks are cleared before this pod marks itself, so that a
	// Service or a tool selecting the leader label never sees two pods.
	if d.leader {
		if err := p.sweep(ctx, d); err != nil {
			return err
		}
	}
	if err := p.syncLabel(ctx, pod, d); err != nil {
		return err
	}
	if err := p.syncCondition(ctx, pod, d); err != nil {
		return err
	}
	return p.createEvents(ctx, pod)
}

func (p *Publisher) apiError(op, name string, err error) error {
	if !errors.Is(err, context.Canceled) { // stopping is not an API failure
		p.opts.Metrics.apiError(op)
	}
	return fmt.Errorf("kube: %s %s/%s: %w", op, p.opts.Namespace, name, err)
}

func labelValue(leader bool) string { return strconv.FormatBool(leader) }

// syncLabel sets the leader label and the lock annotation, if they differ.
// It writes "true" only if the term it is for is still valid at the moment
// of the write (Unmark may have run since d was read).
func (p *Publisher) syncLabel(ctx context.Context, pod *corev1.Pod, d desired) error {
	select {
	case p.labelMu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.labelMu }()
	want := labelValue(d.leader)
	if d.leader {
		if st := p.src.Status(); !st.Leader || st.Fence != d.fence {
			return nil // the term ended since; the next sync publishes that
		}
	}
	if pod.Labels[p.opts.LabelKey] == want && pod.Annotations[LockAnnotation] == d.lock {
		p.markedTrue = d.leader
		return nil
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"labels":      map[string]string{p.opts.LabelKey: want},
		"annotations": map[string]string{LockAnnotation: d.lock},
	}})
	if err != nil {
		return err
	}
	if d.leader {
		// Set before the call: a write whose reply is lost may have landed.
		p.markedTrue = true
	}
	if _, err := p.opts.Client.PatchPod(ctx, p.opts.Namespace, pod.Name, types.MergePatchType, body); err != nil {
		return p.apiError(OpPatchPod, pod.Name, err)
	}
	p.markedTrue = d.leader
	p.log.Info("pod label published", "label", p.opts.LabelKey+"="+want, "lock", d.lock, "fence", d.fence)
	return nil
}

// findCondition returns the pod's condition of type t, or nil.
func findCondition(pod *corev1.Pod, t string) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if string(pod.Status.Conditions[i].Type) == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// conditionPatch is a strategic merge patch of pods/status that sets one
// condition. Conditions merge by type, so the kubelet's are left alone. A
// non-empty resourceVersion makes the patch conditional on it.
func conditionPatch(condType string, status corev1.ConditionStatus, reason, message string, transition metav1.Time, resourceVersion string) ([]byte, error) {
	patch := map[string]any{"status": map[string]any{"conditions": []map[string]any{{
		"type":               condType,
		"status":             status,
		"reason":             reason,
		"message":            message,
		"lastTransitionTime": transition,
	}}}}
	if resourceVersion != "" {
		patch["metadata"] = map[string]any{"resourceVersion": resourceVersion}
	}
	return json.Marshal(patch)
}

// syncCondition sets the leader condition, if it differs. Its
// lastTransitionTime changes only with its status.
func (p *Publisher) syncCondition(ctx context.Context, pod *corev1.Pod, d desired) error {
	status := d.conditionStatus()
	transition := metav1.NewTime(p.opts.Clock.Now())
	if c := findCondition(pod, p.opts.ConditionType); c != nil {
		if c.Status == status && c.Reason == d.reason && c.Message == d.message {
			return nil
		}
		if c.Status == status && !c.LastTransitionTime.IsZero() {
			transition = c.LastTransitionTime
		}
	}
	body, err := conditionPatch(p.opts.ConditionType, status, d.reason, d.message, transition, "")
	if err != nil {
		return err
	}
	if _, err := p.opts.Client.PatchPod(ctx, p.opts.Namespace, pod.Name, types.StrategicMergePatchType, body, "status"); err != nil {
		return p.apiError(OpPatchPodStatus, pod.Name, err)
	}
	p.log.Info("pod condition published", "condition", p.opts.ConditionType, "status", string(status),
		"reason", d.reason, "message", d.message)
	return nil
}

// sweep sets to false the leader marks of other pods of the same lock. It
// runs while this pod leads, and re-checks that before each patch.
func (p *Publisher) sweep(ctx context.Context, d desired) error {
	list, err := p.opts.Client.ListPods(ctx, p.opts.Namespace, metav1.ListOptions{
		LabelSelector: labels.Set{p.opts.LabelKey: "true"}.String(),
	})
	if err != nil {
		return p.apiError(OpListPods, "", err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.Name == p.opts.PodName || other.Annotations[LockAnnotation] != d.lock {
			continue
		}
		st := p.src.Status()
		if !st.Leader || st.Fence != d.fence {
			return nil // no longer leading this term: not ours to judge
		}
		if st.Holder == other.Name {
			continue
		}
		if err := p.correct(ctx, other, st); err != nil {
			return err
		}
	}
	return nil
}

// correct sets one stale pod's label and, if it says True, its condition to
// false, each conditional on the pod not having changed since it was read.
func (p *Publisher) correct(ctx context.Context, other *corev1.Pod, st election.Status) error {
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": other.ResourceVersion,
		"labels":          map[string]string{p.opts.LabelKey: "false"},
	}})
	if err != nil {
		return err
	}
	patched, err := p.opts.Client.PatchPod(ctx, p.opts.Namespace, other.Name, types.MergePatchType, body)
	if apierrors.IsNotFound(err) {
		return nil // gone, and its label with it
	}
	if apierrors.IsConflict(err) {
		// The pod changed since the list: retry the whole sync, which
		// lists again, before this pod marks itself.
		p.log.Debug("stale leader mark changed before correction; retrying", "other", other.Name, "err", err)
		return errStaleMark
	}
	if err != nil {
		return p.apiError(OpPatchPod, other.Name, err)
	}
	if c := findCondition(patched, p.opts.ConditionType); c != nil && c.Status == corev1.ConditionTrue {
		msg := fmt.Sprintf("%s leads lock %s with fence %d; this pod's leader mark was stale", st.Identity, st.Name, st.Fence)
		body, err := conditionPatch(p.opts.ConditionType, corev1.ConditionFalse, ReasonStale, msg,
			metav1.NewTime(p.opts.Clock.Now()), patched.ResourceVersion)
		if err != nil {
			return err
		}
		_, err = p.opts.Client.PatchPod(ctx, p.opts.Namespace, other.Name, types.StrategicMergePatchType, body, "status")
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			err = nil
		}
		if err != nil {
			return p.apiError(OpPatchPodStatus, other.Name, err)
		}
	}
	p.opts.Metrics.corrected()
	p.log.Info("corrected a stale leader mark", "other", other.Name, "label", p.opts.LabelKey+"=false",
		"lock", st.Name, "fence", st.Fence)
	return nil
}

// createEvents creates the queued Events, oldest first, removing each once
// created.
func (p *Publisher) createEvents(ctx context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	evs := slices.Clone(p.pending)
	p.mu.Unlock()
	for _, ev := range evs {
		obj := &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{
				Name:      fmt.Sprintf("%s.%x-%d", strings.TrimRight(truncate(pod.Name, maxEventNamePod), "-."), ev.at.UnixNano(), ev.seq),
				Namespace: p.opts.Namespace,
			},
			EventTime:           metav1.NewMicroTime(ev.at),
			ReportingController: p.opts.ReportingController,
			ReportingInstance:   truncate(pod.Name, maxEventInstance),
			Action:              ev.action,
			Reason:              ev.reason,
			Note:                truncate(ev.note, maxEventNote),
			Type:                ev.eventType,
			Regarding: corev1.ObjectReference{
				APIVersion: "v1", Kind: "Pod",
				Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
			},
		}
		_, err := p.opts.Client.CreateEvent(ctx, p.opts.Namespace, obj)
		if err != nil && !apierrors.IsAlreadyExists(err) { // AlreadyExists: an earlier try landed
			return p.apiError(OpCreateEvent, obj.Name, err)
		}
		p.log.Info("event recorded", "reason", ev.reason, "type", ev.eventType, "note", ev.note)
		p.mu.Lock()
		p.pending = slices.DeleteFunc(p.pending, func(e event) bool { return e.seq == ev.seq })
		p.mu.Unlock()
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
