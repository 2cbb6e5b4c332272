package cron

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// fakeExecutor is an Executor whose behaviour a test sets.
type fakeExecutor struct {
	ExecuteFn func(ctx context.Context, j store.Job, out io.Writer) error
}

var _ Executor = fakeExecutor{}

func (f fakeExecutor) Execute(ctx context.Context, j store.Job, out io.Writer) error {
	return f.ExecuteFn(ctx, j, out)
}

// The scheduler records what an Executor reports: output, status and error
// text of a RunError, and a cancellation with its cause; the job reaches the
// executor as stored, with its memory cap.
func TestExecutorOutcomes(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	got := make(chan store.Job, 8)
	e := newEnv(t, t0, func(o *Options) {
		o.Executor = fakeExecutor{ExecuteFn: func(ctx context.Context, j store.Job, out io.Writer) error {
			got <- j
			io.WriteString(out, "hello from "+j.Name+"\n")
			switch j.Args[0] {
			case "ok":
				return nil
			case "slow":
				return &RunError{Status: store.RunTimedOut, Message: "script timed out after 2s (its process was killed)"}
			case "big":
				return &RunError{Status: store.RunFailed, Message: "memory limit 256 MiB exceeded"}
			case "hang":
				<-ctx.Done()
				return ctx.Err()
			}
			return errors.New("child: unexpected")
		}}
	})
	for _, tt := range []struct {
		arg        string
		status     store.RunStatus
		errText    string
		reason     string
		cancelWith string
	}{
		{"ok", store.RunSucceeded, "", "", ""},
		{"slow", store.RunTimedOut, "script timed out after 2s (its process was killed)", "", ""},
		{"big", store.RunFailed, "memory limit 256 MiB exceeded", "", ""},
		{"other", store.RunFailed, "child: unexpected", "", ""},
		{"hang", store.RunCancelled, "", "cancelled from the test", "cancelled from the test"},
	} {
		t.Run(tt.arg, func(t *testing.T) {
			j := job("x-"+tt.arg, "@hourly", "unused by the fake")
			j.Args, j.MaxMemory = []string{tt.arg}, 256<<20
			e.put(t, j)
			r, err := e.s.RunNow(context.Background(), j.Name)
			if err != nil {
				t.Fatal(err)
			}
			if seen := <-got; seen.MaxMemory != 256<<20 || seen.Script != j.Script {
				t.Errorf("executor got memory cap %d and script %q", seen.MaxMemory, seen.Script)
			}
			if tt.cancelWith != "" && !e.s.CancelRun(r.ID, tt.cancelWith) {
				t.Fatal("CancelRun did not find the run")
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			r, err = e.s.Wait(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || r.Error != tt.errText || r.Reason != tt.reason {
				t.Errorf("recorded %s, error %q, reason %q; want %s, %q, %q", r.Status, r.Error, r.Reason, tt.status, tt.errText, tt.reason)
			}
			if out := e.output(t, r.ID); out != "hello from "+j.Name+"\n" {
				t.Errorf("output %q", out)
			}
		})
	}
}

// A job that builds a request with apiTokenAuth and never sends it ends
// with the warning in its run's output, naming the line.
func TestExecutorWarnsUnsent(t *testing.T) {
	e := newEnv(t, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), nil)
	j := e.put(t, job("forgot", "@hourly", "const req = http.get('https://crm.example.com/items')\n  .apiTokenAuth('crm')\nconsole.log('built')\n"))
	r, err := e.s.RunNow(context.Background(), j.Name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if r, err = e.s.Wait(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	want := "built\nWarning: request built but never sent at forgot.js:2:16: GET https://crm.example.com/items with apiTokenAuth(\"crm\")"
	if out := e.output(t, r.ID); r.Status != store.RunSucceeded || !strings.HasPrefix(out, want) {
		t.Errorf("run %s, output %q; want it to succeed with %q", r.Status, out, want)
	}
}
