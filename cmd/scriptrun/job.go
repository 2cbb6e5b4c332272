package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"github.com/scriptrun/scriptrun/tokens"
)

// The job process protocol: how `scriptrun serve` (jobProcess, the parent)
// runs cron runs in a child `scriptrun _job --home HOME` (the child), so
// that a script that loops inside a built-in, allocates without bound or
// crashes the runtime takes only its own process down.
//
//   - Environment: the parent's, passed through (it may hold
//     SCRIPTRUN_MASTER_KEY). The child opens the home as `scriptrun run`
//     does, only when a script first signs a request, and takes the same
//     cross-process token locks. Nothing secret is on the command line.
//   - Standard input: JSON jobSpecs (a script's source, its name, args,
//     timeout and memory cap), one at a time: the next is sent only after
//     the previous run's status. End of file retires the child (exit 0).
//   - Standard output: frames of a kind byte and a 4-byte big-endian length
//     (jobFrame): an empty 'r' frame first, once the child is ready for
//     specs (the parent starts only a few children at a time); 'o' frames
//     carry what the script prints, console.log and console.error
//     interleaved as written, streamed as written; 'e' frames carry the
//     token manager's events (a JSON tokens.Event: refreshes, fetches and
//     their failures, never a secret), which the parent logs and counts as
//     its own, whenever they happen; one 's' frame per run carries its JSON
//     jobStatus (succeeded, failed, timed_out, memory, cancelled or aborted,
//     with the error), after all its output and the events of its calls.
//   - Standard error: nothing but a crash report of the Go runtime, whose
//     tail the parent keeps for the run's error.
//   - A run that succeeded or failed (the script threw) leaves the child
//     ready for the next spec: each run gets a fresh JavaScript runtime, and
//     the child gives back memory over jobKeepHeap. After any other status
//     the child exits: 1 cancelled or aborted, 3 memory cap exceeded
//     (exitMemory), 124 timed out; 2 for a spec that is not valid. A child
//     that ends without a status for its run crashed or was killed.
//
// The child enforces its limits itself, as `scriptrun run` does
// (a.runLimited: runtime.Options.Timeout, MaxMemory and Stuck, and the Go
// memory limit): a stop interrupts the JavaScript; if it is inside a
// built-in call that does not return within jobHardStop (a memory stop:
// sooner), the runtime calls Stuck and the child writes the status the
// stop would have given and exits. The parent does not rely on any of
// this: it kills the child's process group when the timeout plus
// jobHardStop plus jobKillGrace has passed, or when the child's resident
// memory passes the cap with a margin (rssLimit), or when the run is
// cancelled (SIGTERM first, SIGKILL jobKillGrace later).
const (
	exitMemory  = 3
	jobHardStop = time.Second
	// jobKeepHeap: after a run whose heap outgrew it, the child returns
	// memory to the system before it waits for the next spec.
	jobKeepHeap = 16 << 20
	// jobFrameMax bounds an output frame (longer writes are split).
	jobFrameMax = 64 << 10
)

// Kinds of jobFrame.
const (
	frameReady  = 'r' // empty, once: the child has started and reads specs
	frameOutput = 'o'
	frameEvent  = 'e' // a JSON tokens.Event
	frameStatus = 's'
)

// jobFrameHeader is a frame's kind and payload length.
const jobFrameHeader = 5

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
	// jobAborted: a stop other than the timeout, the memory cap or a
	// cancellation (a built-in's stack grew too deep) could not take
	// effect; the run failed and the child exits.
	jobAborted = "aborted"
)

// jobStatus is how a run ended, in the run's 's' frame.
type jobStatus struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// MemoryUsed is the heap size that crossed the cap (status memory).
	MemoryUsed int64 `json:"memoryUsed,omitempty"`
}

func newJobCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "_job",
		Short:  "Run cron runs for scriptrun serve (internal)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runJobs()
		},
	}
}

// frameWriter writes jobFrames; it is safe for concurrent use.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (f *frameWriter) frame(kind byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := make([]byte, jobFrameHeader+len(p))
	b[0] = kind
	n := uint32(len(p))
	b[1], b[2], b[3], b[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	copy(b[jobFrameHeader:], p)
	_, err := f.w.Write(b)
	return err
}

// Write sends p as output frames.
func (f *frameWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), jobFrameMax)
		if err := f.frame(frameOutput, p[:k]); err != nil {
			return n - len(p), err
		}
		p = p[k:]
	}
	return n, nil
}

// childJobs is one `scriptrun _job` process. Each run reports its end once,
// whichever of the run and its Stuck gets there first; gen tells runs
// apart, so a late stop of one run cannot end the next.
type childJobs struct {
	a   *app
	out *frameWriter

	mu       sync.Mutex // guards the fields below
	gen      int
	reported bool
	cancel   context.CancelFunc // of the run in progress; nil between runs
}

// report sends run gen's status unless it was sent; it says whether this
// call sent it.
func (c *childJobs) report(gen int, st jobStatus) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reported || c.gen != gen {
		return false
	}
	c.reported = true
	line, _ := json.Marshal(st)
	_ = c.out.frame(frameStatus, line)
	return true
}

// event sends one of the token manager's events to the parent
// (tokens.Options.OnEvent).
func (c *childJobs) event(ev tokens.Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		return // an Event always encodes
	}
	_ = c.out.frame(frameEvent, b)
}

