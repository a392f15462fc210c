package chaos

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Grant is one lock or semaphore permit that a sidecar's lock API granted
// to a client, as that client saw it, on CLOCK_MONOTONIC nanoseconds: the
// clients run in the test's process, so their stamps lie on the sidecars'
// and the faults' time line.
//
// A grant spans from Start to End: the earliest of the moment its holder
// gave it back (Released), the moment it was told that it ended (Told)
// and, in the lease form, the end of its lease as the holder knows it
// (LeaseEnd). A grant none of them ended is still held.
type Grant struct {
	// Name is the route's kind and name: "locks/m", "semaphores/s2".
	Name string
	// Limit is the number of holders the name allows at once: 1 for a
	// lock, N for a semaphore of N permits.
	Limit   int
	Client  string
	Sidecar string
	Fence   uint64
	// Start is when the 200 arrived (for a stream, its headers, which
	// come with the acquired event).
	Start int64
	// Released is when the holder gave the grant back by itself: the
	// sending of a DELETE that was answered 200 or 409, or the closing of
	// its stream. A DELETE that failed otherwise releases nothing: the holder
	// still holds (the API's contract), unless it was told that its grant
	// ended while the DELETE was under way (see Grants.FailedRelease).
	Released    int64
	ReleasedHow string
	// Told is when the holder was first told that its grant ended: a lost
	// event, its stream ended by the sidecar, an error answer on renew, a
	// 409 on DELETE.
	Told    int64
	ToldHow string
	// Notes are what else its holder saw, such as a failed DELETE, for a
	// report.
	Notes []string
	// LeaseEnd is, in the lease form, the sending of the last acquire or
	// renew answered 200 plus the lease: the lease cannot expire in Redis
	// before, and the holder stops using it then. 0 for a stream.
	LeaseEnd int64
}

// End is when g ended and how, or end and "still held" when nothing ended
// it.
func (g *Grant) End(end int64) (int64, string) {
	at, how := int64(0), ""
	for _, c := range []struct {
		at  int64
		how string
	}{{g.Released, g.ReleasedHow}, {g.Told, g.ToldHow}, {g.LeaseEnd, "its lease ran out"}} {
		if c.at != 0 && (at == 0 || c.at < at) {
			at, how = c.at, c.how
		}
	}
	if at == 0 {
		return end, "still held"
	}
	return at, how
}

func (g *Grant) String() string {
	return fmt.Sprintf("%s via %s fence %d", g.Client, g.Sidecar, g.Fence)
}

// Grants records the grants of a run; it is safe for concurrent use.
type Grants struct {
	mu      sync.Mutex
	list    []*Grant
	flushes []Flush
	changed chan struct{}
}

// NewGrants returns an empty record.
func NewGrants() *Grants { return &Grants{changed: make(chan struct{})} }

// Granted records a new grant and returns it, for the calls below.
func (r *Grants) Granted(g Grant) *Grant {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := &g
	r.list = append(r.list, p)
	close(r.changed)
	r.changed = make(chan struct{})
	return p
}

// Told records that g's holder was told at at, by how, unless it was told
// earlier.
func (r *Grants) Told(g *Grant, how string, at int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g.Told == 0 || at < g.Told {
		g.Told, g.ToldHow = at, how
	}
}

// Released records that g's holder gave it back at at, unless earlier.
func (r *Grants) Released(g *Grant, how string, at int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g.Released == 0 || at < g.Released {
		g.Released, g.ReleasedHow = at, how
	}
}

// FailedRelease records a DELETE of g sent at sent whose failure (a 503, a
// transport error) came at answered. The holder stopped using g when it
// sent the DELETE; the failure tells it that it still holds, unless it was
// told before that its grant had ended (a lost event while the DELETE was
// under way: the release may well have run in Redis and only its reply was
// lost). In that case g ended at sent; otherwise the holder holds on.
func (r *Grants) FailedRelease(g *Grant, how string, sent, answered int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g.Notes = append(g.Notes, fmt.Sprintf("%s at +%v", how, time.Duration(answered-g.Start).Round(time.Microsecond)))
	if g.Told != 0 && g.Told <= answered && (g.Released == 0 || sent < g.Released) {
		g.Released, g.ReleasedHow = sent, how+" (sent before it was told)"
	}
}

// Note records what g's holder saw at at that ended nothing.
func (r *Grants) Note(g *Grant, what string, at int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g.Notes = append(g.Notes, fmt.Sprintf("%s at +%v", what, time.Duration(at-g.Start).Round(time.Microsecond)))
}

// Leased records g's lease end as its holder knows it after an acquire or
// a renew answered 200.
func (r *Grants) Leased(g *Grant, end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g.LeaseEnd = max(g.LeaseEnd, end)
}

// Flush is a loss of every key (FLUSHALL): Redis ran it between Sent and
// Done.
type Flush struct{ Sent, Done int64 }

