package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
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

// jobProcess is serve's cron.Executor: each run is a child `scriptrun _job`
// process (the protocol is in job.go), in its own process group, killed
// with it when serve dies (Linux's parent-death signal).
type jobProcess struct {
	exe    string   // the scriptrun binary
	argv0  string   // what ps shows for it ("" = exe)
	home   string   // passed as --home
	env    []string // the child's environment
	log    *slog.Logger
	spares spares // children started ahead of runs
}

var _ cron.Executor = (*jobProcess)(nil)

// newJobProcess returns the executor serve uses: this binary, on this home,
// with this process's environment (and the master key when the caller's
// environment gives it).
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
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &jobProcess{exe: exe, argv0: argv0, home: home, env: env, log: log}, nil
}

// keepSpares has x start children ahead of runs (serve, see job_spares.go).
func (x *jobProcess) keepSpares() {
	x.spares.max, x.spares.spawn = maxSpareJobs, x.spawn
}

// jobChild is a started `scriptrun _job` process that has not been given
// its job yet (a spare, or one just started for a run).
type jobChild struct {
	cmd     *exec.Cmd
	pid     int
	stdin   io.WriteCloser
	status  *os.File // read end of fd 3
	out     *switchWriter
	logs    *childLog
	waited  chan struct{} // closed when Wait returned; waitErr is then set
	waitErr error
	born    time.Time
}

// close kills the spare children; runs in progress are the scheduler's to end.
func (x *jobProcess) close() { x.spares.close() }

// spawn starts a child that waits for its job on standard input.
func (x *jobProcess) spawn() (*jobChild, error) {
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("status pipe: %w", err)
	}
	c := &jobChild{status: statusR, out: &switchWriter{}, logs: &childLog{}, waited: make(chan struct{}), born: time.Now()}
	c.cmd = exec.Command(x.exe, "_job", "--home", x.home)
	if x.argv0 != "" {
		c.cmd.Args[0] = x.argv0
	}
	c.cmd.Env = x.env
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		statusR.Close()
		statusW.Close()
		return nil, err
	}
	c.cmd.Stdout = c.out
	c.cmd.Stderr = c.logs
	c.cmd.ExtraFiles = []*os.File{statusW} // fd 3
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c.cmd.WaitDelay = time.Second // output copying ends soon after the child, even if a descendant holds the pipes
	err = c.cmd.Start()
	statusW.Close()
	if err != nil {
		statusR.Close()
		return nil, fmt.Errorf("start %s _job: %w", x.exe, err)
	}
	c.pid = c.cmd.Process.Pid
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.waited)
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

// discard kills a child that will not run a job (a spare no longer wanted).
func (c *jobChild) discard() {
	if c.alive() {
		killGroup(c.cmd, c.pid)
	}
	<-c.waited
	c.status.Close()
}

// Execute runs the job in a child process and reports how it ended (see
// cron.Executor). Whatever the child does, it is gone when Execute returns.
func (x *jobProcess) Execute(ctx context.Context, j store.Job, out io.Writer) error {
	spec, err := json.Marshal(jobSpec{Job: j.Name, ScriptName: j.ScriptName, Script: j.Script, Args: j.Args,
		Timeout: j.Timeout, MaxMemory: j.MemoryLimit()})
	if err != nil {
		return fmt.Errorf("encode job %s for its process: %w", j.Name, err)
	}
	x.spares.note()
	c := x.spares.take()
	if c == nil {
		if c, err = x.spawn(); err != nil {
			return fmt.Errorf("job %s: %w", j.Name, err)
		}
	}
	defer c.status.Close()
	c.out.set(out)
	c.logs.setLog(x.log.With("job", j.Name))
	// The spec goes in a goroutine: a child that died cannot block the run,
	// which then ends as a crash below.
	go func() {
		_, _ = c.stdin.Write(spec)
		c.stdin.Close()
	}()
	cmd, pid, statusR := c.cmd, c.pid, c.status
	logs := c.logs
	statusC := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(statusR, 64<<10))
		statusC <- b
	}()
	waited := make(chan error, 1)
	go func() { <-c.waited; waited <- c.waitErr }()

	// The parent's own limits, whatever the child does.
	deadline := time.NewTimer(j.Timeout + jobHardStop + jobKillGrace)
	defer deadline.Stop()
	rss := time.NewTicker(jobRSSEvery)
	defer rss.Stop()
	var killed string // why the parent killed it: "timeout", "memory", "cancel"
	var usedRSS int64
	var term <-chan time.Time
	var waitErr error
wait:
	for {
		select {
		case waitErr = <-waited:
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
	st, hasStatus := parseJobStatus(<-statusC)
	logs.flush()

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
		return x.crashed(j, cmd.ProcessState, waitErr, logs.tail())
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

// parseJobStatus reads the child's status line.
func parseJobStatus(b []byte) (jobStatus, bool) {
	var st jobStatus
	line := bytes.TrimSpace(b)
	if len(line) == 0 || json.Unmarshal(line, &st) != nil || st.Status == "" {
		return jobStatus{}, false
	}
	return st, true
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

// childLog receives a child's standard error: log records (JSON lines) are
// logged as this process's own, so token refreshes made by runs are logged
// and counted as before; other text (a Go crash report) is kept, the last
// childTailBytes of it.
type childLog struct {
	log *slog.Logger // nil until the child has its job: records are kept as text

	mu      sync.Mutex
	partial []byte
	other   []byte
}

const (
	childTailBytes = 8 << 10
	childLineMax   = 64 << 10
)

func (c *childLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
	if len(c.partial) > childLineMax {
		c.keep(c.partial)
		c.partial = nil
	}
	return len(p), nil
}

// flush handles a last line without a newline.
func (c *childLog) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.partial) > 0 {
		c.line(c.partial)
		c.partial = nil
	}
}

func (c *childLog) tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.other)
}

// line logs a record, or keeps text that is not one. c.mu is held.
func (c *childLog) line(b []byte) {
	if len(b) > 0 && b[0] == '{' {
		var rec map[string]any
		if json.Unmarshal(b, &rec) == nil {
			if msg, ok := rec["msg"].(string); ok && c.log != nil {
				c.forward(msg, rec)
				return
			}
		}
	}
	c.keep(append(b, '\n'))
}

func (c *childLog) keep(b []byte) {
	c.other = append(c.other, b...)
	if n := len(c.other); n > childTailBytes {
		c.other = append([]byte(nil), c.other[n-childTailBytes:]...)
	}
}

func (c *childLog) setLog(l *slog.Logger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = l
}

// forward logs a child's record through this process's logger. c.mu is held.
func (c *childLog) forward(msg string, rec map[string]any) {
	var level slog.Level
	if s, ok := rec["level"].(string); !ok || level.UnmarshalText([]byte(s)) != nil {
		level = slog.LevelInfo
	}
	if !c.log.Enabled(context.Background(), level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	if s, ok := rec["time"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			r.Time = t
		}
	}
	for _, k := range slices.Sorted(maps.Keys(rec)) {
		if k != "time" && k != "level" && k != "msg" {
			r.AddAttrs(slog.Any(k, rec[k]))
		}
	}
	_ = c.log.Handler().Handle(context.Background(), r)
}

// switchWriter is a child's standard output: discarded until the child has
// its job, then written to the run's output.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w = w
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return len(p), nil
	}
	return s.w.Write(p)
}
