package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// busyJobChildren lists the `scriptrun _job` processes whose parent is pid
// and that hold more than 64 MiB: running a script that allocates (serve
// also keeps idle children, spares, and runs the healthy job's).
func busyJobChildren(t *testing.T, pid int) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // ended meanwhile
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[i+1:]) // state ppid ...
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) || fields[0] == "Z" {
			continue
		}
		dir := filepath.Dir(f)
		if cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline")); strings.Contains(string(cmdline), "_job") {
			n, _ := strconv.Atoi(filepath.Base(dir))
			if residentBytes(n) > 64<<20 {
				kids = append(kids, n)
			}
		}
	}
	return kids
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// runNow presses Run now on a job's page and returns the run's id.
func runNow(t *testing.T, client *http.Client, base, csrf, job string) uint64 {
	t.Helper()
	resp, err := client.PostForm(base+"/cron/"+job+"/run", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	m := regexp.MustCompile(`^/cron/` + job + `/runs/(\d+)$`).FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("run now %s: %s to %q", job, resp.Status, resp.Header.Get("Location"))
	}
	id, _ := strconv.ParseUint(m[1], 10, 64)
	return id
}

// runOf finds run id among a job's runs.
func runOf(t *testing.T, home, job string, id uint64) runView {
	t.Helper()
	for _, r := range cronRuns(t, home, job) {
		if r.ID == id {
			return r
		}
	}
	return runView{}
}