// Flushed records a FLUSHALL sent at sent and answered at done.
func (r *Grants) Flushed(sent, done int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushes = append(r.flushes, Flush{sent, done})
}

// Count is the number of grants so far.
func (r *Grants) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.list)
}

// Changed is closed at the next grant.
func (r *Grants) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Snapshot copies the grants and the flushes.
func (r *Grants) Snapshot() ([]Grant, []Flush) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Grant, len(r.list))
	for i, g := range r.list {
		out[i] = *g
		out[i].Notes = append([]string(nil), g.Notes...)
	}
	return out, append([]Flush(nil), r.flushes...)
}

// GrantReport is what CheckGrants found.
type GrantReport struct {
	Grants int
	// ByName counts the grants of each name.
	ByName map[string]int
	// Overlaps (a): moments at which a name had more holders than its
	// limit, each with the holders.
	Overlaps []string
	// LateTold (b): holders that were still holding, not told that their
	// grant had ended, when another holder was granted the name beyond
	// its limit.
	LateTold []string
	// FenceErrors: a lock's fence not above the previous holder's, or a
	// fence that two permits share.
	FenceErrors []string
	// RecordErrors: grants that end before they start.
	RecordErrors []string
	// Excused counts the holders beyond the limit that CheckGrants
	// excused: granted before a FLUSHALL through another sidecar than the
	// new holder's, and told within the bound after it. No Redis lock can
	// keep a holder that Redis forgot apart from a sidecar that never saw
	// it; the sidecar that granted it must (it never grants again while a
	// lease it issued can be valid), and its holder must hear of the loss.
	Excused int
	// MaxExcused is the longest of those excused overlaps.
	MaxExcused time.Duration
	// Unusable counts the lease-form grants whose answer came when their
	// lease could have run out already (their holder does not use them).
	Unusable int
	// MinMargin is, over the locks, the smallest time from the latest end
	// of the earlier holders to the next grant (negative on overlap;
	// excused holders not counted).
	MinMargin time.Duration

	overlapAt []int64
}

// OK reports whether the grants are safe.
func (r *GrantReport) OK() bool {
	return len(r.Overlaps) == 0 && len(r.LateTold) == 0 && len(r.FenceErrors) == 0 && len(r.RecordErrors) == 0
}

// Problems lists every violation, one per line.
func (r *GrantReport) Problems() string {
	var all []string
	for _, group := range [][]string{r.RecordErrors, r.Overlaps, r.LateTold, r.FenceErrors} {
		all = append(all, group...)
	}
	return strings.Join(all, "\n")
}

// CheckGrants proves, name by name, that (a) no more grants than the
// name's limit are held at once, a grant ending as its End says (a grant
// still held ends at end), and (b) that every holder whose grant ended was
// told, or gave it back, before anyone else was granted the name beyond
// its limit. A grant that starts at the instant another ends does not
// overlap it. It also checks that a lock's fences grow from holder to
// holder and that no two permits share a fence. flushes are the FLUSHALLs
// of the run, and excuse the bound after one within which a holder from
// before it must be told (see GrantReport.Excused).
func CheckGrants(grants []Grant, flushes []Flush, end int64, excuse time.Duration) *GrantReport {
	r := &GrantReport{Grants: len(grants), ByName: map[string]int{}, MinMargin: time.Duration(1<<63 - 1)}
	byName := map[string][]*Grant{}
	for i := range grants {
		g := &grants[i]
		r.ByName[g.Name]++
		if g.LeaseEnd != 0 && g.LeaseEnd <= g.Start {
			// Its lease could have run out before its answer came: its
			// holder never used it.
			r.Unusable++
			continue
		}
		if e, _ := g.End(end); e < g.Start {
			r.RecordErrors = append(r.RecordErrors, fmt.Sprintf("%s: grant of %s ends %v before it starts", g.Name, g, time.Duration(g.Start-e)))
			continue
		}
		byName[g.Name] = append(byName[g.Name], g)
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r.checkName(byName[n], flushes, end, excuse)
	}
	if r.MinMargin == time.Duration(1<<63-1) {
		r.MinMargin = 0
	}
	return r
}

