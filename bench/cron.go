package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// Issue 17's cron row: cronJobs jobs `@every cronEvery` scheduled by a real
// `scriptrun serve` for cronFor; every run must succeed, the start delay
// (started − due) stay within cronDelayTarget at p99, and serve's peak RSS
// within cronRSSTarget.
const (
	cronJobs        = 1000
	cronEvery       = 10 * time.Second
	cronFor         = 5 * time.Minute
	cronDelayTarget = 150 * time.Millisecond
	cronRSSTarget   = 150 << 20
	// cronSample is how often serve's and its children's memory is read.
	cronSample = 250 * time.Millisecond
)

// cronScript is every job's source: a line of output, so that what a run
// costs is the scheduler's, the child process's and the store's work.
const cronScript = "console.log('tick')"

// cron runs the cron row once (it takes more than cronFor): a home of its
// own with cronJobs jobs created by `scriptrun apply`, then `scriptrun
// serve` with its default isolation (each run in a ready child process)
// for cronFor of due times. The runs' records, read from the store after
// serve stopped, give the outcome and start delay of every due time;
// serve's peak RSS is its VmHWM, the children's is sampled.
func (b *bench) cron() (result, error) {
	home, err := b.cronHome()
	if err != nil {
		return result{}, err
	}
	run, err := b.cronServe(home)
	if err != nil {
		return result{}, err
	}
	st, err := cronOutcome(home, run.first, run.last)
	if err != nil {
		return result{}, err
	}
	p99 := st.pct(99)
	return result{
		measure: fmt.Sprintf("%d cron jobs `@every %s` for %s in `serve` (each run in a child process)", cronJobs, cronEvery, cronFor),
		cells: []string{fmt.Sprintf("%d of %d runs succeeded; start delay p50 %s, p99 %s, max %s; serve peak RSS %.0f MiB; CPU/run %.2f ms in serve, %.2f ms in its children; children: up to %d at once, %.0f MiB PSS together at most, largest peak RSS %.0f MiB",
			st.succeeded, st.expected, ms(st.pct(50)), ms(p99), ms(st.pct(100)), mib(run.serveHWM),
			perRun(run.serveCPU, st.expected), perRun(run.cpu-run.serveCPU, st.expected),
			run.children, mib(run.childrenPSS), mib(run.childHWM)), "", ""},
		target: fmt.Sprintf("every run succeeds; p99 ≤ %d ms; RSS ≤ %d MiB", cronDelayTarget.Milliseconds(), cronRSSTarget>>20),
		met:    verdict(st.succeeded == st.expected && p99 <= cronDelayTarget && run.serveHWM <= cronRSSTarget),
	}, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
func mib(n int64) float64       { return float64(n) / (1 << 20) }

// perRun is CPU time per run, in milliseconds.
func perRun(cpu time.Duration, runs int) float64 {
	return float64(cpu) / float64(time.Millisecond) / float64(max(runs, 1))
}

// cronHome makes a home of its own and creates the jobs with `scriptrun
// apply`, as an admin would.
func (b *bench) cronHome() (string, error) {
	home := filepath.Join(b.dir, "home-cron")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return "", err
	}
	if _, err := store.LoadKey(filepath.Join(home, "master.key")); err != nil {
		return "", err
	}
	var f strings.Builder
	f.WriteString("jobs:\n")
	for i := range cronJobs {
		fmt.Fprintf(&f, "  - name: tick-%04d\n    schedule: \"@every %s\"\n    source: %q\n", i, cronEvery, cronScript)
	}
	file := filepath.Join(b.dir, "cron-jobs.yaml")
	if err := os.WriteFile(file, []byte(f.String()), 0o600); err != nil {
		return "", err
	}
	if out, err := exec.Command(b.bin, "--home", home, "apply", "-f", file).CombinedOutput(); err != nil {
		return "", fmt.Errorf("scriptrun apply: %v\n%s", err, tail(out))
	}
	return home, nil
}

// cronRun is what one serve did: the due times measured (first to last),
// and its memory and CPU.
type cronRun struct {
	first, last time.Time
	serveHWM    int64         // serve's peak RSS (VmHWM)
	children    int           // most job children alive at once
	childrenPSS int64         // most memory of the children together (PSS: shared pages split)
	childHWM    int64         // the largest child's peak RSS
	serveCPU    time.Duration // serve's own user+system CPU
	cpu         time.Duration // serve's, with its children's
}

