package runs_test

import (
	"testing"
	"time"

	"github.com/baton-dev/baton/pkg/runs"
)

func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// ParseSchedule takes 5 and 6 fields, @every and the macros; bad specs
// and zones name their field.
func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		spec, tz string
		field    string // "" when valid
	}{
		{"0 3 * * *", "", ""},
		{"*/10 * * * * *", "", ""},
		{"0 30 2 * * MON-FRI", "Europe/Berlin", ""},
		{"@every 2s", "", ""},
		{"@every 1h30m", "", ""},
		{"@hourly", "", ""},
		{"@daily", "America/New_York", ""},
		{"@midnight", "", ""},
		{"@weekly", "", ""},
		{"@monthly", "", ""},
		{"@yearly", "", ""},
		{"@annually", "", ""},
		{"0 0 29 2 *", "", ""},
		{"", "", "Schedule"},
		{"* * *", "", "Schedule"},
		{"* * * * * * *", "", "Schedule"},
		{"61 * * * *", "", "Schedule"},
		{"@sometimes", "", "Schedule"},
		{"@every", "", "Schedule"},
		{"@every 500ms", "", "Schedule"},
		{"@every 1500ms", "", "Schedule"},
		{"@every -5s", "", "Schedule"},
		{"@every soon", "", "Schedule"},
		{"0 0 30 2 *", "", "Schedule"},
		{"CRON_TZ=UTC 0 3 * * *", "", "Schedule"},
		{"TZ=UTC 0 3 * * *", "", "Schedule"},
		{"0 3 * * *", "Mars/Olympus", "TimeZone"},
		{"0 3 * * *", "Local", "TimeZone"},
	} {
		t.Run(tc.spec+" "+tc.tz, func(t *testing.T) {
			s, err := runs.ParseSchedule(tc.spec, tc.tz)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.String() != tc.spec {
					t.Errorf("String() = %q", s.String())
				}
				return
			}
			invalidField(t, err, tc.field)
		})
	}
}

// Window and Next around given instants, DST changes in Europe/Berlin
// included: a time that does not exist is skipped, one that happens twice
// is two windows.
func TestScheduleWindows(t *testing.T) {
	for _, tc := range []struct {
		spec, tz     string
		at           string
		window, next string
	}{
		{"@every 2s", "", "2026-12-07T03:00:01.5Z", "2026-12-07T03:00:00Z", "2026-12-07T03:00:02Z"},
		{"@every 2s", "", "2026-12-07T03:00:02Z", "2026-12-07T03:00:02Z", "2026-12-07T03:00:04Z"},
		// Aligned to the Unix epoch, not to the day: that midnight is 3 past a multiple of 7s.
		{"@every 7s", "", "2026-12-07T00:00:00Z", "2026-12-06T23:59:57Z", "2026-12-07T00:00:04Z"},
		{"@every 2s", "", "1969-12-31T23:59:59Z", "1969-12-31T23:59:58Z", "1970-01-01T00:00:00Z"},
		{"0 3 * * *", "", "2026-12-07T03:00:00Z", "2026-12-07T03:00:00Z", "2026-12-08T03:00:00Z"},
		{"0 3 * * *", "", "2026-12-07T02:59:59.999Z", "2026-12-06T03:00:00Z", "2026-12-07T03:00:00Z"},
		{"*/10 * * * * *", "", "2026-12-07T03:00:25Z", "2026-12-07T03:00:20Z", "2026-12-07T03:00:30Z"},
		{"@daily", "Europe/Berlin", "2026-12-07T12:00:00Z", "2026-12-06T23:00:00Z", "2026-12-07T23:00:00Z"},
		{"@daily", "Europe/Berlin", "2026-07-07T12:00:00Z", "2026-07-06T22:00:00Z", "2026-07-07T22:00:00Z"},
		{"0 0 29 2 *", "", "2027-06-01T00:00:00Z", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"},
		// Spring forward on 29 March 2026: 02:30 does not exist in Berlin.
		{"30 2 * * *", "Europe/Berlin", "2026-03-29T12:00:00Z", "2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"},
		// Fall back on 25 October 2026: 02:30 happens at 00:30Z and 01:30Z.
		{"30 2 * * *", "Europe/Berlin", "2026-10-25T00:45:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"},
		{"30 2 * * *", "Europe/Berlin", "2026-10-25T12:00:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"},
		// Hourly windows stay an hour long across both changes.
		{"@hourly", "Europe/Berlin", "2026-03-29T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"},
		{"@hourly", "Europe/Berlin", "2026-10-25T00:59:59Z", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"},
		{"@hourly", "Europe/Berlin", "2026-10-25T01:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"},
	} {
		t.Run(tc.spec+" "+tc.tz+" "+tc.at, func(t *testing.T) {
			s, err := runs.ParseSchedule(tc.spec, tc.tz)
			if err != nil {
				t.Fatal(err)
			}
			at := date(t, tc.at)
			if got := runs.WindowName(s.Window(at)); got != tc.window {
				t.Errorf("Window = %s, want %s", got, tc.window)
			}
			if got := runs.WindowName(s.Next(at)); got != tc.next {
				t.Errorf("Next = %s, want %s", got, tc.next)
			}
		})
	}
}

// Window and Next agree: the window of any instant starts at or before it,
// and the next window after the start is after the instant.
func TestScheduleWindowsAgree(t *testing.T) {
	for _, spec := range []string{"*/7 * * * * *", "0 */5 * * * *", "15 2,3 * * *", "@hourly", "0 0 1 * *", "@every 90s", "0 9 * * MON"} {
		s, err := runs.ParseSchedule(spec, "Europe/Berlin")
		if err != nil {
			t.Fatal(err)
		}
		at := date(t, "2026-10-24T20:00:00.25Z")
		for range 300 {
			w := s.Window(at)
			if w.IsZero() || w.After(at) || !s.Next(w).After(at) || s.Next(at) != s.Next(w) {
				t.Fatalf("%s at %v: window %v, next of it %v, next %v", spec, at, w, s.Next(w), s.Next(at))
			}
			if s.Window(w) != w {
				t.Fatalf("%s: Window(%v) = %v", spec, w, s.Window(w))
			}
			at = at.Add(17*time.Minute + 3*time.Second)
		}
	}
}

func TestWindowName(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	if got := runs.WindowName(time.Date(2026, 3, 29, 3, 0, 0, 0, berlin)); got != "2026-03-29T01:00:00Z" {
		t.Errorf("WindowName = %s", got)
	}
}
