package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/scriptrun/scriptrun/sandbox"
)

// serveProc is `scriptrun serve` running as its own process on a temp home.
type serveProc struct {
	cmd     *exec.Cmd
	home    string
	base    string // the console
	metrics string // http://ADDR/metrics, with --metrics-addr
	stdout  *syncBuffer
	logs    *syncBuffer
	done    chan error
}

// startServe starts the built binary's serve on free loopback ports and
// waits until it has said where it listens and whether it runs the jobs.
func startServe(t *testing.T, home string, args ...string) *serveProc {
	t.Helper()
	return startServeBinary(t, binary(t), home, args...)
}

// startServeBinary is startServe with the scriptrun binary at bin.
func startServeBinary(t *testing.T, bin, home string, args ...string) *serveProc {
	t.Helper()
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--callback-url", "http://127.0.0.1:0/oauth/callback"}, args...)
	p := &serveProc{home: home, stdout: &syncBuffer{}, logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+home)
	out, _ := p.cmd.StdoutPipe()
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.stdout.Write([]byte(sc.Text() + "\n"))
		}
		p.done <- p.cmd.Wait()
	}()
	// Ready: it said where the console is, where the metrics are (when
	// asked for), and whether it runs the jobs.
	ready := func() bool {
		out := p.stdout.String()
		return strings.Contains(out, "scriptrun console: ") && strings.Contains(p.logs.String(), "console listening") &&
			(!slices.Contains(args, "--metrics-addr") || strings.Contains(out, "metrics: "))
	}
	deadline := time.Now().Add(20 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start; stdout:\n%s\nstderr:\n%s", p.stdout, p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	printed := p.stdout.String()
	p.base = regexp.MustCompile(`scriptrun console: (\S+)/`).FindStringSubmatch(printed)[1]
	if m := regexp.MustCompile(`metrics: (\S+)`).FindStringSubmatch(printed); m != nil {
		p.metrics = m[1]
	}
	return p
}

// stop sends SIGTERM and waits for serve to end.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\nstderr:\n%s", err, p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30 s of SIGTERM\n%s", p.logs)
	}
}

// cronRuns is `scriptrun cron runs NAME --json --limit 0`.
func cronRuns(t *testing.T, home, job string) []runView {
	t.Helper()
	code, out, errs := proc(t, home, "", "cron", "runs", job, "--json", "--limit", "0")
	if code != 0 {
		t.Fatalf("cron runs %s: exit %d\n%s", job, code, errs)
	}
	var runs []runView
	if err := json.Unmarshal([]byte(out), &runs); err != nil {
		t.Fatalf("cron runs %s --json: %v\n%s", job, err, out)
	}
	return runs
}

func countStatus(runs []runView, status string) int {
	n := 0
	for _, r := range runs {
		if r.Status == status {
			n++
		}
	}
	return n
}

// waitFor polls cond every 100 ms for up to limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// authorize registers the sandbox as a provider with token name for its
// API, and gets the authorization token from the command line, signing in
// at the sandbox's page as a person would.
func authorize(t *testing.T, home string, srv *sandbox.Server, name string) {
	t.Helper()
	for _, args := range [][]string{
		{"provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-stdin", "--auth-url", srv.AuthURL(), "--token-url", srv.TokenURL(), "--auth-style", "body", "--scopes", "read"},
		{"token", "add", name, "--provider", "sandbox", "--base-url", srv.URL()},
	} {
		if code, out, errs := proc(t, home, srv.ClientSecret()+"\n", args...); code != 0 {
			t.Fatalf("scriptrun %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}
	cmd := exec.Command(binary(t), "token", "authorize", name, "--no-browser", "--callback-url", "http://127.0.0.1:0/oauth/callback")
	cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+home)
	stdout, _ := cmd.StdoutPipe()
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, srv.AuthURL()+"?") {
			if _, err := sandbox.SignIn(context.Background(), line, "demo", "demo"); err != nil {
				t.Fatalf("sign in at the sandbox: %v", err)
			}
			break
		}
	}
	io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("token authorize: %v\n%s", err, errb.String())
	}
}

// metricValue reads one sample from Prometheus text; -1 when it is absent.
func metricValue(text, sample string) int {
	v, ok := metricSample(text, sample)
	if !ok {
		return -1
	}
	return int(v)
}

