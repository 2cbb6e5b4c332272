package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// Parent-side limits of a job process (see the protocol in job.go).
const (
	// jobKillGrace is how long a child gets, after its own hard deadline or
	// after SIGTERM, before the parent kills its process group.
	jobKillGrace = 2 * time.Second
	// jobRSSEvery is how often the parent reads the child's resident memory.
	jobRSSEvery = 100 * time.Millisecond
)

// selfExe names the running binary on Linux, whatever became of its file.
const selfExe = "/proc/self/exe"

// rssLimit is the resident memory at which the parent kills a child whose
// own watcher did not end it: the cap, plus room for what is not Go heap
// (the binary, stacks, memory the collector has not returned yet).
func rssLimit(maxMemory int64) int64 {
	return maxMemory + max(maxMemory/4, 64<<20)
}

// jobProcess is the cron.Executor of serve and `cron run`: each run
// executes in a child `scriptrun _job` process (the protocol is in job.go),
// in its own process group, killed with it when serve dies (Linux's
// parent-death signal). A run that times out, passes its memory limit, is
// cancelled or crashes ends its process; a child whose run ended cleanly
// (succeeded, or the script threw) may serve a later run, in a fresh
// JavaScript runtime (job_spares.go).
type jobProcess struct {
	exe   string   // the scriptrun binary
	argv0 string   // what ps shows for it ("" = exe)
	home  string   // passed as --home
	store []string // the store's global flags (--store, --etcd-*)
	env   []string // the child's environment
	log   *slog.Logger
	// onEvent receives the token events of the children's runs (their
	// refreshes and fetches), after they are logged to log; nil = log only.
	// Set it before the first run.
	onEvent func(tokens.Event)
	spares  spares // children started ahead of runs
}

var _ cron.Executor = (*jobProcess)(nil)

// newJobProcess returns the executor serve uses: this binary, on this home
// and store, with this process's environment (and the master key and etcd
// user when the caller's environment gives them).
func (a *app) newJobProcess(log *slog.Logger) (*jobProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, configErr("cannot find the scriptrun binary to run cron jobs in (%v)", err)
	}
	argv0 := exe
	// On Linux, the very binary serve runs, even after an upgrade replaced
	// or removed its file: a child always speaks its parent's protocol.
	if _, err := os.Stat(selfExe); err == nil {
		exe = selfExe
	}
	home, err := a.homeDir()
	if err != nil {
		return nil, err
	}
	env := os.Environ()
	if key := a.getenv("SCRIPTRUN_MASTER_KEY"); key != "" && os.Getenv("SCRIPTRUN_MASTER_KEY") != key {
		env = append(env, "SCRIPTRUN_MASTER_KEY="+key)
	}
	storeArgs, err := a.childStoreArgs()
	if err != nil {
		return nil, err
	}
	env = append(env, a.childStoreEnv()...)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &jobProcess{exe: exe, argv0: argv0, home: home, store: storeArgs, env: env, log: log}, nil
}

// keepSpares has x start children ahead of runs (serve, see job_spares.go).
func (x *jobProcess) keepSpares() {
	x.spares.max, x.spares.spawn = maxSpareJobs, x.spawn
}

// jobChild is a started `scriptrun _job` process, waiting for a job (a
// spare, one just started for a run, or one back from a run that ended
// cleanly) or running one.
type jobChild struct {
	cmd       *exec.Cmd
	pid       int
	stdin     io.WriteCloser
	frames    *frameReader
	stderr    *childStderr
	waited    chan struct{} // closed when Wait returned (output read); waitErr is then set
	waitErr   error
	born      time.Time
	runs      int       // given so far
	idleSince time.Time // when it last became idle (spares)
}

// A child is retired after jobMaxRuns runs or jobMaxAge, so that what one
// run may leave behind (fragmented memory) does not build up.
const (
	jobMaxRuns = 1000
	jobMaxAge  = 30 * time.Minute
)

// spawn starts a child, waiting for a start slot: the fill loop's way.
func (x *jobProcess) spawn() (*jobChild, error) {
	x.spares.slots() <- struct{}{}
	c, err := x.spawnInSlot()
	if err != nil {
		<-x.spares.slots()
	}
	return c, err
}

// close kills the spare children; runs in progress are the scheduler's to end.
func (x *jobProcess) close() { x.spares.close() }

