//go:build linux

package chaos

import (
	"strings"
	"testing"
	"time"
)

func TestCheckGrants(t *testing.T) {
	ms := int64(time.Millisecond)
	lock := func(client, sidecar string, fence uint64, start int64) Grant {
		return Grant{Name: "locks/m", Limit: 1, Client: client, Sidecar: sidecar, Fence: fence, Start: start}
	}
	released := func(g Grant, at int64) Grant { g.Released, g.ReleasedHow = at, "DELETE 200"; return g }
	told := func(g Grant, at int64, how string) Grant { g.Told, g.ToldHow = at, how; return g }
	leased := func(g Grant, at int64) Grant { g.LeaseEnd = at; return g }
	sem := func(g Grant, n int) Grant { g.Name, g.Limit = "semaphores/s", n; return g }
	tests := []struct {
		name    string
		grants  []Grant
		flushes []Flush
		// want are substrings of Problems, none when OK.
		want    []string
		excused int
		margin  time.Duration
	}{
		{
			name: "hand-overs by release, lost and lease end",
			grants: []Grant{
				released(lock("a", "s1", 1, 0), 10*ms),
				told(lock("b", "s2", 2, 12*ms), 20*ms, "lost event"),
				leased(told(lock("c", "s3", 3, 25*ms), 90*ms, "renew 503"), 40*ms),
				released(lock("a", "s1", 4, 41*ms), 50*ms),
			},
			margin: time.Millisecond,
		},
		{
			name: "the earliest of released, told and lease end ends a grant",
			grants: []Grant{
				leased(released(told(lock("a", "s1", 1, 0), 30*ms, "lost event"), 20*ms), 10*ms),
				released(lock("b", "s2", 2, 10*ms), 15*ms),
			},
		},
		{
			name: "a failed DELETE leaves the holder holding: told by the retry's 409 after another was granted",
			grants: []Grant{
				told(lock("a", "s1", 1, 0), 100*ms, "DELETE retry 409"),
				released(lock("b", "s2", 2, 60*ms), 70*ms),
			},
			want: []string{"locks/m: 2 holders at once, limit 1: b via s2 fence 2", "a via s1 fence 1 was told (DELETE retry 409) 40ms after b via s2 fence 2 was granted"},
		},
		{
			name: "a stream that is never told",
			grants: []Grant{
				lock("a", "s1", 1, 0),
				released(lock("b", "s2", 2, 60*ms), 70*ms),
			},
			want: []string{"a via s1 fence 1 was never told, and still held at the end of the run"},
		},
		{
			name: "granted while a lease-form holder's lease was valid",
			grants: []Grant{
				leased(lock("a", "s1", 1, 0), 100*ms),
				released(lock("b", "s1", 2, 60*ms), 70*ms),
			},
			want: []string{"its lease ran out 40ms after b via s1 fence 2 was granted"},
		},
		{
			name: "a FLUSHALL excuses another sidecar's holder told in time",
			grants: []Grant{
				told(lock("a", "s1", 1, 0), 80*ms, "lost event"),
				released(lock("b", "s4", 2, 60*ms), 90*ms),
			},
			flushes: []Flush{{50 * ms, 50*ms + 100}},
			excused: 1,
		},
		{
			name: "a FLUSHALL excuses no holder told after the bound",
			grants: []Grant{
				told(lock("a", "s1", 1, 0), 2000*ms, "lost event"),
				released(lock("b", "s4", 2, 60*ms), 90*ms),
			},
			flushes: []Flush{{50 * ms, 50*ms + 100}},
			want:    []string{"was told (lost event) 1.94s after"},
		},
		{
			name: "a FLUSHALL excuses no grant again by the same sidecar",
			grants: []Grant{
				leased(lock("a", "s1", 1, 0), 100*ms),
				released(lock("b", "s1", 2, 60*ms), 90*ms),
			},
			flushes: []Flush{{50 * ms, 50*ms + 100}},
			want:    []string{"2 holders at once"},
		},
		{
			name: "a FLUSHALL after both grants excuses nothing",
			grants: []Grant{
				leased(lock("a", "s1", 1, 0), 100*ms),
				released(lock("b", "s2", 2, 60*ms), 90*ms),
			},
			flushes: []Flush{{70 * ms, 70*ms + 100}},
			want:    []string{"2 holders at once"},
		},
		{
			name: "two permits of two at once, then a third",
			grants: []Grant{
				sem(released(lock("a", "s1", 1, 0), 50*ms), 2),
				sem(told(lock("b", "s2", 2, 10*ms), 60*ms, "stream ended"), 2),
				sem(released(lock("c", "s3", 3, 50*ms), 70*ms), 2),
				sem(released(lock("d", "s3", 4, 55*ms), 80*ms), 2),
			},
			want: []string{"semaphores/s: 3 holders at once, limit 2: d via s3 fence 4", "b via s2 fence 2 was told (stream ended) 5ms after d"},
		},
		{
			name: "a lock's fence must grow",
			grants: []Grant{
				released(lock("a", "s1", 5, 0), 10*ms),
				released(lock("b", "s2", 5, 20*ms), 30*ms),
			},
			want: []string{"fence went from 5"},
		},
		{
			name: "two permits share a fence",
			grants: []Grant{
				sem(released(lock("a", "s1", 7, 0), 10*ms), 2),
				sem(released(lock("b", "s2", 7, 5*ms), 30*ms), 2),
			},
			want: []string{"fence 7 held by a via s1 fence 7 and by b"},
		},
		{
			name: "a lease-form grant whose answer came after its lease end is not used",
			grants: []Grant{
				leased(lock("a", "s1", 1, 50*ms), 40*ms),
				released(lock("b", "s2", 2, 60*ms), 70*ms),
			},
		},
		{
			name:   "a grant that ends before it starts",
			grants: []Grant{released(lock("a", "s1", 1, 10*ms), 5*ms)},
			want:   []string{"ends 5ms before it starts"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckGrants(tc.grants, tc.flushes, time.Second.Nanoseconds(), 500*time.Millisecond)
			got := r.Problems()
			if len(tc.want) == 0 {
				if !r.OK() {
					t.Fatalf("problems: %s", got)
				}
				if r.Excused != tc.excused || (tc.margin != 0 && r.MinMargin != tc.margin) {
					t.Fatalf("excused %d, margin %v; want %d, %v", r.Excused, r.MinMargin, tc.excused, tc.margin)
				}
				return
			}
			if r.OK() {
				t.Fatalf("no problem found, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems lack %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestGrantsRecorder(t *testing.T) {
	r := NewGrants()
	changed := r.Changed()
	g := r.Granted(Grant{Name: "locks/m", Limit: 1, Client: "a", Start: 10})
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed by a grant")
	}
	r.Told(g, "lost event", 50)
	r.Told(g, "stream ended", 40)
	r.Told(g, "renew 409", 60)
	r.Released(g, "DELETE 200", 45)
	r.Leased(g, 30)
	r.Leased(g, 20)
	r.Flushed(35, 36)
	r.Note(g, "DELETE 503", 25)
	// A failed DELETE ends nothing, unless the holder was told before its
	// answer came: then the grant ended when the DELETE was sent.
	h := r.Granted(Grant{Name: "locks/m", Limit: 1, Client: "b", Start: 100})
	r.FailedRelease(h, "DELETE 503", 110, 120)
	if h.Released != 0 {
		t.Fatalf("a failed DELETE before any news ended the grant: %+v", h)
	}
	r.Told(h, "lost event", 130)
	r.FailedRelease(h, "DELETE retry 503", 125, 140)
	if h.Released != 125 || h.ReleasedHow != "DELETE retry 503 (sent before it was told)" {
		t.Fatalf("a DELETE under way when the holder was told: %+v", h)
	}
	gs, flushes := r.Snapshot()
	gs = gs[:1]
	if len(gs) != 1 || len(flushes) != 1 || r.Count() != 2 {
		t.Fatalf("grants %+v flushes %v", gs, flushes)
	}
	got := gs[0]
	if got.Told != 40 || got.ToldHow != "stream ended" || got.Released != 45 || got.LeaseEnd != 30 ||
		len(got.Notes) != 1 || got.Notes[0] != "DELETE 503 at +0s" {
		t.Fatalf("grant %+v", got)
	}
	if at, how := got.End(1000); at != 30 || how != "its lease ran out" {
		t.Fatalf("End = %d %q", at, how)
	}
	if at, how := (&Grant{Start: 1}).End(1000); at != 1000 || how != "still held" {
		t.Fatalf("End of an open grant = %d %q", at, how)
	}
}

func TestGrantReportTable(t *testing.T) {
	r := CheckGrants([]Grant{{Name: "locks/m", Limit: 1, Client: "a", Sidecar: "s1", Fence: 1, Start: 0}}, nil, 10, time.Second)
	table := r.Table()
	for _, want := range []string{"  grants                                   1\n", "    locks/m                                1\n", "  overlaps (over the limit)                0\n"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}
