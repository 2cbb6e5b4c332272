package cron

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// logEvents is a slog.Handler that hands each message to a channel, so a
// test waits for what a Host says instead of sleeping.
type logEvents chan string

func (l logEvents) Enabled(context.Context, slog.Level) bool { return true }
func (l logEvents) Handle(_ context.Context, r slog.Record) error {
	select {
	case l <- r.Message:
	default:
	}
	return nil
}
func (l logEvents) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logEvents) WithGroup(string) slog.Handler      { return l }

func (l logEvents) wait(t *testing.T, msg string) {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case m := <-l:
			if m == msg {
				return
			}
		case <-timeout:
			t.Fatalf("the host did not log %q", msg)
		}
	}
}

// A second Host on a home waits while the first schedules the jobs, and
// takes them over on its next tick once the first stops (a fake clock
// drives the ticks).
func TestHostTakesOver(t *testing.T) {
	e := newEnv(t, t0, nil)
	first := NewHost(e.s, HostOptions{})
	if !first.Start(context.Background()) || first.Status() != Here {
		t.Fatalf("the first host did not start its scheduler: %v", first.Status())
	}
	events := make(logEvents, 16)
	second := NewHost(New(Options{DB: e.other, Clock: e.clock}), HostOptions{TakeOverInterval: time.Minute, Logger: slog.New(events)})
	defer second.Stop(context.Background())
	if second.Start(context.Background()) || second.Status() != Elsewhere {
		t.Fatalf("the second host started while the first schedules: %v", second.Status())
	}
	events.wait(t, "cron: another scriptrun serve runs this home's jobs; this one serves the console and takes the jobs over when that one stops")

	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := second.Status(); got != Nowhere {
		t.Errorf("between the stop and the take-over: %v, want Nowhere", got)
	}
	e.waiters(t, 1) // the second host's ticker
	e.clock.Advance(time.Minute)
	events.wait(t, "cron: took over this home's jobs")
	if got := second.Status(); got != Here {
		t.Errorf("after the take-over: %v, want Here", got)
	}
}

// Run starts the run where the jobs are scheduled, or here when alone.
func TestHostRun(t *testing.T) {
	tests := []struct {
		name      string
		scheduler string // "here", "elsewhere", "deaf" (holds the lock, never answers) or "none"
		alone     bool
		where     Where
		runBy     string
		err       error
	}{
		{"scheduled here", "here", false, Here, "host", nil},
		{"scheduled elsewhere", "elsewhere", false, Elsewhere, "serve", nil},
		{"elsewhere, alone allowed", "elsewhere", true, Elsewhere, "serve", nil},
		{"nowhere", "none", false, Nowhere, "", ErrNotScheduled},
		{"nowhere, alone", "none", true, Here, "host", nil},
		{"elsewhere but deaf", "deaf", false, Elsewhere, "", ErrNoScheduler},
		{"elsewhere but deaf, alone", "deaf", true, Here, "host", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, t0, func(o *Options) { o.Clock = nil; o.PollInterval = 20 * time.Millisecond; o.RunBy = "serve" })
			e.put(t, job("hello", "@daily", "console.log('hi')"))
			s := New(Options{DB: e.other, RunBy: "host"})
			h := NewHost(s, HostOptions{AnswerWait: 300 * time.Millisecond, RunAlone: tt.alone})
			defer h.Stop(context.Background())
			switch tt.scheduler {
			case "here":
				if !h.Start(context.Background()) {
					t.Fatal("the host did not start")
				}
			case "elsewhere":
				e.start(t)
			case "deaf":
				unlock, err := e.db.LockScheduler(time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
			}
			r, where, err := h.Run(context.Background(), "hello")
			if where != tt.where || !errors.Is(err, tt.err) || (tt.err == nil && r.RunBy != tt.runBy) {
				t.Fatalf("Run = %+v, %v, %v; want run by %q %v, %v", r, where, err, tt.runBy, tt.where, tt.err)
			}
			if err != nil {
				return
			}
			r, err = h.Wait(context.Background(), r.ID)
			if err != nil || r.Status != store.RunSucceeded || e.output(t, r.ID) != "hi\n" {
				t.Errorf("Wait = %+v, %v", r, err)
			}
		})
	}
}
