package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// lockedBuffer is a bytes.Buffer safe for the writes of a child's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeChild is a jobProcess whose "scriptrun" is a shell script: a child
// that does not keep the protocol, to check what the parent enforces alone.
func fakeChild(t *testing.T, sh string) (*jobProcess, *lockedBuffer) {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "fake-scriptrun")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"+sh+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	return &jobProcess{exe: exe, home: t.TempDir(), env: os.Environ(), log: slog.New(slog.NewTextHandler(logs, nil))}, logs
}

// shFrame is a shell command that writes a jobFrame of kind with payload
// (which must hold no ' or %).
func shFrame(kind byte, payload string) string {
	n := len(payload)
	return fmt.Sprintf(`printf '%c\%03o\%03o\%03o\%03o%s'`, kind, n>>24&0xff, n>>16&0xff, n>>8&0xff, n&0xff, payload)
}

// printStarted is a shell command that reads the spec, then writes an
// output frame "started\n".
const printStarted = `read -r spec; printf 'o\000\000\000\010started\n'`

func fakeJob(timeout time.Duration, maxMemory int64) store.Job {
	return store.Job{Name: "fake", ScriptName: "fake.js", Script: "unused", Timeout: timeout, MaxMemory: maxMemory}
}

// The parent enforces the timeout, the memory limit and a cancellation on
// a child that ignores SIGTERM and never reports; it reports a child that
// ends without a status line as crashed, and logs the children's records.
func TestJobProcessParentLimits(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		x, _ := fakeChild(t, "trap '' TERM; "+printStarted+"; exec sleep 60")
		out := &lockedBuffer{}
		began := time.Now()
		err := x.Execute(context.Background(), fakeJob(100*time.Millisecond, 64<<20), out)
		var re *cron.RunError
		if !errors.As(err, &re) || re.Status != store.RunTimedOut || !strings.Contains(re.Message, "did not stop and was killed") {
			t.Fatalf("Execute: %v, want timed out and killed", err)
		}
		if d := time.Since(began); d > 100*time.Millisecond+jobHardStop+jobKillGrace+2*time.Second {
			t.Errorf("killed after %v", d)
		}
		if out.String() != "started\n" {
			t.Errorf("output %q", out.String())
		}
	})
	t.Run("memory", func(t *testing.T) {
		// tail keeps a line that never ends: its memory grows without bound.
		x, _ := fakeChild(t, "exec tail /dev/zero")
		err := x.Execute(context.Background(), fakeJob(time.Minute, 64<<20), &lockedBuffer{})
		var re *cron.RunError
		if !errors.As(err, &re) || re.Status != store.RunFailed || !strings.Contains(re.Message, "memory limit 64 MiB exceeded (resident memory reached") {
			t.Fatalf("Execute: %v, want the memory limit", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		x, _ := fakeChild(t, "trap '' TERM; "+printStarted+"; exec sleep 60")
		ctx, cancel := context.WithCancel(context.Background())
		out := &lockedBuffer{}
		done := make(chan error, 1)
		go func() { done <- x.Execute(ctx, fakeJob(time.Minute, 64<<20), out) }()
		waitFor(t, "the child's first output", 10*time.Second, func() bool { return out.String() != "" })
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Execute after cancel: %v", err)
			}
		case <-time.After(jobKillGrace + 5*time.Second):
			t.Fatal("Execute did not return after cancel")
		}
	})
	t.Run("crash", func(t *testing.T) {
		x, logs := fakeChild(t, "read -r spec; "+shFrame(frameEvent, `{"kind":"refreshed","time":"2026-01-02T03:04:05Z","token":"api","rotated":true}`)+
			"\necho 'fatal error: something broke' >&2; exit 2")
		var events []tokens.Event
		x.onEvent = func(ev tokens.Event) { events = append(events, ev) } // called by Execute's reader, before Execute returns
		err := x.Execute(context.Background(), fakeJob(time.Minute, 64<<20), &lockedBuffer{})
		var re *cron.RunError
		if !errors.As(err, &re) || re.Status != store.RunFailed || re.Message != "the run's process ended before the run finished: it exited with code 2 (fatal error: something broke)" {
			t.Fatalf("Execute: %v", err)
		}
		if l := logs.String(); !strings.Contains(l, `msg="token refreshed" job=fake token=api rotated=true`) || !strings.Contains(l, "cron run's process crashed") {
			t.Errorf("serve's log:\n%s", l)
		}
		if len(events) != 1 || events[0].Kind != tokens.EventRefreshed || events[0].Token != "api" || !events[0].Rotated {
			t.Errorf("events from the child: %+v, want the one refresh", events)
		}
	})
	t.Run("out of memory", func(t *testing.T) {
		x, _ := fakeChild(t, `echo 'fatal error: runtime: out of memory' >&2; exit 2`)
		err := x.Execute(context.Background(), fakeJob(time.Minute, 512<<20), &lockedBuffer{})
		if err == nil || !strings.Contains(err.Error(), "memory limit 512 MiB exceeded") {
			t.Fatalf("Execute: %v", err)
		}
	})
}