// A cron run that loops inside a built-in, one that allocates without
// bound, and one whose process dies, each in serve: the first is recorded as
// timed out within seconds of its timeout, the second as failed at its
// memory limit, the third as failed; a run cancelled from the console has
// its process killed. Meanwhile a healthy job keeps succeeding every second
// and the console keeps answering. On a serve that runs scripts in its own
// process, the first ran ~50 s and the second grew until the kernel killed
// serve.
func TestServeIsolatesCronRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	home := t.TempDir()
	c := newCLI(t)
	c.home = home
	c.stdin = "a long admin password\n"
	c.must("admin", "password")
	dir := t.TempDir()
	add := func(name string, src string, flags ...string) {
		t.Helper()
		c.must(append([]string{"cron", "add", name, "--script", writeScript(t, dir, name+".js", src)}, flags...)...)
	}
	add("tick", "console.log('tick')", "--schedule", "@every 1s")
	// Run from the console only (disabled jobs do not run on their schedule).
	add("spin", "console.log('spin'); new Array(1e8).fill(1); console.log('not reached')", "--schedule", "@daily", "--disabled", "--timeout", "2s")
	add("hog", "console.log('hog'); new Array(2**32-1).fill(0)", "--schedule", "@daily", "--disabled", "--max-memory", "256MiB", "--timeout", "5m")
	add("stuck", "console.log('stuck'); new Array(1e8).fill(1)", "--schedule", "@daily", "--disabled", "--timeout", "5m")

	serve := startServe(t, home)
	servePID := serve.cmd.Process.Pid
	client, csrf := consoleClient(t, serve.base, "a long admin password")
	began := time.Now()

	// The console answers throughout: every answer within 2 s.
	var mu sync.Mutex
	var slowest time.Duration
	var consoleErr error
	stopProbe := make(chan struct{})
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		for {
			select {
			case <-stopProbe:
				return
			case <-time.After(100 * time.Millisecond):
			}
			t0 := time.Now()
			resp, err := client.Get(serve.base + "/cron")
			d := time.Since(t0)
			mu.Lock()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = &url.Error{Op: "GET", URL: "/cron", Err: os.ErrInvalid}
			}
			if err != nil && consoleErr == nil {
				consoleErr = err
			}
			slowest = max(slowest, d)
			mu.Unlock()
			if resp != nil {
				resp.Body.Close()
			}
		}
	}()

	spin := runNow(t, client, serve.base, csrf, "spin")
	hog := runNow(t, client, serve.base, csrf, "hog")

	var r runView
	waitFor(t, "spin recorded as timed out", 15*time.Second, func() bool {
		r = runOf(t, home, "spin", spin)
		return r.Status != "running" && r.Status != "queued" && r.Status != ""
	})
	if r.Status != "timed_out" || !strings.Contains(r.Error, "timed out after 2s") || r.DurationMs > 6000 {
		t.Errorf("spin: %s after %d ms, error %q; want timed_out within 6 s", r.Status, r.DurationMs, r.Error)
	}
	if out := c.must("cron", "log", strconv.FormatUint(spin, 10)); !strings.Contains(out, "spin\n") || strings.Contains(out, "not reached") {
		t.Errorf("spin's output was not kept:\n%s", out)
	}
	t.Logf("spin: %s after %d ms: %s", r.Status, r.DurationMs, r.Error)

	waitFor(t, "hog recorded at its memory limit", 30*time.Second, func() bool {
		r = runOf(t, home, "hog", hog)
		return r.Status != "running" && r.Status != "queued" && r.Status != ""
	})
	if r.Status != "failed" || !strings.Contains(r.Error, "memory limit 256 MiB exceeded") {
		t.Errorf("hog: %s, error %q; want failed with the memory limit", r.Status, r.Error)
	}
	t.Logf("hog: %s after %d ms: %s", r.Status, r.DurationMs, r.Error)

	// Cancel from the console: the run's process is killed.
	stuck := runNow(t, client, serve.base, csrf, "stuck")
	var kids []int
	waitFor(t, "stuck's process", 10*time.Second, func() bool {
		kids = busyJobChildren(t, servePID)
		return len(kids) == 1 && runOf(t, home, "stuck", stuck).Status == "running"
	})
	resp, err := client.PostForm(serve.base+"/cron/stuck/runs/"+strconv.FormatUint(stuck, 10)+"/cancel", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancelled := time.Now()
	waitFor(t, "stuck's process gone", 10*time.Second, func() bool { return !alive(kids[0]) })
	t.Logf("stuck's process %d gone %v after the cancel", kids[0], time.Since(cancelled).Round(time.Millisecond))
	waitFor(t, "stuck recorded as cancelled", 10*time.Second, func() bool {
		r = runOf(t, home, "stuck", stuck)
		return r.Status == "cancelled"
	})
	if r.Reason != "cancelled from the console" {
		t.Errorf("stuck's reason: %q", r.Reason)
	}

	// A run whose process dies is recorded as failed, and says how.
	crash := runNow(t, client, serve.base, csrf, "stuck")
	waitFor(t, "the second stuck process", 10*time.Second, func() bool {
		kids = busyJobChildren(t, servePID)
		return len(kids) == 1 && runOf(t, home, "stuck", crash).Status == "running"
	})
	if err := syscall.Kill(kids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the crash recorded", 10*time.Second, func() bool {
		r = runOf(t, home, "stuck", crash)
		return r.Status != "running" && r.Status != ""
	})
	if r.Status != "failed" || !strings.Contains(r.Error, "ended before the run finished: it was killed by signal killed") {
		t.Errorf("crashed run: %s, error %q", r.Status, r.Error)
	}

	close(stopProbe)
	<-probed
	elapsed := time.Since(began)
	mu.Lock()
	if consoleErr != nil || slowest > 2*time.Second {
		t.Errorf("the console: error %v, slowest answer %v", consoleErr, slowest)
	}
	t.Logf("console: slowest answer %v over %v", slowest, elapsed.Round(time.Millisecond))
	mu.Unlock()

	// The healthy job ran every second throughout, and every run succeeded.
	ticks := cronRuns(t, home, "tick")
	ok := countStatus(ticks, "succeeded")
	for _, r := range ticks {
		if r.Missed > 0 && strings.Contains(r.Reason, "no scheduler was running") {
			continue // due before serve started
		}
		if r.Status != "succeeded" && r.Status != "running" {
			t.Errorf("tick run %d: %s %s %s", r.ID, r.Status, r.Error, r.Reason)
		}
	}
	if want := int(elapsed.Seconds()) - 2; ok < want {
		t.Errorf("tick succeeded %d times in %v, want at least %d", ok, elapsed.Round(time.Second), want)
	}
	select {
	case err := <-serve.done:
		t.Fatalf("serve ended: %v\n%s", err, serve.logs)
	default:
	}
	serve.stop(t)
}