// cronServe runs serve on home until cronFor of due times have passed and
// their runs had time to end, then stops it with SIGTERM.
func (b *bench) cronServe(home string) (cronRun, error) {
	logf, err := os.Create(filepath.Join(b.dir, "cron-serve.log"))
	if err != nil {
		return cronRun{}, err
	}
	defer logf.Close()
	cmd := exec.Command(b.bin, "--home", home, "serve", "--addr", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return cronRun{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	kill := func(err error) (cronRun, error) {
		_ = cmd.Process.Kill()
		<-exited
		return cronRun{}, err
	}
	if err := waitScheduler(home, exited); err != nil {
		return kill(err)
	}
	// The first due time after the scheduler started, and the last one
	// within cronFor of it.
	run := cronRun{first: time.Now().Truncate(cronEvery).Add(cronEvery)}
	run.last = run.first.Add(cronFor - cronEvery)
	mem := sampleChildren(cmd.Process.Pid)
	select {
	case err := <-exited:
		mem.stop()
		return cronRun{}, fmt.Errorf("serve ended early: %v (log: %s)", err, logf.Name())
	case <-time.After(time.Until(run.last.Add(cronEvery / 2))):
	}
	run.serveHWM = procStatus(cmd.Process.Pid, "VmHWM:")
	run.serveCPU = procCPU(cmd.Process.Pid)
	mem.stop()
	run.children, run.childrenPSS, run.childHWM = mem.peaks()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			return cronRun{}, fmt.Errorf("serve: %v (log: %s)", err, logf.Name())
		}
	case <-time.After(time.Minute):
		return kill(errors.New("serve did not stop within a minute of SIGTERM"))
	}
	run.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return run, nil
}

// waitScheduler waits until serve holds home's scheduler lock.
func waitScheduler(home string, exited <-chan error) error {
	key, err := store.LoadKey(filepath.Join(home, "master.key"))
	if err != nil {
		return err
	}
	db, err := store.Open(filepath.Join(home, "scriptrun.db"), key, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(time.Minute)
	for !db.SchedulerRunning() {
		select {
		case err := <-exited:
			return fmt.Errorf("serve ended before it scheduled the jobs: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("serve did not start its scheduler within a minute")
		}
	}
	return nil
}

// cronStats are the scheduled runs of the measured due times.
type cronStats struct {
	expected, succeeded int
	delays              []time.Duration // started − due of the runs that started
}

func (s cronStats) pct(p int) time.Duration {
	if len(s.delays) == 0 {
		return 0
	}
	return s.delays[min(len(s.delays)-1, (len(s.delays)-1)*p/100)]
}

// cronOutcome reads every job's runs due from first to last: each due time
// of each job must have one succeeded run.
func cronOutcome(home string, first, last time.Time) (cronStats, error) {
	key, err := store.LoadKey(filepath.Join(home, "master.key"))
	if err != nil {
		return cronStats{}, err
	}
	db, err := store.Open(filepath.Join(home, "scriptrun.db"), key, store.Options{})
	if err != nil {
		return cronStats{}, err
	}
	defer db.Close()
	ticks := int(last.Sub(first)/cronEvery) + 1
	st := cronStats{expected: cronJobs * ticks}
	err = db.View(func(tx *store.Tx) error {
		for i := range cronJobs {
			runs, err := tx.Runs(fmt.Sprintf("tick-%04d", i), 0)
			if err != nil {
				return err
			}
			for _, r := range runs {
				if r.Trigger != store.TriggerSchedule || r.Scheduled.Before(first) || r.Scheduled.After(last) {
					continue
				}
				if r.Status == store.RunSucceeded {
					st.succeeded++
				}
				if !r.Started.IsZero() {
					st.delays = append(st.delays, r.Started.Sub(r.Scheduled))
				}
			}
		}
		return nil
	})
	slices.Sort(st.delays)
	return st, err
}

// childMemory samples the RSS of a process's children.
type childMemory struct {
	mu       sync.Mutex
	most     int
	pss, hwm int64
	done     chan struct{}
	stopped  chan struct{}
}

func sampleChildren(pid int) *childMemory {
	m := &childMemory{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(m.stopped)
		t := time.NewTicker(cronSample)
		defer t.Stop()
		for {
			m.sample(pid)
			select {
			case <-m.done:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *childMemory) sample(pid int) {
	kids := childrenOf(pid)
	var sum int64
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range kids {
		sum += procField(fmt.Sprintf("/proc/%d/smaps_rollup", k), "Pss:")
		m.hwm = max(m.hwm, procStatus(k, "VmHWM:"))
	}
	m.most = max(m.most, len(kids))
	m.pss = max(m.pss, sum)
}

func (m *childMemory) stop() {
	select {
	case <-m.done:
	default:
		close(m.done)
	}
	<-m.stopped
}

func (m *childMemory) peaks() (int, int64, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.most, m.pss, m.hwm
}

// childrenOf lists the processes whose parent is pid (Linux /proc).
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(p); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// procStat is /proc/PID/stat's fields after the command's name (state,
// ppid, ...); nil when it cannot be read.
func procStat(pid int) []string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	// pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is a live process's own user and system CPU time so far.
func procCPU(pid int) time.Duration {
	f := procStat(pid)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// procStatus reads a size field (e.g. "VmHWM:") of /proc/PID/status, in
// bytes; 0 when it cannot.
func procStatus(pid int, field string) int64 {
	return procField(fmt.Sprintf("/proc/%d/status", pid), field)
}

// procField reads a "Name:   N kB" line of a /proc file, in bytes.
func procField(file, field string) int64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// tail is the end of a command's output, for an error message.
func tail(out []byte) []byte {
	if len(out) > 2000 {
		return out[len(out)-2000:]
	}
	return out
}