// The real child: output streamed back, outcome by status line, the
// script's source never on the command line.
func TestJobProcessChild(t *testing.T) {
	exe, err := os.Executable() // this test binary stands in for scriptrun (TestMain)
	if err != nil {
		t.Fatal(err)
	}
	x := &jobProcess{exe: exe, home: t.TempDir(), env: os.Environ(), log: slog.New(slog.DiscardHandler)}
	for _, tt := range []struct {
		name, src string
		timeout   time.Duration
		out       string
		status    store.RunStatus // "" = success
		errText   string
	}{
		{"ok", "console.log('hi', args.join(',')); console.error('warn')", time.Minute, "hi a,b\nwarn\n", "", ""},
		{"throws", "console.log('before'); throw new TypeError('nope')", time.Minute, "before\n", store.RunFailed, "TypeError: nope\n    at ok.js:1:"},
		{"syntax error", "let x = ;", time.Minute, "", store.RunFailed, "SyntaxError"},
		{"timeout in JavaScript", "while (true) {}", 300 * time.Millisecond, "", store.RunTimedOut, "script timed out after 300ms at ok.js:1:"},
		{"timeout in a built-in", "new Array(1e8).fill(1)", 300 * time.Millisecond, "", store.RunTimedOut, "script timed out after 300ms; it was inside a call that could not be interrupted"},
		{"memory", "const a = []; for (;;) a.push(new Array(1000).fill('x'))", time.Minute, "", store.RunFailed, "memory limit 64 MiB exceeded ("}, // heap, or resident first under -race
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := store.Job{Name: "ok", ScriptName: "ok.js", Script: tt.src, Args: []string{"a", "b"}, Timeout: tt.timeout, MaxMemory: 64 << 20}
			if strings.HasPrefix(tt.name, "timeout") {
				j.MaxMemory = 2 << 30
			}
			out := &lockedBuffer{}
			err := x.Execute(context.Background(), j, out)
			var re *cron.RunError
			switch {
			case tt.status == "" && err != nil:
				t.Fatalf("Execute: %v", err)
			case tt.status != "" && (!errors.As(err, &re) || re.Status != tt.status || !strings.Contains(re.Message, tt.errText)):
				t.Fatalf("Execute: %v, want %s with %q", err, tt.status, tt.errText)
			}
			if out.String() != tt.out {
				t.Errorf("output %q, want %q", out.String(), tt.out)
			}
		})
	}
}

// A child serves run after run while they end cleanly (succeeded, or the
// script threw), each with its own output and status; one whose run timed
// out is not reused; after a run one child waits for the next (spares);
// close ends the idle ones.
func TestJobProcessReuse(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	x := &jobProcess{exe: exe, home: t.TempDir(), env: os.Environ(), log: slog.New(slog.DiscardHandler)}
	x.keepSpares()
	idle := func() []*jobChild {
		x.spares.mu.Lock()
		defer x.spares.mu.Unlock()
		return slices.Clone(x.spares.idle)
	}
	maxMemory := int64(512 << 20)
	if raceEnabled {
		maxMemory = 2 << 30 // the detector's shadow memory passes the parent's resident limit of 512 MiB (640 MiB) now and then
	}
	run := func(src string, timeout time.Duration) (string, error) {
		t.Helper()
		out := &lockedBuffer{}
		err := x.Execute(context.Background(), store.Job{Name: "r", ScriptName: "r.js", Script: src, Timeout: timeout, MaxMemory: maxMemory}, out)
		return out.String(), err
	}
	if out, err := run("console.log('one'); globalThis.leak = 'x'", time.Minute); err != nil || out != "one\n" {
		t.Fatalf("first run: %v, output %q", err, out)
	}
	waitFor(t, "the child back, waiting", 10*time.Second, func() bool { return len(idle()) >= 1 })
	first := idle()[len(idle())-1]
	if out, err := run("console.log(typeof leak); throw new Error('two')", time.Minute); err == nil || !strings.Contains(err.Error(), "Error: two") || out != "undefined\n" {
		t.Fatalf("second run: %v, output %q (want a fresh runtime and the error)", err, out)
	}
	if out, err := run("const a = new Array(3e6).fill('x'); console.log('three', a.length)", time.Minute); err != nil || out != "three 3000000\n" {
		t.Fatalf("third run: %v, output %q", err, out)
	}
	if first.runs != 3 || !first.alive() {
		t.Errorf("the first child ran %d of the 3 runs (alive %v), want all", first.runs, first.alive())
	}
	// Memory a run grew is given back before the next.
	waitFor(t, "the child idle again", 10*time.Second, func() bool { return slices.Contains(idle(), first) })
	if !raceEnabled {
		waitFor(t, "the idle child's memory given back", 10*time.Second, func() bool { return residentBytes(first.pid) < 64<<20 })
	}
	if _, err := run("for (;;) {}", 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("timeout run: %v", err)
	}
	waitFor(t, "the timed-out child gone", 10*time.Second, func() bool { return !first.alive() })
	waitFor(t, "a spare", 10*time.Second, func() bool { return len(idle()) >= 1 })
	left := idle()
	x.close()
	for _, c := range left {
		if c.alive() {
			t.Error("close left a child running")
		}
	}
	if len(idle()) != 0 {
		t.Error("children remain after close")
	}
	if _, err := run("console.log('after close')", time.Minute); err != nil {
		t.Errorf("Execute after close (no spares): %v", err)
	}
}