// startChild starts a child that waits for its job on standard input.
func (x *jobProcess) startChild() (*jobChild, error) {
	c := &jobChild{frames: newFrameReader(x.childEvent), stderr: &childStderr{}, waited: make(chan struct{}), born: time.Now()}
	c.cmd = exec.Command(x.exe, append([]string{"_job", "--home", x.home}, x.store...)...)
	if x.argv0 != "" {
		c.cmd.Args[0] = x.argv0
	}
	c.cmd.Env = x.env
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	c.cmd.Stdout = c.frames
	c.cmd.Stderr = c.stderr
	c.cmd.SysProcAttr = jobProcAttr()
	c.cmd.WaitDelay = time.Second // output copying ends soon after the child, even if a descendant holds the pipes
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s _job: %w", x.exe, err)
	}
	c.pid = c.cmd.Process.Pid
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.waited)
	}()
	return c, nil
}

// jobStartLimit bounds how long a starting child holds its start slot.
const jobStartLimit = 5 * time.Second

// spawnInSlot starts a child in a start slot (the caller holds one),
// released once the child is ready or gone.
func (x *jobProcess) spawnInSlot() (*jobChild, error) {
	c, err := x.startChild()
	if err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-c.frames.ready:
		case <-c.waited:
		case <-time.After(jobStartLimit): // slow to start: let another try
		}
		<-x.spares.slots()
	}()
	return c, nil
}

// alive reports whether the child has not ended.
func (c *jobChild) alive() bool {
	select {
	case <-c.waited:
		return false
	default:
		return true
	}
}

// discard ends a child that will run no more jobs: one waiting is retired
// (end of its input), one that misbehaved is killed.
func (c *jobChild) discard() {
	c.stdin.Close()
	select {
	case <-c.waited:
	case <-time.After(jobKillGrace):
		killGroup(c.cmd, c.pid)
		<-c.waited
	}
}

