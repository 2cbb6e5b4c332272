package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

// TestMain lets this test binary stand in for scriptrun as a job process:
// serve, run in-process by the tests, starts os.Executable() _job.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "_job" {
		os.Exit(Main(os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Getenv))
	}
	os.Exit(m.Run())
}

// How a child reports a run by what Script.Run returned (jobOutcome) or,
// when a stop could not take effect, by the stop's reason (stuckOutcome):
// the status the parent reads and the exit code of the protocol.
func TestJobOutcomes(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	memory := &runtime.MemoryError{Limit: 64 << 20, Used: 70 << 20}
	timeout := &runtime.TimeoutError{Timeout: 2 * time.Second}
	canceled := fmt.Errorf("script cancelled: %w", context.Canceled)
	stack := &runtime.StackError{Used: 400 << 20}
	for _, tt := range []struct {
		name      string
		stuck     bool // stuckOutcome, else jobOutcome
		ctx       context.Context
		err       error
		status    string
		code      int
		errText   string
		memoryUse int64
	}{
		{"succeeded", false, context.Background(), nil, jobSucceeded, exitOK, "", 0},
		{"threw", false, context.Background(), errors.New("runtime: Error: x"), jobFailed, exitScript, "Error: x", 0},
		{"memory", false, context.Background(), memory, jobMemory, exitMemory, "", 70 << 20},
		{"timed out", false, context.Background(), timeout, jobTimedOut, exitTimeout, "script timed out after 2s", 0},
		{"cancelled", false, cancelled, canceled, jobCancelled, exitScript, "", 0},
		{"stack, stopped", false, context.Background(), stack, jobFailed, exitScript, "RangeError: Maximum call stack size exceeded", 0},
		{"stuck: memory", true, nil, memory, jobMemory, exitMemory, "", 70 << 20},
		{"stuck: timed out", true, nil, timeout, jobTimedOut, exitTimeout, "script timed out after 2s; it was inside a call that could not be interrupted", 0},
		{"stuck: cancelled", true, nil, canceled, jobCancelled, exitScript, "", 0},
		{"stuck: stack", true, nil, stack, jobAborted, exitScript, "Maximum call stack size exceeded (a built-in recursed through data nested too deep; its stack reached 400 MiB); it was inside a call", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var st jobStatus
			var code int
			if tt.stuck {
				st, code = stuckOutcome(tt.err)
			} else {
				st, code = jobOutcome(tt.ctx, tt.err)
			}
			if st.Status != tt.status || code != tt.code || st.MemoryUsed != tt.memoryUse || !containsOrEmpty(st.Error, tt.errText) {
				t.Errorf("got %+v exit %d, want status %s exit %d, error with %q, memory %d", st, code, tt.status, tt.code, tt.errText, tt.memoryUse)
			}
		})
	}
}

// containsOrEmpty reports whether s holds sub, or is empty when sub is.
func containsOrEmpty(s, sub string) bool {
	if sub == "" {
		return s == ""
	}
	return strings.Contains(s, sub)
}
