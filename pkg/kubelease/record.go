package kubelease

import (
	"fmt"
	"math"
	"strconv"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FenceAnnotation holds a Lease's fencing token, raised by every baton
// acquire.
const FenceAnnotation = "baton.dev/fence"

// record is the part of a Lease that client-go's elector compares to tell a
// change: a follower restarts its count of the holder's lease when it
// changes, and not for labels or annotations.
type record struct {
	holder      string
	seconds     int32
	acquire     time.Time
	renew       time.Time
	transitions int32
}

func recordOf(l *coordv1.Lease) record {
	var r record
	s := l.Spec
	if s.HolderIdentity != nil {
		r.holder = *s.HolderIdentity
	}
	if s.LeaseDurationSeconds != nil {
		r.seconds = *s.LeaseDurationSeconds
	}
	if s.AcquireTime != nil {
		r.acquire = s.AcquireTime.Time
	}
	if s.RenewTime != nil {
		r.renew = s.RenewTime.Time
	}
	if s.LeaseTransitions != nil {
		r.transitions = *s.LeaseTransitions
	}
	return r
}

func (r record) equal(o record) bool {
	return r.holder == o.holder && r.seconds == o.seconds && r.transitions == o.transitions &&
		r.acquire.Equal(o.acquire) && r.renew.Equal(o.renew)
}

func (r record) duration() time.Duration { return time.Duration(r.seconds) * time.Second }

// spec is the record as client-go's LeaderElectionRecordToLeaseSpec writes
// it: every field set, and nothing else (a preferred holder or strategy of
// an earlier writer is dropped, as client-go drops it).
func (r record) spec() coordv1.LeaseSpec {
	holder, seconds, transitions := r.holder, r.seconds, r.transitions
	return coordv1.LeaseSpec{
		HolderIdentity:       &holder,
		LeaseDurationSeconds: &seconds,
		AcquireTime:          &metav1.MicroTime{Time: r.acquire},
		RenewTime:            &metav1.MicroTime{Time: r.renew},
		LeaseTransitions:     &transitions,
	}
}

// fenceOf reads the fence annotation: 0 when absent, ErrForeign when it is
// not a number baton wrote. Fences stay within int64, as the Redis
// backend's do, so that a fence one above the previous always exists.
func fenceOf(l *coordv1.Lease) (uint64, error) {
	v, ok := l.Annotations[FenceAnnotation]
	if !ok {
		return 0, nil
	}
	f, err := strconv.ParseUint(v, 10, 64)
	if err != nil || f > math.MaxInt64 {
		return 0, fmt.Errorf("%w: annotation %s of Lease %s/%s is %q, not a fence", ErrForeign, FenceAnnotation, l.Namespace, l.Name, v)
	}
	return f, nil
}

// nextFence is the fence of a new term: above the previous one, and the
// wall clock's microseconds when they are higher, so that fences keep
// growing even if the annotation was lost with its Lease. A previous fence
// at the top of the range cannot grow: ErrForeign (only a hand can put it
// there).
func nextFence(prev uint64, now time.Time) (uint64, error) {
	if us := now.UnixMicro(); us > 0 && uint64(us) > prev {
		return uint64(us), nil
	}
	if prev >= math.MaxInt64 {
		return 0, fmt.Errorf("%w: fence %d cannot grow", ErrForeign, prev)
	}
	return prev + 1, nil
}

func setFence(l *coordv1.Lease, fence uint64) {
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[FenceAnnotation] = strconv.FormatUint(fence, 10)
}

func metaOf(o any) (metav1.Object, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("kubelease: %T has no object metadata", o)
	}
	return m, nil
}
