package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/store"
)

// The job process protocol: how `scriptrun serve` (jobProcess, the parent)
// runs one cron run in a child `scriptrun _job --home HOME` (the child), so
// that a script that loops inside a built-in, allocates without bound or
// crashes the runtime takes only its own process down.
//
//   - Environment: the parent's, passed through (it may hold
//     SCRIPTRUN_MASTER_KEY). The child opens the home as `scriptrun run`
//     does, only when the script first signs a request, and takes the same
//     cross-process token locks. Nothing secret is on the command line.
//   - Standard input: one JSON jobSpec (the script's source, its name, args,
//     timeout and memory cap), then end of file.
//   - Standard output: what the script prints, console.log and
//     console.error interleaved as written, streamed as it is written.
//   - Standard error: the child's log records (token refreshes), one JSON
//     object per line (log/slog's JSON form), which the parent logs as its
//     own; anything else there is a crash report of the Go runtime.
//   - File descriptor 3: one JSON jobStatus line, written once when the run
//     ends: succeeded, failed, timed_out, memory or cancelled, with the error.
//   - Exit code: 0 succeeded, 1 failed or cancelled, 2 bad input (no valid
//     spec), 3 memory cap exceeded (exitMemory), 124 timed out. The status
//     line is what counts; the code says the same for people reading ps.
//     A child that ends without a status line crashed or was killed.
//
// The child enforces its limits itself: the script's timeout interrupts the
// JavaScript; if a built-in call has not returned jobHardStop after it, the
// child writes timed_out and exits. A watcher samples the Go heap every
// jobMemoryEvery and, past the cap, writes memory and exits: a single
// built-in call cannot stop it. debug.SetMemoryLimit makes the garbage
// collector work harder as the heap nears the cap. The parent does not rely
// on any of this: it kills the child's process group when the timeout plus
// jobHardStop plus jobKillGrace has passed, or when the child's resident
// memory passes the cap with a margin (rssLimit), or when the run is
// cancelled (SIGTERM first, SIGKILL jobKillGrace later).
const (
	jobStatusFD    = 3
	exitMemory     = 3
	jobHardStop    = time.Second
	jobMemoryEvery = 10 * time.Millisecond
	// jobMaxSpecBytes bounds the spec the child reads: the script (at most
	// store.MaxScriptBytes, up to 6 bytes a byte once JSON-escaped) and args.
	jobMaxSpecBytes = 8 * store.MaxScriptBytes
)

// jobSpec is what the parent sends the child on standard input.
type jobSpec struct {
	Job        string        `json:"job"` // the job's name, for messages
	ScriptName string        `json:"scriptName"`
	Script     string        `json:"script"`
	Args       []string      `json:"args,omitempty"`
	Timeout    time.Duration `json:"timeout"`
	MaxMemory  int64         `json:"maxMemory"`
}

// Statuses of a jobStatus.
const (
	jobSucceeded = "succeeded"
	jobFailed    = "failed"
	jobTimedOut  = "timed_out"
	jobMemory    = "memory"
	jobCancelled = "cancelled"
)

// jobStatus is the child's last word, on file descriptor 3.
type jobStatus struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// MemoryUsed is the heap size that crossed the cap (status memory).
	MemoryUsed int64 `json:"memoryUsed,omitempty"`
}

func newJobCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "_job",
		Short:  "Run one cron run for scriptrun serve (internal)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runJob(os.NewFile(jobStatusFD, "status"))
		},
	}
}

// childRun is one `scriptrun _job` process: it reports its end once, on
// the status pipe, whichever of the run, the memory watcher or the hard
// deadline gets there first.
type childRun struct {
	a      *app
	status io.Writer

	mu       sync.Mutex
	reported bool
}

// report writes the status line unless one was written; it says whether
// this call wrote it.
func (c *childRun) report(st jobStatus) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reported {
		return false
	}
	c.reported = true
	line, _ := json.Marshal(st)
	_, _ = c.status.Write(append(line, '\n'))
	return true
}