// acquire returns a child for a run: an idle one; else the first to come
// back within jobWaitForChild; else a new one when fewer than jobStarting
// are starting; else whichever of these comes first. A run takes a
// millisecond or two on a ready child against several on one that starts:
// when many runs are due at once, a few children serve them in turn rather
// than many starting together and taking the CPU from each other.
func (x *jobProcess) acquire(ctx context.Context) (*jobChild, error) {
	patience := time.NewTimer(jobWaitForChild)
	defer patience.Stop()
	waited := x.spares.max <= 0 // nothing comes back without spares
	for {
		if c := x.spares.take(); c != nil {
			return c, nil
		}
		back := x.spares.changed()
		var slot chan struct{}
		if waited {
			slot = x.spares.slots()
		}
		select {
		case slot <- struct{}{}:
			c, err := x.spawnInSlot()
			if err != nil {
				<-x.spares.slots()
				return nil, err
			}
			return c, nil
		case <-back:
		case <-patience.C:
			waited = true
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// reusable reports whether a child may take another job after a run that
// ended with st.
func (c *jobChild) reusable(st jobStatus) bool {
	return (st.Status == jobSucceeded || st.Status == jobFailed) && c.alive() && !c.frames.broken() &&
		c.runs < jobMaxRuns && time.Since(c.born) < jobMaxAge
}

// Execute runs the job in a child process and reports how it ended (see
// cron.Executor). A child whose run did not end cleanly is gone when
// Execute returns; one whose run did may serve the next.
func (x *jobProcess) Execute(ctx context.Context, j store.Job, out io.Writer) error {
	spec, err := json.Marshal(jobSpec{Job: j.Name, ScriptName: j.ScriptName, Script: j.Script, Args: j.Args,
		Timeout: j.Timeout, MaxMemory: j.MemoryLimit()})
	if err != nil {
		return fmt.Errorf("encode job %s for its process: %w", j.Name, err)
	}
	x.spares.note()
	c, err := x.acquire(ctx)
	if err != nil {
		return fmt.Errorf("job %s: %w", j.Name, err)
	}
	c.runs++
	status := c.frames.start(out, j.Name)
	// The spec goes in a goroutine: a child that died cannot block the run,
	// which then ends as a crash below.
	go func() { _, _ = c.stdin.Write(append(spec, '\n')) }()
	cmd, pid, stderr := c.cmd, c.pid, c.stderr

	// The parent's own limits, whatever the child does.
	deadline := time.NewTimer(j.Timeout + jobHardStop + jobKillGrace)
	defer deadline.Stop()
	rss := time.NewTicker(jobRSSEvery)
	defer rss.Stop()
	var killed string // why the parent killed it: "timeout", "memory", "cancel"
	var usedRSS int64
	var term <-chan time.Time
	var st jobStatus
	hasStatus := false
wait:
	for {
		select {
		case st = <-status:
			hasStatus = true
			break wait
		case <-c.waited:
			// Wait returns once the output is read: a status sent before
			// the child ended is in the channel by now.
			select {
			case st = <-status:
				hasStatus = true
			default:
			}
			break wait
		case <-ctx.Done():
			if killed == "" {
				killed = "cancel"
				_ = cmd.Process.Signal(syscall.SIGTERM) // the child stops the script and ends
				term = time.After(jobKillGrace)
			}
			ctx = context.Background() // seen; wait for the child or term
		case <-term:
			killGroup(cmd, pid)
		case <-deadline.C:
			if killed == "" {
				killed = "timeout"
			}
			killGroup(cmd, pid)
		case <-rss.C:
			if n := residentBytes(pid); n > rssLimit(j.MemoryLimit()) && killed == "" {
				killed, usedRSS = "memory", n
				killGroup(cmd, pid)
			}
		}
	}
	c.frames.stop()
	if killed == "" && hasStatus && c.reusable(st) {
		x.spares.put(c)
	} else {
		go c.discard()
	}

	switch killed {
	case "cancel":
		return fmt.Errorf("job %s: %w", j.Name, context.Canceled)
	case "timeout":
		if hasStatus && st.Status == jobTimedOut {
			break // it ended itself in time after all
		}
		return &cron.RunError{Status: store.RunTimedOut, Message: fmt.Sprintf(
			"script timed out after %s; its process did not stop and was killed", j.Timeout)}
	case "memory":
		return &cron.RunError{Status: store.RunFailed, Message: memoryMessage(j, usedRSS, "resident")}
	}
	if !hasStatus {
		<-c.waited
		return x.crashed(j, cmd.ProcessState, c.waitErr, stderr.tail())
	}
	switch st.Status {
	case jobSucceeded:
		return nil
	case jobTimedOut:
		return &cron.RunError{Status: store.RunTimedOut, Message: st.Error}
	case jobMemory:
		return &cron.RunError{Status: store.RunFailed, Message: memoryMessage(j, st.MemoryUsed, "heap")}
	case jobCancelled:
		return &cron.RunError{Status: store.RunFailed, Message: "the run's process was stopped by a signal from outside scriptrun"}
	}
	return &cron.RunError{Status: store.RunFailed, Message: st.Error}
}

// memoryMessage says that a run passed its job's memory cap.
func memoryMessage(j store.Job, used int64, what string) string {
	return fmt.Sprintf("memory limit %s exceeded (%s memory reached %s): process data in smaller pieces, or raise the job's limit with `scriptrun cron update %s --max-memory SIZE`",
		store.FormatBytes(j.MemoryLimit()), what, store.FormatBytes(used), j.Name)
}

// crashed describes a child that ended without a status line: killed from
// outside, or a crash of the Go runtime (whose report is on its stderr).
func (x *jobProcess) crashed(j store.Job, ps *os.ProcessState, waitErr error, tail string) error {
	how := "it ended"
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			how = "it was killed by signal " + ws.Signal().String()
		} else {
			how = "it exited with code " + strconv.Itoa(ps.ExitCode())
		}
	} else if waitErr != nil {
		how = waitErr.Error()
	}
	first := firstLine(tail)
	if strings.Contains(tail, "out of memory") {
		return &cron.RunError{Status: store.RunFailed, Message: fmt.Sprintf(
			"memory limit %s exceeded: the run's process ran out of memory (%s)", store.FormatBytes(j.MemoryLimit()), first)}
	}
	if tail != "" {
		x.log.Warn("cron run's process crashed", "job", j.Name, "how", how, "report", tail)
	}
	msg := "the run's process ended before the run finished: " + how
	if first != "" {
		msg += " (" + first + ")"
	}
	return &cron.RunError{Status: store.RunFailed, Message: msg}
}

// killGroup kills the child and its process group (the child starts no
// processes of its own today; the group is there so that nothing it might
// start outlives it). It is called only before Wait has returned: once the
// child is reaped, its pid, and so the group's id, may belong to another
// process (the window between the child's reaping and this call is a few
// instructions of the Wait goroutine).
func killGroup(cmd *exec.Cmd, pid int) {
	_ = cmd.Process.Kill()
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// residentBytes is a process's resident set size (Linux; 0 when unknown).
func residentBytes(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// childEvent logs and counts a token event a child sent while it ran job
// ("" between runs: a refresh that outlived its run).
func (x *jobProcess) childEvent(job string, ev tokens.Event) {
	log := x.log
	if job != "" {
		log = log.With("job", job)
	}
	tokens.LogEvent(log, ev)
	if x.onEvent != nil {
		x.onEvent(ev)
	}
}

// childStderr receives a child's standard error, where only a crash report
// of the Go runtime is written: it keeps the last childTailBytes.
type childStderr struct {
	mu    sync.Mutex
	other []byte
}

const childTailBytes = 8 << 10

func (c *childStderr) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.other = append(c.other, p...)
	if n := len(c.other); n > childTailBytes {
		c.other = append([]byte(nil), c.other[n-childTailBytes:]...)
	}
	return len(p), nil
}

func (c *childStderr) tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.other)
}