func getMetrics(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("GET %s: %d %q", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

// The cron half of issue 5 with the real binary: serve runs jobs added from
// the command line, with tokens; `cron run` goes through it; disabling
// stops runs; metrics count them; SIGTERM while a job runs records it as
// cancelled and loses no history.
func TestServeRunsCronJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	start := time.Now()
	srv, err := sandbox.Start(sandbox.Options{RequirePKCE: true, AuthStyle: sandbox.AuthStyleBody})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	home := t.TempDir()
	authorize(t, home, srv, "api")
	t.Logf("token authorized from the command line after %v", time.Since(start).Round(time.Millisecond))

	serve := startServe(t, home, "--metrics-addr", "127.0.0.1:0", "--cron-grace", "1s")
	if !strings.Contains(serve.stdout.String(), "cron: this serve runs the home's jobs") || serve.metrics == "" {
		t.Fatalf("serve's first words:\n%s%s", serve.stdout, serve.logs)
	}
	pid := fmt.Sprintf("serve (pid %d)", serve.cmd.Process.Pid)

	dir := t.TempDir()
	must := func(args ...string) string {
		t.Helper()
		code, out, errs := proc(t, home, "", args...)
		if code != 0 {
			t.Fatalf("scriptrun %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out + errs
	}
	added := time.Now()
	must("cron", "add", "tick", "--schedule", "@every 1s", "--script", writeScript(t, dir, "tick.js", "console.log('tick', args[0])"), "--", "x")
	must("cron", "add", "api", "--schedule", "@every 1s", "--script", writeScript(t, dir, "api.js", `
const res = http.get(args[0] + '/me').apiTokenAuth('api').send();
if (!res.ok) throw new Error('status ' + res.status);
console.log('user ' + res.json().user);`), "--", srv.APIURL())

	// Runs are recorded by serve, within a second or two of the adds.
	waitFor(t, "two runs of each job", 10*time.Second, func() bool {
		return countStatus(cronRuns(t, home, "tick"), "succeeded") >= 2 && countStatus(cronRuns(t, home, "api"), "succeeded") >= 2
	})
	t.Logf("two scheduled runs of each job %v after adding them", time.Since(added).Round(time.Millisecond))
	for _, job := range []string{"tick", "api"} {
		for _, r := range cronRuns(t, home, job) {
			if r.Status != "succeeded" && r.Status != "running" && r.Status != "skipped" || r.RunBy != pid || r.Trigger != "schedule" {
				t.Errorf("run of %s: %+v", job, r)
			}
		}
	}
	for _, r := range cronRuns(t, home, "api") {
		if r.Status == "succeeded" {
			if out := must("cron", "log", strconv.FormatUint(r.ID, 10)); !strings.Contains(out, "user demo") {
				t.Errorf("cron log of a run with the token:\n%s", out)
			}
			break
		}
	}

	// Disabled from the command line: runs stop. A witness job that stays
	// enabled is the clock: once serve has seen the change (the enabled
	// gauge) and no run of tick is in flight, two more runs of the witness
	// span two of tick's due times, and tick must not have run at either.
	must("cron", "add", "witness", "--schedule", "@every 1s", "--script", writeScript(t, dir, "witness.js", "console.log('w')"))
	must("cron", "disable", "tick")
	must("cron", "disable", "api")
	waitFor(t, "serve to see tick and api disabled", 10*time.Second, func() bool {
		return metricValue(getMetrics(t, serve.metrics), "scriptrun_cron_jobs_enabled") == 1 && countStatus(cronRuns(t, home, "tick"), "running") == 0
	})
	before := len(cronRuns(t, home, "tick"))
	witnessed := countStatus(cronRuns(t, home, "witness"), "succeeded")
	waitFor(t, "two more runs of the witness", 10*time.Second, func() bool {
		return countStatus(cronRuns(t, home, "witness"), "succeeded") >= witnessed+2
	})
	if after := cronRuns(t, home, "tick"); len(after) != before {
		t.Errorf("tick ran %d more times after it was disabled", len(after)-before)
	}
	must("cron", "rm", "witness")

	// cron run goes through the running serve, with the token.
	code, out, errs := proc(t, home, "", "cron", "run", "api")
	if code != 0 || out != "user demo\n" || !strings.Contains(errs, "started in serve") || !strings.Contains(errs, "succeeded") {
		t.Fatalf("cron run through serve: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if r := cronRuns(t, home, "api")[0]; r.Trigger != "manual" || r.RunBy != pid || r.Status != "succeeded" {
		t.Errorf("the run of cron run: %+v, want a manual run by %s", r, pid)
	}

	// Metrics: runs by job and status, and that this serve schedules.
	metrics := getMetrics(t, serve.metrics)
	if n := metricValue(metrics, `scriptrun_cron_runs_total{job="tick",status="succeeded"}`); n < 2 {
		t.Errorf("metrics count %d succeeded runs of tick:\n%s", n, metrics)
	}
	if n := metricValue(metrics, `scriptrun_cron_runs_total{job="api",status="succeeded"}`); n < 3 {
		t.Errorf("metrics count %d succeeded runs of api", n)
	}
	waitFor(t, "the metrics to count two jobs once the witness is removed", 10*time.Second, func() bool {
		metrics = getMetrics(t, serve.metrics)
		return metricValue(metrics, "scriptrun_cron_jobs") == 2
	})
	if metricValue(metrics, "scriptrun_cron_scheduling") != 1 {
		t.Errorf("metrics gauges:\n%s", metrics)
	}
	if resp, err := http.Get(strings.TrimSuffix(serve.metrics, "/metrics") + "/tokens"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("the metrics listener serves more than /metrics: %v", resp.Status)
	}

	// SIGTERM while a job runs: after the grace period it is cancelled and
	// recorded; every run of every job is kept and final.
	must("cron", "add", "slow", "--schedule", "@every 1s", "--script", writeScript(t, dir, "slow.js", "console.log('slow start'); while (true) {}"))
	waitFor(t, "slow running", 10*time.Second, func() bool { return countStatus(cronRuns(t, home, "slow"), "running") == 1 })
	counts := map[string]int{}
	for _, job := range []string{"tick", "api", "slow"} {
		counts[job] = len(cronRuns(t, home, job))
	}
	stopped := time.Now()
	serve.stop(t)
	t.Logf("serve stopped %v after SIGTERM (grace 1s)", time.Since(stopped).Round(time.Millisecond))
	for _, job := range []string{"tick", "api", "slow"} {
		runs := cronRuns(t, home, job)
		if len(runs) < counts[job] {
			t.Errorf("%s had %d runs before shutdown, %d after", job, counts[job], len(runs))
		}
		for _, r := range runs {
			if r.Status == "running" || r.Status == "queued" {
				t.Errorf("run %d of %s is still %s after shutdown", r.ID, job, r.Status)
			}
		}
	}
	slow := cronRuns(t, home, "slow")
	if countStatus(slow, "cancelled") != 1 || countStatus(slow, "succeeded") != 0 {
		t.Errorf("slow after shutdown: %+v", slow)
	}
	for _, r := range slow {
		if r.Status == "cancelled" && !strings.Contains(r.Reason, "shutdown") {
			t.Errorf("the cancelled run's reason: %q", r.Reason)
		}
	}
	if out := must("cron", "log", strconv.FormatUint(slow[0].ID, 10)); slow[0].Status == "cancelled" && !strings.Contains(out, "slow start") {
		t.Errorf("the cancelled run lost its output:\n%s", out)
	}
	if !strings.Contains(serve.stdout.String(), "console stopped") || !strings.Contains(serve.logs.String(), "cron scheduler stopped") {
		t.Errorf("serve's last words:\n%s\n%s", serve.stdout, serve.logs)
	}
	t.Logf("serve cron end-to-end test took %v", time.Since(start).Round(time.Millisecond))
}

// consoleClient signs in at a console with the admin password and returns
// a client with the session, and the session's CSRF token.
func consoleClient(t *testing.T, base, password string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	body := func(resp *http.Response) string {
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	m := csrfRE.FindStringSubmatch(body(resp))
	if m == nil {
		t.Fatal("no form token on the sign-in page")
	}
	resp, err = c.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "password": {password}, "next": {"/cron"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	resp, err = c.Get(base + "/cron")
	if err != nil {
		t.Fatal(err)
	}
	if m = csrfRE.FindStringSubmatch(body(resp)); m == nil {
		t.Fatal("no CSRF token on /cron after signing in")
	}
	return c, m[1]
}

// inProcessServe runs serve in this process, as the command does, with a
// metrics listener and a short take-over interval.
type inProcessServe struct {
	base, metrics string
	out, log      *syncBuffer
	stop          func() error
}

func startInProcess(t *testing.T, home string) *inProcessServe {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mln, err := listenMetrics("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &inProcessServe{base: "http://" + ln.Addr().String(), metrics: "http://" + mln.Addr().String() + "/metrics", out: &syncBuffer{}, log: &syncBuffer{}}
	a := &app{stdio: Stdio{In: strings.NewReader(""), Out: s.out, Err: s.log}, getenv: func(k string) string {
		if k == "SCRIPTRUN_HOME" {
			return home
		}
		return ""
	}}
	s.stop = runServe(t, a, ln, serveConfig{callback: s.base + "/oauth/callback", metrics: mln, cronGrace: 500 * time.Millisecond, takeOverEvery: 100 * time.Millisecond})
	waitFor(t, "the console", 10*time.Second, func() bool {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return s
}

// Two serves on one home: the second serves its console without the
// scheduler, says so, hands Run now to the first, and takes the jobs over
// when the first stops.
func TestSecondServeOnAHome(t *testing.T) {
	home := t.TempDir()
	c := newCLI(t)
	c.home = home
	c.stdin = "a long admin password\n"
	c.must("admin", "password")
	c.must("cron", "add", "hello", "--schedule", "@daily", "--script", writeScript(t, t.TempDir(), "hello.js", "console.log('hello')"))

	first := startInProcess(t, home)
	second := startInProcess(t, home)
	if !strings.Contains(second.log.String(), "another scriptrun serve runs this home's cron jobs") {
		t.Errorf("the second serve does not warn:\n%s", second.log)
	}
	if metricValue(getMetrics(t, first.metrics), "scriptrun_cron_scheduling") != 1 || metricValue(getMetrics(t, second.metrics), "scriptrun_cron_scheduling") != 0 {
		t.Error("scriptrun_cron_scheduling does not tell which serve runs the jobs")
	}

	client, csrf := consoleClient(t, second.base, "a long admin password")
	resp, err := client.Get(second.base + "/cron")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Another scriptrun serve on this home runs the jobs") || !strings.Contains(string(page), "hello") {
		t.Errorf("the second console's cron page:\n%s", page)
	}
	// Run now in the second console runs the job in the first serve.
	resp, err = client.PostForm(second.base+"/cron/hello/run", url.Values{"csrf": {csrf}})
	if err != nil || resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/cron/hello/runs/") {
		t.Fatalf("run now in the second console: %v %v %q", err, resp.Status, resp.Header.Get("Location"))
	}
	resp.Body.Close()
	waitFor(t, "the handed-over run counted by the first serve", 10*time.Second, func() bool {
		return metricValue(getMetrics(t, first.metrics), `scriptrun_cron_runs_total{job="hello",status="succeeded"}`) == 1
	})
	if n := metricValue(getMetrics(t, second.metrics), `scriptrun_cron_runs_total{job="hello",status="succeeded"}`); n > 0 {
		t.Error("the run happened in the second serve")
	}

	// The first stops: the second takes the jobs over.
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the take-over", 10*time.Second, func() bool {
		return metricValue(getMetrics(t, second.metrics), "scriptrun_cron_scheduling") == 1
	})
	if !strings.Contains(second.log.String(), "took over this home's jobs") {
		t.Errorf("the take-over is not logged:\n%s", second.log)
	}
	c.must("cron", "update", "hello", "--schedule", "@every 1s")
	waitFor(t, "a scheduled run in the serve that took over", 10*time.Second, func() bool {
		return metricValue(getMetrics(t, second.metrics), `scriptrun_cron_runs_total{job="hello",status="succeeded"}`) >= 1
	})
	if err := second.stop(); err != nil {
		t.Error(err)
	}
}

func TestServeMetricsAddr(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"9464", "is not HOST:PORT"},
		{":9464", "is not a loopback address"},
		{"0.0.0.0:9464", "is not a loopback address"},
		{"192.0.2.1:9464", "is not a loopback address"},
	} {
		c := newCLI(t)
		code, _, errs := c.run("serve", "--addr", "127.0.0.1:0", "--metrics-addr", tt.addr)
		if code != exitUsage || !strings.Contains(errs, tt.want) {
			t.Errorf("serve --metrics-addr %s: exit %d, stderr %q; want 2 saying %q", tt.addr, code, errs, tt.want)
		}
	}
	c := newCLI(t)
	if code, _, errs := c.run("serve", "--addr", "127.0.0.1:0", "--cron-grace", "0s"); code != exitUsage || !strings.Contains(errs, "--cron-grace") {
		t.Errorf("serve --cron-grace 0s: exit %d, %q", code, errs)
	}
}