// exit ends the process now, with st, because the JavaScript thread cannot
// be stopped. Token refreshes in flight get a moment to be stored.
func (c *childRun) exit(st jobStatus, code int) {
	if !c.report(st) {
		return // the run ended on its own first and is on its way out
	}
	done := make(chan struct{})
	go func() { c.a.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(jobHardStop):
	}
	os.Exit(code)
}

// runJob is the child's side of the job process protocol.
func (a *app) runJob(status io.Writer) error {
	c := &childRun{a: a, status: status}
	var spec jobSpec
	dec := json.NewDecoder(io.LimitReader(a.stdio.In, jobMaxSpecBytes))
	if err := dec.Decode(&spec); err != nil || spec.Timeout <= 0 || spec.MaxMemory <= 0 || spec.ScriptName == "" {
		err := usageErr("_job is run by scriptrun serve, with a job on standard input (got none that is valid: %v)", err)
		c.report(jobStatus{Status: jobFailed, Error: err.Error()})
		return err
	}
	// The token manager's records go to the parent, which logs and counts them.
	a.logger = slog.New(slog.NewJSONHandler(a.stdio.Err, &slog.HandlerOptions{Level: slog.LevelInfo}))

	debug.SetMemoryLimit(spec.MaxMemory)
	stopWatch := c.watchMemory(spec.MaxMemory)
	defer stopWatch()
	hard := time.AfterFunc(spec.Timeout+jobHardStop, func() {
		c.exit(jobStatus{Status: jobTimedOut, Error: fmt.Sprintf(
			"script timed out after %s; it was inside a call that could not be interrupted, so its process was ended", spec.Timeout)}, exitTimeout)
	})
	defer hard.Stop()
	// SIGTERM is the parent cancelling the run: stop the script, and end
	// regardless if it is inside a call that does not return.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return // the run is over
		}
		cancel()
		time.AfterFunc(jobHardStop, func() { c.exit(jobStatus{Status: jobCancelled}, exitScript) })
	}()

	err := func() error {
		script, err := runtime.CompileSource(spec.ScriptName, spec.Script)
		if err != nil {
			return err
		}
		return script.Run(ctx, runtime.Options{
			Stdout: a.stdio.Out, Stderr: a.stdio.Out, Args: spec.Args, Timeout: spec.Timeout,
			Signer: lazySigner{a}, Client: scriptClient(),
		})
	}()
	st, code := jobOutcome(ctx, err)
	if !c.report(st) {
		select {} // the watcher or the deadline is ending the process
	}
	if code == exitOK {
		return nil
	}
	// The status line carries the message; stderr stays for log records.
	return &exitError{code: code, err: errJobReported}
}

// errJobReported ends a child whose failure is on its status line.
var errJobReported = errors.New("the run's outcome is on the status pipe")

// jobOutcome turns what Script.Run returned into a status and exit code.
func jobOutcome(ctx context.Context, err error) (jobStatus, int) {
	var te *runtime.TimeoutError
	switch {
	case err == nil:
		return jobStatus{Status: jobSucceeded}, exitOK
	case errors.As(err, &te):
		return jobStatus{Status: jobTimedOut, Error: te.Error()}, exitTimeout
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return jobStatus{Status: jobCancelled}, exitScript
	}
	return jobStatus{Status: jobFailed, Error: strings.TrimPrefix(err.Error(), "runtime: ")}, exitScript
}

// heapObjects is the Go heap held by live and unswept objects: what a
// script's data occupies.
const heapObjects = "/memory/classes/heap/objects:bytes"

// watchMemory ends the process with status memory once the heap passes
// limit. It samples from its own goroutine, which the Go scheduler runs
// however long the JavaScript thread stays inside one built-in.
func (c *childRun) watchMemory(limit int64) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(jobMemoryEvery)
		defer t.Stop()
		s := []metrics.Sample{{Name: heapObjects}}
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(s)
			if used := int64(s[0].Value.Uint64()); used > limit {
				c.exit(jobStatus{Status: jobMemory, MemoryUsed: used}, exitMemory)
			}
		}
	}()
	return func() { close(done) }
}