// checkName checks the grants of one name.
func (r *GrantReport) checkName(gs []*Grant, flushes []Flush, end int64, excuse time.Duration) {
	sort.SliceStable(gs, func(i, j int) bool { return gs[i].Start < gs[j].Start })
	endOf := func(g *Grant) int64 { e, _ := g.End(end); return e }
	// excused: g, granted before a FLUSHALL ran, h after it, through
	// another sidecar than g, and g told within excuse after it.
	excused := func(g, h *Grant) (bool, time.Duration) {
		if g.Sidecar == h.Sidecar {
			return false, 0
		}
		for _, f := range flushes {
			if g.Start < f.Done && f.Sent <= h.Start && endOf(g) <= f.Done+int64(excuse) {
				return true, time.Duration(endOf(g) - h.Start)
			}
		}
		return false, 0
	}
	var (
		active []*Grant // grants not ended at the current start
		// doneEnd is the latest end of the grants no longer active.
		doneEnd int64
		prev    *Grant // a lock's previous holder, for the fence order
		fences  = map[uint64]*Grant{}
	)
	for _, h := range gs {
		limit := max(h.Limit, 1)
		kept := active[:0]
		for _, g := range active {
			if e := endOf(g); e > h.Start {
				kept = append(kept, g)
			} else {
				doneEnd = max(doneEnd, e)
			}
		}
		active = kept
		var beyond, exc []*Grant // held at h's start: not excused, excused
		for _, g := range active {
			if ok, _ := excused(g, h); ok {
				exc = append(exc, g)
				continue
			}
			beyond = append(beyond, g)
		}
		switch {
		case len(beyond)+1 > limit:
			r.violation(h, beyond, limit, end)
		case len(active)+1 > limit:
			r.Excused += len(exc)
			for _, g := range exc {
				_, d := excused(g, h)
				r.MaxExcused = max(r.MaxExcused, d)
			}
		}
		if limit == 1 {
			// The margin from the latest end before h, or the overlap.
			last := doneEnd
			for _, g := range beyond {
				last = max(last, endOf(g))
			}
			if prev != nil {
				r.MinMargin = min(r.MinMargin, time.Duration(h.Start-last))
			}
			if prev != nil && h.Fence <= prev.Fence && endOf(prev) <= h.Start {
				r.FenceErrors = append(r.FenceErrors, fmt.Sprintf("%s: fence went from %d (%s) to %d (%s)", h.Name, prev.Fence, prev, h.Fence, h))
			}
			prev = h
		} else if g := fences[h.Fence]; g != nil {
			r.FenceErrors = append(r.FenceErrors, fmt.Sprintf("%s: fence %d held by %s and by %s", h.Name, h.Fence, g, h))
		}
		fences[h.Fence] = h
		active = append(active, h)
	}
}

// violation records h, granted while held were held beyond limit.
func (r *GrantReport) violation(h *Grant, held []*Grant, limit int, end int64) {
	spans := make([]string, 0, len(held))
	for _, g := range held {
		e, how := g.End(end)
		spans = append(spans, fmt.Sprintf("%s held since %v before, until %v after (%s)",
			g, time.Duration(h.Start-g.Start).Round(time.Microsecond), time.Duration(e-h.Start).Round(time.Microsecond), how))
		// (b): was g's holder told, or had it given g back, before h?
		switch {
		case g.Told != 0:
			r.LateTold = append(r.LateTold, fmt.Sprintf("%s: %s was told (%s) %v after %s was granted",
				h.Name, g, g.ToldHow, time.Duration(g.Told-h.Start).Round(time.Microsecond), h))
		case g.Released != 0:
			r.LateTold = append(r.LateTold, fmt.Sprintf("%s: %s was not told; it still held, and gave the grant back (%s) %v after %s was granted",
				h.Name, g, g.ReleasedHow, time.Duration(g.Released-h.Start).Round(time.Microsecond), h))
		case g.LeaseEnd != 0:
			r.LateTold = append(r.LateTold, fmt.Sprintf("%s: %s was not told; its lease ran out %v after %s was granted",
				h.Name, g, time.Duration(g.LeaseEnd-h.Start).Round(time.Microsecond), h))
		default:
			r.LateTold = append(r.LateTold, fmt.Sprintf("%s: %s was never told, and still held at the end of the run, when %s was granted", h.Name, g, h))
		}
	}
	r.Overlaps = append(r.Overlaps, fmt.Sprintf("%s: %d holders at once, limit %d: %s granted at %d while %s",
		h.Name, len(held)+1, limit, h, h.Start, strings.Join(spans, "; ")))
	r.overlapAt = append(r.overlapAt, h.Start)
}

// Table renders the report as a summary table.
func (r *GrantReport) Table() string {
	var b strings.Builder
	row := func(k string, v any) { fmt.Fprintf(&b, "  %-40s %v\n", k, v) }
	b.WriteString("lock API summary\n")
	row("grants", r.Grants)
	names := make([]string, 0, len(r.ByName))
	for n := range r.ByName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		row("  "+n, r.ByName[n])
	}
	row("overlaps (over the limit)", len(r.Overlaps))
	row("holders told late or never", len(r.LateTold))
	row("fence errors", len(r.FenceErrors))
	row("unusable on arrival (lease form)", r.Unusable)
	row("excused (FLUSHALL, another sidecar)", r.Excused)
	row("longest excused overlap", r.MaxExcused.Round(time.Microsecond))
	row("smallest lock margin (end -> next grant)", r.MinMargin.Round(time.Microsecond))
	return b.String()
}
