package cron

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on hosts without a zoneinfo database

	robfig "github.com/robfig/cron/v3"

	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/store"
)

// specParser reads 5-field specs, 6-field specs with seconds first, and
// descriptors (@hourly, @daily, @every 10m, ...). A function, not a
// variable: NewParser's result would be stored by an init function at
// every start.
func specParser() robfig.Parser {
	return robfig.NewParser(robfig.SecondOptional | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)
}

// starBit marks a field written as "*" in robfig's bit sets.
const starBit = 1 << 63

// maxMissedCount bounds how far missed runs are counted one by one.
const maxMissedCount = 100000

// Schedule is a job's parsed schedule in its time zone. Its Next is the only
// definition of when a job runs: gocron fires at the times it returns, and the
// command line shows them.
//
// # Daylight saving time
//
// Schedules follow Vixie cron's rules. A spec with "*" in its minute or hour
// field (every minute, @hourly, "*/15 * * * *") follows the clock as it is:
// runs due in a skipped hour do not happen, and runs in a repeated hour
// happen in both. A spec at fixed times ("30 2 * * *", @daily) runs once per
// matching wall-clock time: a time skipped by the clocks going forward runs
// at the moment of the change (02:30 runs at 03:00), and a time repeated by
// the clocks going back runs the first time only.
//
// # @every
//
// "@every D" runs at whole multiples of D since 1970-01-01 00:00 UTC (D is
// whole seconds, at least 1 s), so "@every 10m" runs at :00, :10, :20 … and
// neither a restart nor the time zone shifts it.
type Schedule struct {
	spec  string
	loc   *time.Location
	every time.Duration        // @every; zero for specs
	cron  *robfig.SpecSchedule // in loc
	wall  *robfig.SpecSchedule // the same fields in UTC: matches wall-clock times
	fixed bool                 // neither minute nor hour is "*": fixed-time DST rules
}

// ScheduleError is a schedule or time zone that cannot be used. Its message
// says what is wrong and gives examples.
type ScheduleError struct {
	Field  string // "schedule" or "timeZone"
	Value  string
	Reason string
}

// Error says what is wrong and, for a schedule, gives examples.
func (e *ScheduleError) Error() string {
	if e.Field == "timeZone" {
		return e.Reason
	}
	return "schedule " + e.problem()
}

// problem is the message without the field's name, as store.FieldError
// words it.
func (e *ScheduleError) problem() string {
	return fmt.Sprintf("%q is not valid: %s; for example \"*/5 * * * *\" (every 5 minutes), \"0 30 9 * * 1-5\" (09:30:00 on weekdays, seconds first), \"@hourly\" or \"@every 10m\"", e.Value, e.Reason)
}

// ParseSchedule parses a cron spec read in the named IANA time zone ("" is
// UTC). Specs have 5 fields (minute hour day-of-month month day-of-week), or
// 6 with seconds first, or are descriptors: @yearly, @monthly, @weekly,
// @daily, @hourly, @every DURATION. A spec that can never run is refused.
func ParseSchedule(spec, zone string) (*Schedule, error) {
	loc, err := store.LoadZone(zone)
	if err != nil {
		return nil, &ScheduleError{Field: "timeZone", Value: zone, Reason: err.Error()}
	}
	return parseSpec(spec, loc)
}

