package runs

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// parser reads the specs of ParseSchedule: 5 fields, or 6 with seconds
// first, and the descriptors (@hourly, @daily, @every 10s, ...).
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// maxLookBack bounds the search for a cron window's start: every schedule
// ParseSchedule accepts fires within 8 years (29 February, with 2100).
const maxLookBack = 16 * 366 * 24 * time.Hour

// Schedule is a parsed schedule: its windows are the instants it fires,
// and each window lasts until the next one starts. It is immutable.
type Schedule struct {
	spec  string
	every time.Duration // @every, aligned to the Unix epoch; 0 for cron
	cron  cron.Schedule
}

// ParseSchedule parses spec, a cron expression of 5 fields, of 6 with
// seconds first, "@every DURATION" (whole seconds), or a macro (@yearly,
// @monthly, @weekly, @daily, @midnight, @hourly), in the time zone tz (an
// IANA name such as "Europe/Berlin"; "" is UTC). @every windows are
// aligned to the Unix epoch, so every replica computes the same ones. The
// errors wrap ErrInvalid and a *field.Error naming Schedule or TimeZone.
func ParseSchedule(spec, tz string) (*Schedule, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			return nil, invalid("TimeZone", "must be an IANA time zone such as Europe/Berlin (got %q)", tz)
		}
		loc = l
	}
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, invalid("Schedule", "must not name a time zone: give it as {TimeZone} (got %q)", spec)
	}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		every, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || every < time.Second || every%time.Second != 0 {
			return nil, invalid("Schedule", "@every needs a whole number of seconds, at least 1s (got %q)", spec)
		}
		return &Schedule{spec: spec, every: every}, nil
	}
	c, err := parser.Parse(spec)
	if err != nil {
		return nil, invalid("Schedule", "must be a cron expression of 5 or 6 fields, @every DURATION or a macro such as @daily (got %q: %v)", spec, err)
	}
	s, ok := c.(*cron.SpecSchedule)
	if !ok {
		return nil, invalid("Schedule", "must be a cron expression (got %q)", spec)
	}
	s.Location = loc
	// A spec such as 30 February never fires: robfig gives up after 5
	// years. Every spec that fires does so within 8 years of any date.
	for _, y := range []int{2000, 2004} {
		if s.Next(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
			return nil, invalid("Schedule", "never fires (got %q)", spec)
		}
	}
	return &Schedule{spec: spec, cron: s}, nil
}

// String is the spec the schedule was parsed from.
func (s *Schedule) String() string { return s.spec }

// Window returns the start of the window that contains t: the last
// instant at or before t at which the schedule fires, or the zero time
// when there is none in 16 years.
func (s *Schedule) Window(t time.Time) time.Time {
	if s.every > 0 {
		d := int64(s.every)
		ns := t.UnixNano()
		start := ns - ns%d
		if ns%d < 0 {
			start -= d
		}
		return time.Unix(0, start).UTC()
	}
	// Fires are whole seconds. hi has none in (hi, end]; lo has one in
	// (lo, end]: widen lo, then halve the gap down to a second.
	end := t.Truncate(time.Second)
	hi, span := end, time.Second
	lo := end.Add(-span)
	for next := s.cron.Next(lo); next.IsZero() || next.After(end); next = s.cron.Next(lo) {
		if span > maxLookBack {
			return time.Time{}
		}
		hi, span = lo, 2*span
		lo = end.Add(-span)
	}
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		if next := s.cron.Next(mid); !next.IsZero() && !next.After(end) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return s.cron.Next(lo).UTC()
}

// Next returns the start of the first window after t.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		return s.Window(t).Add(s.every)
	}
	return s.cron.Next(t).UTC()
}

// WindowName is a window's name: its start in RFC 3339, in UTC, to the
// second, such as "2026-03-29T01:00:00Z". It is a valid window for Claim.
func WindowName(start time.Time) string { return start.UTC().Format(time.RFC3339) }