// frameReader is a child's standard output: it reads the jobFrames, writes
// output frames to the run's output, hands event frames to onEvent (in
// order, before any later frame is read, so a run's events are counted by
// the time its status arrives) and sends the status frame on the run's
// channel. Output and status frames that arrive while no run is on (there
// should be none) are dropped; a malformed stream marks the child broken.
type frameReader struct {
	ready     chan struct{} // closed at the 'r' frame
	readyOnce sync.Once
	onEvent   func(job string, ev tokens.Event)
	mu        sync.Mutex
	out       io.Writer      // the run's output; nil between runs
	status    chan jobStatus // the run's; nil between runs
	job       string         // the run's job; "" between runs
	hdr       []byte         // a header being read
	left      int            // payload bytes of the current frame still to come
	kind      byte
	body      []byte // a status or event frame's payload so far
	bad       bool
}

func newFrameReader(onEvent func(job string, ev tokens.Event)) *frameReader {
	return &frameReader{hdr: make([]byte, 0, jobFrameHeader), ready: make(chan struct{}), onEvent: onEvent}
}

// start directs frames to a run of job and returns the channel of its status.
func (f *frameReader) start(out io.Writer, job string) <-chan jobStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out, f.status, f.job = out, make(chan jobStatus, 1), job
	return f.status
}

// stop detaches the run.
func (f *frameReader) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.out, f.status, f.job = nil, nil, ""
}

func (f *frameReader) broken() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bad
}

func (f *frameReader) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(p)
	for len(p) > 0 && !f.bad {
		if f.left == 0 && f.kind == 0 {
			k := min(jobFrameHeader-len(f.hdr), len(p))
			f.hdr, p = append(f.hdr, p[:k]...), p[k:]
			if len(f.hdr) < jobFrameHeader {
				break
			}
			f.kind = f.hdr[0]
			f.left = int(f.hdr[1])<<24 | int(f.hdr[2])<<16 | int(f.hdr[3])<<8 | int(f.hdr[4])
			f.hdr = f.hdr[:0]
			if !slices.Contains([]byte{frameOutput, frameStatus, frameEvent, frameReady}, f.kind) || (f.kind != frameOutput && f.left > jobFrameMax) {
				f.bad = true
				break
			}
		}
		k := min(f.left, len(p))
		chunk := p[:k]
		p, f.left = p[k:], f.left-k
		switch f.kind {
		case frameOutput:
			if f.out != nil {
				_, _ = f.out.Write(chunk)
			}
		case frameStatus, frameEvent:
			f.body = append(f.body, chunk...)
		}
		if f.left == 0 {
			if f.kind == frameReady {
				f.readyOnce.Do(func() { close(f.ready) })
			}
			switch f.kind {
			case frameStatus:
				var st jobStatus
				if json.Unmarshal(f.body, &st) != nil || st.Status == "" {
					f.bad = true
				} else if f.status != nil {
					f.status <- st
				}
			case frameEvent:
				var ev tokens.Event
				if json.Unmarshal(f.body, &ev) != nil || ev.Kind == "" || ev.Token == "" {
					f.bad = true
				} else if f.onEvent != nil {
					f.onEvent(f.job, ev)
				}
			}
			f.body = f.body[:0]
			f.kind = 0
		}
	}
	return n, nil
}