// An upgrade replaces or removes serve's binary while it runs: its runs go
// on in children of the binary it was started from.
func TestServeRunsJobsAfterItsBinaryIsGone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	b, err := os.ReadFile(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "scriptrun")
	if err := os.WriteFile(bin, b, 0o700); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	c := newCLI(t)
	c.home = home
	c.must("cron", "add", "hello", "--schedule", "@daily", "--disabled", "--script", writeScript(t, t.TempDir(), "hello.js", "console.log('hello')"))
	serve := startServeBinary(t, bin, home)
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	code, out, errs := proc(t, home, "", "cron", "run", "hello")
	if code != 0 || out != "hello\n" || !strings.Contains(errs, "started in serve") {
		t.Errorf("cron run through a serve whose binary is gone: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	serve.stop(t)
}

// A home whose key is only in SCRIPTRUN_MASTER_KEY: serve's runs sign their
// requests in their own processes, with the key passed in the environment,
// never on a command line.
func TestServeRunsSignWithKeyFromEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Setenv("SCRIPTRUN_MASTER_KEY", strings.Repeat("5a", 32))
	t.Setenv("BEARER", cliSecrets["BEARER"])
	api := newAPIReceiver(t)
	home := t.TempDir()
	c := newCLI(t)
	c.home = home
	c.env["SCRIPTRUN_MASTER_KEY"] = os.Getenv("SCRIPTRUN_MASTER_KEY")
	c.stdin = cliSecrets["BEARER"] + "\n"
	c.must("token", "add", "api", "--type", "bearer", "--token-stdin", "--expires", "2099-01-01T00:00:00Z", "--base-url", api.URL)
	c.must("cron", "add", "signed", "--schedule", "@every 1s", "--script", writeScript(t, t.TempDir(), "signed.js",
		"const r = http.get(args[0] + '/hello').apiTokenAuth('api').send(); console.log('status', r.status)"), "--", api.URL)
	if _, err := os.Stat(filepath.Join(home, "master.key")); err == nil {
		t.Fatal("the home has a master.key file; the test needs the key in the environment only")
	}
	serve := startServe(t, home)
	waitFor(t, "a signed run", 15*time.Second, func() bool { return countStatus(cronRuns(t, home, "signed"), "succeeded") >= 1 })
	got := api.requests()
	if len(got) == 0 || got[0].header.Get("Authorization") != "Bearer "+cliSecrets["BEARER"] {
		t.Fatalf("the API got %d request(s), the first with Authorization %q", len(got), got[0].header.Get("Authorization"))
	}
	// The children's command lines name the home, nothing secret (after a
	// run, a spare child waits for the next).
	waitFor(t, "a job process", 10*time.Second, func() bool { return len(allJobChildren(servePIDOf(serve))) > 0 })
	for _, pid := range allJobChildren(servePIDOf(serve)) {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.Contains(string(cmdline), os.Getenv("SCRIPTRUN_MASTER_KEY")) || strings.Contains(string(cmdline), cliSecrets["BEARER"]) {
			t.Errorf("a job process's command line holds a secret: %q", cmdline)
		}
	}
	serve.stop(t)
}

func servePIDOf(p *serveProc) int { return p.cmd.Process.Pid }

// allJobChildren lists every `scriptrun _job` child of pid (spares too).
func allJobChildren(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) >= 2 && fields[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			kids = append(kids, n)
		}
	}
	return kids
}

// Without a serve, `cron run` runs the job in a process of its own too:
// its memory limit holds there.
func TestCronRunHereKeepsTheMemoryLimit(t *testing.T) {
	c := newCLI(t)
	c.must("cron", "add", "hog", "--schedule", "@daily", "--max-memory", "64MiB", "--script",
		writeScript(t, t.TempDir(), "hog.js", "console.log('hog'); new Array(2**32-1).fill(0)"))
	code, out, errs := c.run("cron", "run", "hog")
	if code != exitScript || out != "hog\n" || !strings.Contains(errs, "memory limit 64 MiB exceeded") {
		t.Errorf("cron run: exit %d, stdout %q, stderr %q; want 1 and the memory limit", code, out, errs)
	}
}