// stuck is runtime.Options.Stuck of run gen: its stop (reason) did not take
// effect because the JavaScript is inside a built-in call, so the process
// ends with the status and exit code the stop would have given.
func (c *childJobs) stuck(gen int, reason error) {
	st, code := stuckOutcome(reason)
	c.exit(gen, st, code)
}

// stuckOutcome is the status and exit code of a run whose stop (reason)
// could not take effect.
func stuckOutcome(reason error) (jobStatus, int) {
	const ended = "it was inside a call that could not be interrupted, so its process was ended"
	var me *runtime.MemoryError
	var te *runtime.TimeoutError
	switch {
	case errors.As(reason, &me):
		return jobStatus{Status: jobMemory, MemoryUsed: me.Used}, exitMemory
	case errors.As(reason, &te):
		return jobStatus{Status: jobTimedOut, Error: fmt.Sprintf("script timed out after %s; %s", te.Timeout, ended)}, exitTimeout
	case errors.Is(reason, context.Canceled):
		return jobStatus{Status: jobCancelled}, exitScript
	}
	// A *runtime.StackError.
	return jobStatus{Status: jobAborted, Error: reason.Error() + "; " + ended}, exitScript
}

// exit ends the process now, with st for run gen, because its JavaScript
// cannot be stopped. Token refreshes in flight get a moment to be stored
// (less after a memory stop: the built-in keeps allocating).
func (c *childJobs) exit(gen int, st jobStatus, code int) {
	if !c.report(gen, st) {
		return // the run ended on its own first
	}
	wait := jobHardStop
	if st.Status == jobMemory || st.Status == jobAborted {
		wait = flightWaitMemory
	}
	c.a.waitFlights(wait)
	os.Exit(code)
}

// runJobs is the child's side of the job process protocol.
func (a *app) runJobs() error {
	c := &childJobs{a: a, out: &frameWriter{w: a.stdio.Out}}
	// The token manager's events go to the parent, which logs and counts
	// them; the child logs nothing itself.
	a.logger, a.onEvent = nil, c.event
	// SIGTERM is the parent cancelling the run: stop the script; if it is
	// inside a call that does not return, its Stuck ends the process.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	go func() {
		for range sigs {
			c.mu.Lock()
			cancel := c.cancel
			c.mu.Unlock()
			if cancel == nil {
				os.Exit(exitScript) // between runs: nothing to report
			}
			cancel()
		}
	}()
	_ = c.out.frame(frameReady, nil)
	dec := json.NewDecoder(a.stdio.In)
	for runs := 0; ; runs++ {
		var spec jobSpec
		err := dec.Decode(&spec)
		if errors.Is(err, io.EOF) && runs > 0 {
			return nil // retired
		}
		if err != nil || spec.Timeout <= 0 || spec.MaxMemory <= 0 || spec.ScriptName == "" {
			err := usageErr("_job is run by scriptrun serve, with a job on standard input (got none that is valid: %v)", err)
			c.report(c.gen, jobStatus{Status: jobFailed, Error: err.Error()})
			return err
		}
		st, code := c.run(spec)
		if code != exitOK && st.Status != jobFailed {
			return &exitError{code: code, err: errJobReported}
		}
		// Idle children hold little: give back what this run grew.
		if s := []metrics.Sample{{Name: heapObjects}}; true {
			metrics.Read(s)
			if s[0].Value.Uint64() > jobKeepHeap {
				debug.FreeOSMemory()
			}
		}
	}
}

// run runs one spec and reports how it ended.
func (c *childJobs) run(spec jobSpec) (jobStatus, int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.mu.Lock()
	c.gen++
	gen := c.gen
	c.reported, c.cancel = false, cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cancel = nil
		c.mu.Unlock()
	}()

	err := func() error {
		script, err := runtime.CompileSource(spec.ScriptName, spec.Script)
		if err != nil {
			return err
		}
		return c.a.runLimited(ctx, script, scriptLimits{timeout: spec.Timeout, maxMemory: spec.MaxMemory}, runtime.Options{
			Stdout: c.out, Stderr: c.out, Args: spec.Args,
			Signer: lazySigner{c.a}, Client: c.a.scriptClient(), // one per process: runs reuse connections
			StopGrace: jobHardStop,
			Stuck:     func(reason error) { c.stuck(gen, reason) },
		})
	}()
	st, code := jobOutcome(ctx, err)
	if !c.report(gen, st) {
		select {} // Stuck is ending the process
	}
	return st, code
}

// errJobReported ends a child whose failure is in its status frame.
var errJobReported = errors.New("the run's outcome is in its status frame")

// jobOutcome turns what Script.Run returned into a status and exit code.
func jobOutcome(ctx context.Context, err error) (jobStatus, int) {
	var te *runtime.TimeoutError
	var me *runtime.MemoryError
	switch {
	case err == nil:
		return jobStatus{Status: jobSucceeded}, exitOK
	case errors.As(err, &me):
		return jobStatus{Status: jobMemory, MemoryUsed: me.Used}, exitMemory
	case errors.As(err, &te):
		return jobStatus{Status: jobTimedOut, Error: te.Error()}, exitTimeout
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return jobStatus{Status: jobCancelled}, exitScript
	}
	return jobStatus{Status: jobFailed, Error: strings.TrimPrefix(err.Error(), "runtime: ")}, exitScript
}

// heapObjects is the Go heap held by live and unswept objects: what a
// script's data occupied, given back after the run (jobKeepHeap).
const heapObjects = "/memory/classes/heap/objects:bytes"