// parseSpec parses a cron spec read in loc.
func parseSpec(spec string, loc *time.Location) (*Schedule, error) {
	bad := func(format string, args ...any) error {
		return &ScheduleError{Field: "schedule", Value: spec, Reason: fmt.Sprintf(format, args...)}
	}
	s := strings.TrimSpace(spec)
	switch {
	case s == "":
		return nil, bad("it is empty")
	case len(s) > 200:
		return nil, bad("it is longer than 200 characters")
	case strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ="):
		return nil, bad("give the time zone separately (--tz Europe/Berlin), not in the spec")
	case strings.ContainsAny(s, "\n\r\x00"):
		return nil, bad("it has more than one line")
	}
	if rest, ok := strings.CutPrefix(s, "@every"); ok {
		return parseEvery(spec, strings.TrimSpace(rest), loc, bad)
	}
	if strings.HasPrefix(s, "@") {
		switch s {
		case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		default:
			return nil, bad("unknown descriptor %s (known: @yearly, @monthly, @weekly, @daily, @hourly, @every 10m)", strings.Fields(s)[0])
		}
	} else if n := len(strings.Fields(s)); n != 5 && n != 6 {
		return nil, bad("it has %d fields; give 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)", n)
	}
	parsed, err := specParser().Parse(s)
	if err != nil {
		return nil, bad("%s", fieldError(s, err))
	}
	cs, ok := parsed.(*robfig.SpecSchedule)
	if !ok {
		return nil, bad("unsupported form")
	}
	inZone, wall := *cs, *cs
	inZone.Location, wall.Location = loc, time.UTC
	sch := &Schedule{
		spec: spec, loc: loc, cron: &inZone, wall: &wall,
		fixed: cs.Minute&starBit == 0 && cs.Hour&starBit == 0,
	}
	// robfig looks five years ahead; a spec without a time in the next eight
	// (e.g. 30 February) never runs.
	if probe := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); sch.Next(probe).IsZero() || sch.Next(probe.AddDate(4, 0, 0)).IsZero() {
		return nil, bad("it never matches a date (check day-of-month against month)")
	}
	return sch, nil
}

// fieldError names the field of a 5- or 6-field spec that robfig refused:
// each field is parsed alone, the others being "*".
func fieldError(spec string, err error) string {
	fields := strings.Fields(spec)
	names := []string{"minute", "hour", "day-of-month", "month", "day-of-week"}
	if len(fields) == 6 {
		names = append([]string{"seconds"}, names...)
	}
	if len(fields) != len(names) {
		return err.Error()
	}
	for i, f := range fields {
		probe := make([]string, len(fields))
		for k := range probe {
			probe[k] = "*"
		}
		probe[i] = f
		if _, perr := specParser().Parse(strings.Join(probe, " ")); perr != nil {
			return fmt.Sprintf("%s field %q: %v", names[i], f, perr)
		}
	}
	return err.Error()
}

func parseEvery(spec, arg string, loc *time.Location, bad func(string, ...any) error) (*Schedule, error) {
	if arg == "" {
		return nil, bad("@every needs a duration, e.g. @every 10m")
	}
	d, err := time.ParseDuration(arg)
	switch {
	case err != nil:
		return nil, bad("@every %q is not a duration (use e.g. 90s, 10m, 1h30m)", arg)
	case d < time.Second:
		return nil, bad("@every %s is shorter than one second", d)
	case d%time.Second != 0:
		return nil, bad("@every %s is not whole seconds", d)
	case d > 366*24*time.Hour:
		return nil, bad("@every %s is longer than a year: use a cron spec such as @yearly", d)
	}
	return &Schedule{spec: spec, loc: loc, every: d}, nil
}

// String returns the spec as given.
func (s *Schedule) String() string { return s.spec }

// Location returns the time zone the schedule is read in.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first time after t (strictly) at which the job is due, in
// UTC, or the zero time if there is none within five years.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		step := int64(s.every / time.Second)
		sec := t.Unix()
		q := sec / step
		if sec%step < 0 {
			q-- // floor for times before 1970
		}
		return time.Unix((q+1)*step, 0).UTC()
	}
	t = t.In(s.loc)
	if !s.fixed {
		return s.cron.Next(t).UTC()
	}
	next := s.cron.Next(t)
	// A fixed time in the second pass of a repeated hour already ran.
	for i := 0; i < 100 && !next.IsZero() && repeated(next); i++ {
		next = s.cron.Next(next)
	}
	// A fixed time skipped by a forward jump runs at the jump.
	until := next
	if until.IsZero() {
		until = t.AddDate(5, 0, 0)
	}
	if jump := s.skippedRun(t, until); !jump.IsZero() {
		return jump.UTC()
	}
	return next.UTC()
}

