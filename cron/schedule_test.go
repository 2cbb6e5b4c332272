package cron

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func mustSchedule(t *testing.T, spec, zone string) *Schedule {
	t.Helper()
	s, err := ParseSchedule(spec, zone)
	if err != nil {
		t.Fatalf("ParseSchedule(%q, %q): %v", spec, zone, err)
	}
	return s
}

func TestParseScheduleRefuses(t *testing.T) {
	tests := []struct {
		spec, zone string
		want       string
	}{
		{"", "", "empty"},
		{"* * * *", "", "4 fields"},
		{"* * * * * * *", "", "7 fields"},
		{"61 * * * *", "", `minute field "61": end of range (61) above maximum (59)`},
		{"0 25 * * *", "", `hour field "25"`},
		{"0 0 * 13 *", "", `month field "13"`},
		{"0 0 * * 8", "", `day-of-week field "8"`},
		{"61 0 0 * * *", "", `seconds field "61"`},
		{"*/0 * * * *", "", "step"},
		{"a b c d e", "", "failed to parse"},
		{"@sometimes", "", "unknown descriptor @sometimes"},
		{"@every", "", "needs a duration"},
		{"@every soon", "", "not a duration"},
		{"@every 500ms", "", "shorter than one second"},
		{"@every 1500ms", "", "whole seconds"},
		{"@every -5m", "", "shorter than one second"},
		{"@every 9000h", "", "longer than a year"},
		{"0 0 30 2 *", "", "never matches"},
		{"TZ=Europe/Berlin * * * * *", "", "--tz"},
		{"CRON_TZ=UTC 0 * * * *", "", "--tz"},
		{"* * * * *\n* * * * *", "", "more than one line"},
		{strings.Repeat("1,", 150) + "1 * * * *", "", "longer than 200"},
		{"* * * * *", "Berlin", "Europe/Berlin"},
		{"* * * * *", "Local", "IANA"},
	}
	for _, tt := range tests {
		_, err := ParseSchedule(tt.spec, tt.zone)
		var se *ScheduleError
		if !errors.As(err, &se) {
			t.Errorf("ParseSchedule(%q, %q) = %v, want a *ScheduleError", tt.spec, tt.zone, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSchedule(%q, %q): %q does not say %q", tt.spec, tt.zone, err, tt.want)
		}
		if se.Field == "schedule" && (!strings.Contains(err.Error(), `"*/5 * * * *"`) || !strings.Contains(err.Error(), "@every 10m")) {
			t.Errorf("ParseSchedule(%q): %q gives no example", tt.spec, err)
		}
	}
}

func TestNext(t *testing.T) {
	tests := []struct {
		name, spec, zone, from string
		want                   []string
	}{
		{"every 5 minutes", "*/5 * * * *", "", "2026-03-06T10:03:00Z", []string{"2026-03-06T10:05:00Z", "2026-03-06T10:10:00Z"}},
		{"strictly after", "*/5 * * * *", "", "2026-03-06T10:05:00Z", []string{"2026-03-06T10:10:00Z"}},
		{"seconds field, weekdays", "0 30 9 * * 1-5", "", "2026-03-06T10:00:00Z", []string{"2026-03-09T09:30:00Z", "2026-03-10T09:30:00Z"}},
		{"every 15 seconds", "*/15 * * * * *", "", "2026-03-06T10:00:07Z", []string{"2026-03-06T10:00:15Z", "2026-03-06T10:00:30Z"}},
		{"hourly", "@hourly", "", "2026-03-06T10:00:00Z", []string{"2026-03-06T11:00:00Z"}},
		{"daily in Berlin (winter)", "@daily", "Europe/Berlin", "2026-01-10T12:00:00Z", []string{"2026-01-10T23:00:00Z"}},
		{"daily in Berlin (summer)", "@daily", "Europe/Berlin", "2026-07-10T12:00:00Z", []string{"2026-07-10T22:00:00Z"}},
		{"weekday names", "0 8 * * mon", "America/New_York", "2026-03-06T00:00:00Z", []string{"2026-03-09T12:00:00Z"}},
		{"every 10m is aligned", "@every 10m", "Europe/Berlin", "2026-03-06T10:03:27Z", []string{"2026-03-06T10:10:00Z", "2026-03-06T10:20:00Z"}},
		{"every 7s counts from the epoch", "@every 7s", "", "1970-01-01T00:00:20Z", []string{"1970-01-01T00:00:21Z", "1970-01-01T00:00:28Z"}},
		{"every before the epoch", "@every 1h", "", "1969-12-31T22:30:00Z", []string{"1969-12-31T23:00:00Z", "1970-01-01T00:00:00Z"}},
		{"leap day", "0 0 29 2 *", "", "2026-03-01T00:00:00Z", []string{"2028-02-29T00:00:00Z"}},

		// Daylight saving time. Berlin: 2026-03-29 02:00 CET → 03:00 CEST
		// (01:00 UTC); 2026-10-25 03:00 CEST → 02:00 CET (01:00 UTC).
		{"fixed time skipped by spring forward runs at the jump", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"fixed time repeated by fall back runs once", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"fixed time started inside the repeated hour waits a day", "30 2 * * *", "Europe/Berlin", "2026-10-25T01:10:00Z",
			[]string{"2026-10-26T01:30:00Z"}},
		{"hourly skips the missing hour", "0 * * * *", "Europe/Berlin", "2026-03-29T00:30:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
		{"hourly runs in both copies of the repeated hour", "0 * * * *", "Europe/Berlin", "2026-10-24T23:30:00Z",
			[]string{"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"}},
		{"fixed time after the gap is not moved", "0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"}},
		// New York: 2026-03-08 02:00 EST → 03:00 EDT (07:00 UTC); 2026-11-01
		// 02:00 EDT → 01:00 EST (06:00 UTC).
		{"every 30 minutes across spring forward", "*/30 * * * *", "America/New_York", "2026-03-08T06:45:00Z",
			[]string{"2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"}},
		{"fixed 02:00 on spring forward day", "0 2 * * *", "America/New_York", "2026-03-07T17:00:00Z",
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"}},
		{"several fixed times in the gap run once", "0,20,40 2 * * *", "America/New_York", "2026-03-07T17:00:00Z",
			[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"}},
		{"01:30 on fall back day runs once", "30 1 * * *", "America/New_York", "2026-10-31T16:00:00Z",
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"every minute keeps going through the repeated hour", "* 1 * * *", "America/New_York", "2026-11-01T05:58:30Z",
			[]string{"2026-11-01T05:59:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:01:00Z"}},
		{"every ignores DST", "@every 1h", "America/New_York", "2026-03-08T06:30:00Z",
			[]string{"2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchedule(t, tt.spec, tt.zone)
			at := utc(tt.from)
			for i, w := range tt.want {
				at = s.Next(at)
				if !at.Equal(utc(w)) || at.Location() != time.UTC {
					t.Fatalf("next #%d after %s = %s, want %s", i+1, tt.from, at.Format(time.RFC3339), w)
				}
			}
		})
	}
}

func TestDue(t *testing.T) {
	tests := []struct {
		spec, after, until string
		limit              int
		want               []string
		count              int
	}{
		{"@every 1m", "2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z", 2, []string{"2026-01-01T00:01:00Z", "2026-01-01T00:10:00Z"}, 10},
		{"@every 1m", "2026-01-01T00:00:00Z", "2026-01-01T00:00:59Z", 2, nil, 0},
		{"@every 1m", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", 2, []string{"2026-01-01T00:01:00Z"}, 1},
		{"@every 1s", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", 2, []string{"2026-01-01T00:00:01Z", "2027-01-01T00:00:00Z"}, maxMissedCount},
		{"0 * * * *", "2026-01-01T00:00:00Z", "2026-01-01T05:30:00Z", 2, []string{"2026-01-01T01:00:00Z", "2026-01-01T05:00:00Z"}, 5},
		{"0 * * * *", "2026-01-01T00:00:00Z", "2026-01-01T05:30:00Z", 3, []string{"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T05:00:00Z"}, 5},
		{"@daily", "2026-01-01T00:00:00Z", "2026-01-01T23:00:00Z", 2, nil, 0},
	}
	for _, tt := range tests {
		times, n := mustSchedule(t, tt.spec, "").Due(utc(tt.after), utc(tt.until), tt.limit)
		var got []string
		for _, x := range times {
			got = append(got, x.Format(time.RFC3339))
		}
		if n != tt.count || strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("Due(%q, %s, %s, %d) = %v, %d; want %v, %d", tt.spec, tt.after, tt.until, tt.limit, got, n, tt.want, tt.count)
		}
	}
}

var fuzzZones = []string{"", "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham"}

// FuzzParseSchedule: no spec makes parsing panic or hang, and every accepted
// schedule moves strictly forward.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"*/5 * * * *", "0 30 9 * * 1-5", "@hourly", "@every 10m", "@every 1s", "30 2 * * *",
		"0 0 29 2 *", "TZ=UTC", "CRON_TZ=", "* * * * * *", "1-5/2 */3 1,15 JAN-jun ?", "@every 1h30m", "0 0 31 4 *", "59 23 31 12 6"} {
		f.Add(s, uint8(2), int64(1774746000)) // 2026-03-29 01:00 UTC, a DST change in Berlin
	}
	f.Fuzz(func(t *testing.T, spec string, zone uint8, unix int64) {
		s, err := ParseSchedule(spec, fuzzZones[int(zone)%len(fuzzZones)])
		if err != nil {
			if !strings.Contains(err.Error(), "is not valid") && !strings.Contains(err.Error(), "time zone") {
				t.Errorf("error %q does not say what is invalid", err)
			}
			return
		}
		at := time.Unix(unix%(1<<34), 0) // 1426 to 2514
		for range 3 {
			next := s.Next(at)
			if next.IsZero() {
				return
			}
			if !next.After(at) {
				t.Fatalf("%q: Next(%s) = %s, not after it", spec, at, next)
			}
			at = next
		}
	})
}

func TestCheckJob(t *testing.T) {
	good := store.Job{Name: "j", Schedule: "@hourly", Script: "console.log(1)", ScriptName: "j.js", Timeout: time.Minute}
	tests := []struct {
		name   string
		change func(*store.Job)
		fields []string
		want   string
	}{
		{"good", func(*store.Job) {}, nil, ""},
		{"bad field", func(j *store.Job) { j.Timeout = 0 }, []string{"timeout"}, "timeout"},
		{"bad schedule", func(j *store.Job) { j.Schedule = "@often" }, []string{"schedule"}, "schedule: \"@often\" is not valid: unknown descriptor"},
		{"bad zone", func(j *store.Job) { j.TimeZone = "Nowhere/City" }, []string{"timeZone"}, "unknown"},
		{"bad script", func(j *store.Job) { j.Script = "let = ;" }, []string{"script"}, "j.js:1:7: SyntaxError"},
		{"three at once", func(j *store.Job) { j.Schedule, j.TimeZone, j.Script = "* * * *", "Mars/Base", "let = ;" },
			[]string{"schedule", "timeZone", "script"}, "4 fields"},
	}
	for _, tt := range tests {
		j := good
		tt.change(&j)
		err := CheckJob(j)
		var fields []string
		for _, fe := range store.AsFieldErrors(err) {
			fields = append(fields, fe.Field)
		}
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) || strings.Join(fields, ",") != strings.Join(tt.fields, ",") {
			t.Errorf("%s: CheckJob = %v (fields %v), want %q on %v", tt.name, err, fields, tt.want, tt.fields)
		}
	}
}