// repeated reports whether t's wall-clock time already occurred earlier,
// because the clocks went back less than the jump ago.
func repeated(t time.Time) bool {
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, cur := t.Zone()
	_, prev := start.Add(-time.Nanosecond).In(t.Location()).Zone()
	back := time.Duration(prev-cur) * time.Second
	return back > 0 && t.Before(start.Add(back))
}

// skippedRun returns the first forward clock change in (after, until] that
// skipped a wall-clock time of the schedule, or zero.
func (s *Schedule) skippedRun(after, until time.Time) time.Time {
	cur := after.In(s.loc)
	for range 32 { // about two changes a year over the five years robfig searches
		_, end := cur.ZoneBounds()
		if end.IsZero() || end.After(until) {
			return time.Time{}
		}
		_, oldOff := end.Add(-time.Nanosecond).In(s.loc).Zone()
		_, newOff := end.In(s.loc).Zone()
		if newOff > oldOff {
			// Wall-clock times from end+old offset up to end+new offset never
			// appeared on the clock; does the spec name one of them?
			gapStart := wallTime(end, oldOff)
			gapEnd := wallTime(end, newOff)
			if m := s.wall.Next(gapStart.Add(-time.Second)); !m.IsZero() && m.Before(gapEnd) {
				return end
			}
		}
		cur = end
	}
	return time.Time{}
}

// wallTime is the wall clock at instant t with a UTC offset of off seconds,
// written as a UTC time.
func wallTime(t time.Time, off int) time.Time {
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// Due returns the times at which the schedule was due in (after, until], at
// most limit of them, oldest first, and how many there were (counting stops
// at maxMissedCount).
func (s *Schedule) Due(after, until time.Time, limit int) (times []time.Time, count int) {
	if s.every > 0 {
		first := s.Next(after)
		if first.After(until) {
			return nil, 0
		}
		n := int64(until.Sub(first)/s.every) + 1
		count = int(min(n, maxMissedCount))
		for i := 0; i < min(count, limit); i++ {
			times = append(times, first.Add(time.Duration(i)*s.every))
		}
		if count > limit && limit > 0 {
			times = append(times[:limit-1], first.Add(time.Duration(n-1)*s.every))
		}
		return times, count
	}
	var last time.Time
	for t := s.Next(after); !t.IsZero() && !t.After(until); t = s.Next(t) {
		count++
		if len(times) < limit {
			times = append(times, t)
		}
		last = t
		if count == maxMissedCount {
			break
		}
	}
	if count > limit && limit > 0 {
		times[limit-1] = last
	}
	return times, count
}

// gocronSchedule adapts a Schedule to gocron's Cron interface.
type gocronSchedule struct{ s *Schedule }

func (g gocronSchedule) IsValid(string, *time.Location, time.Time) error {
	if g.s == nil {
		return errors.New("no schedule")
	}
	return nil
}

func (g gocronSchedule) Next(last time.Time) time.Time { return g.s.Next(last) }

// jobChecks are the checks of a job that store leaves to this package:
// the schedule parses in the job's zone and the script compiles.
var jobChecks = store.JobChecks{
	Schedule: func(spec string, loc *time.Location) error {
		_, err := parseSpec(spec, loc)
		if se, ok := err.(*ScheduleError); ok {
			return errors.New(se.problem())
		}
		return err
	},
	Script: func(name, source string) error {
		_, err := runtime.CompileSource(name, source)
		return err
	},
}

// CheckJob checks a job as an editor of jobs (the console, the command line,
// apply) should before storing it: every rule of store.Job.Check, with its
// schedule parsed and its script compiled. It returns every problem at once
// as store.FieldErrors, after filling the defaults PutJob fills (UTC,
// skip).
func CheckJob(j store.Job) error {
	if j.TimeZone == "" {
		j.TimeZone = "UTC"
	}
	if j.Overlap == "" {
		j.Overlap = store.OverlapSkip
	}
	return j.Check(jobChecks)
}
