package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/store"
)

func TestCronUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeScript(t, dir, "good.js", "console.log(1)")
	bad := writeScript(t, dir, "bad.js", "let x = ;")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"add without schedule", []string{"cron", "add", "j", "--script", good}, []string{"needs --schedule and --script", `--schedule "*/5 * * * *"`}},
		{"add without script", []string{"cron", "add", "j", "--schedule", "@hourly"}, []string{"needs --schedule and --script"}},
		{"bad job name", []string{"cron", "add", "my job", "--schedule", "@hourly", "--script", good}, []string{`NAME: "my job" is not valid`}},
		{"four fields", []string{"cron", "add", "j", "--schedule", "* * * *", "--script", good}, []string{"--schedule", "4 fields", `"*/5 * * * *"`, "@every 10m"}},
		{"sub-second every", []string{"cron", "add", "j", "--schedule", "@every 100ms", "--script", good}, []string{"--schedule", "shorter than one second"}},
		{"unknown zone", []string{"cron", "add", "j", "--schedule", "@hourly", "--tz", "Berlin", "--script", good}, []string{"--tz", "Europe/Berlin"}},
		{"bad overlap", []string{"cron", "add", "j", "--schedule", "@hourly", "--overlap", "never", "--script", good}, []string{"--overlap", "skip", "queue", "replace"}},
		{"bad timeout", []string{"cron", "add", "j", "--schedule", "@hourly", "--timeout", "0s", "--script", good}, []string{`--timeout: "0s" is not valid`, "such as 30s, 5m or 1h30m"}},
		{"tiny memory cap", []string{"cron", "add", "j", "--schedule", "@hourly", "--max-memory", "1MiB", "--script", good}, []string{"--max-memory", "1 MiB is not valid", "e.g. 512MiB"}},
		{"memory cap not a size", []string{"cron", "add", "j", "--schedule", "@hourly", "--max-memory", "lots", "--script", good}, []string{"--max-memory", `"lots" is not a size`}},
		{"bad history", []string{"cron", "add", "j", "--schedule", "@hourly", "--history", "0", "--script", good}, []string{"--history"}},
		{"missing script", []string{"cron", "add", "j", "--schedule", "@hourly", "--script", filepath.Join(dir, "nope.js")}, []string{"--script: there is no file"}},
		{"script does not compile", []string{"cron", "add", "j", "--schedule", "@hourly", "--script", bad}, []string{"--script: does not compile", "bad.js:1:9: SyntaxError"}},
		{"two names", []string{"cron", "add", "a", "b", "--schedule", "@hourly", "--script", good}, []string{"NAME"}},
		{"three problems at once", []string{"cron", "add", "j", "--schedule", "* * * *", "--tz", "Berlin", "--timeout", "soon", "--script", good},
			[]string{"job j was not saved:", "--schedule: \"* * * *\" is not valid", "--tz: \"Berlin\" is unknown", "--timeout: \"soon\" is not valid"}},
		{"not a script file", []string{"cron", "add", "j", "--schedule", "@hourly", "--script", writeScript(t, dir, "notes.txt", "x")}, []string{"--script:", "is not a script", ".js, .mjs, .cjs, .ts and .mts"}},
		{"show unknown", []string{"cron", "show", "nope"}, []string{`job "nope" not found`, "cron list"}},
		{"update unknown", []string{"cron", "update", "nope", "--timeout", "1m"}, []string{`job "nope" not found`}},
		{"rm unknown", []string{"cron", "rm", "nope"}, []string{`job "nope" not found`}},
		{"run unknown", []string{"cron", "run", "nope"}, []string{`job "nope" not found`}},
		{"runs unknown", []string{"cron", "runs", "nope"}, []string{`job "nope" not found`}},
		{"log of a word", []string{"cron", "log", "latest"}, []string{"not a run number"}},
		{"log of a missing run", []string{"cron", "log", "42"}, []string{"run 42 not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			code, out, errs := c.run(tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not say %q", errs, w)
				}
			}
			for _, crash := range []string{"panic", "goroutine ", ".go:"} {
				if strings.Contains(errs, crash) {
					t.Errorf("stderr looks like a Go crash: %s", errs)
				}
			}
		})
	}
}

func TestCronLifecycle(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	src := "console.log('hello', args.join(','))\n"
	file := writeScript(t, dir, "hello.js", src)
	sha := store.ScriptDigest(src)

	code, out, errs := c.run("cron", "add", "hello", "--schedule", "*/5 * * * *", "--script", file, "--tz", "Europe/Berlin", "--overlap", "queue", "--", "x", "y")
	if code != 0 || !strings.Contains(out, "job hello added") || !strings.Contains(out, sha) || !strings.Contains(out, "next run") ||
		!strings.Contains(errs, "no `scriptrun serve` is running") {
		t.Fatalf("cron add: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := c.run("cron", "add", "hello", "--schedule", "@hourly", "--script", file); code != exitUsage || !strings.Contains(errs, "already exists") {
		t.Errorf("second add: exit %d, %q", code, errs)
	}
	out = c.must("cron", "list")
	if !regexp.MustCompile(`hello\s+true\s+\*/5 \* \* \* \*\s+Europe/Berlin\s+in \d+[ms]\s+-\s+hello.js ` + sha[:12]).MatchString(out) {
		t.Errorf("cron list:\n%s", out)
	}
	var list []jobView
	if err := json.Unmarshal([]byte(c.must("cron", "list", "--json")), &list); err != nil || len(list) != 1 {
		t.Fatalf("cron list --json: %v, %v", list, err)
	}
	if v := list[0]; v.ScriptFile != "unchanged" || strings.Join(v.Args, " ") != "x y" || v.Next == "" || v.Overlap != "queue" || v.Script != "" {
		t.Errorf("cron list --json = %+v", v)
	}
	var shown jobView
	if err := json.Unmarshal([]byte(c.must("cron", "show", "hello", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Script != src || len(shown.NextRuns) != 3 || !regexp.MustCompile(`:[0-5]5:00\+0[12]:00$|:[0-5]0:00\+0[12]:00$`).MatchString(shown.NextRuns[0]) {
		t.Errorf("cron show --json: script %q, next runs %v", shown.Script, shown.NextRuns)
	}
	if out := c.must("cron", "show", "hello", "--source"); out != src {
		t.Errorf("cron show --source = %q", out)
	}

	// The file changes: the job keeps the captured source, and says so.
	os.WriteFile(file, []byte("console.log('changed')\n"), 0o600)
	if out := c.must("cron", "show", "hello"); !strings.Contains(out, "has changed since it was captured") || !strings.Contains(out, "cron update hello --script") {
		t.Errorf("cron show after the file changed:\n%s", out)
	}
	if out := c.must("cron", "list"); !strings.Contains(out, "(file changed)") {
		t.Errorf("cron list after the file changed:\n%s", out)
	}
	code, out, errs = c.run("cron", "run", "hello")
	if code != 0 || out != "hello x,y\n" || !strings.Contains(errs, "succeeded") {
		t.Fatalf("cron run: exit %d, stdout %q, stderr %q; want the captured script's output", code, out, errs)
	}
	var runs []runView
	if err := json.Unmarshal([]byte(c.must("cron", "runs", "hello", "--json")), &runs); err != nil || len(runs) != 1 {
		t.Fatalf("cron runs --json: %v %v", runs, err)
	}
	r := runs[0]
	if r.Status != "succeeded" || r.Trigger != "manual" || r.ScriptSHA256 != sha || r.Started == "" || r.Duration == "" || r.OutputBytes != 10 {
		t.Errorf("run = %+v", r)
	}
	if out := c.must("cron", "runs", "hello"); !regexp.MustCompile(`(?m)^` + strconv.FormatUint(r.ID, 10) + `\s+succeeded\s+manual\s+-\s+\d+s ago`).MatchString(out) {
		t.Errorf("cron runs:\n%s", out)
	}
	id := strconv.FormatUint(r.ID, 10)
	if out := c.must("cron", "log", id); !strings.Contains(out, "--- output ---\nhello x,y\n") || !strings.Contains(out, "status:") {
		t.Errorf("cron log:\n%s", out)
	}
	var logged runView
	if err := json.Unmarshal([]byte(c.must("cron", "log", "#"+id, "--json")), &logged); err != nil || logged.Output != "hello x,y\n" {
		t.Errorf("cron log --json = %+v, %v", logged, err)
	}

	// update: capture the new file, replace the arguments.
	out = c.must("cron", "update", "hello", "--script", file, "--", "z")
	newSHA := store.ScriptDigest("console.log('changed')\n")
	if !strings.Contains(out, "job hello updated") || !strings.Contains(out, newSHA) {
		t.Errorf("cron update:\n%s", out)
	}
	if out := c.must("cron", "show", "hello"); strings.Contains(out, "warning") || !strings.Contains(out, `"z"`) || !regexp.MustCompile(`overlap:\s+queue`).MatchString(out) {
		t.Errorf("cron show after update:\n%s", out)
	}
	if shown.MaxMemory != "2 GiB" {
		t.Errorf("default memory cap shown as %q", shown.MaxMemory)
	}
	c.must("cron", "update", "hello", "--timeout", "30s", "--tz", "UTC", "--max-memory", "512MiB")
	if err := json.Unmarshal([]byte(c.must("cron", "show", "hello", "--json")), &shown); err != nil || shown.Timeout != "30s" || shown.TimeZone != "UTC" || shown.Args[0] != "z" || shown.MaxMemory != "512 MiB" {
		t.Errorf("after update of timeout, zone and memory cap: %+v", shown)
	}

	c.must("cron", "disable", "hello")
	var disabled jobView
	if err := json.Unmarshal([]byte(c.must("cron", "show", "hello", "--json")), &disabled); err != nil || disabled.Enabled || disabled.Next != "" || len(disabled.NextRuns) != 0 {
		t.Errorf("disabled job: %+v", disabled)
	}
	if out := c.must("cron", "enable", "hello"); !strings.Contains(out, "next run") {
		t.Errorf("cron enable: %s", out)
	}
	c.must("cron", "rm", "hello")
	if out := c.must("cron", "list"); strings.Contains(out, "hello") {
		t.Errorf("cron list after rm:\n%s", out)
	}
	if code, _, _ := c.run("cron", "log", id); code != exitUsage {
		t.Errorf("log of a removed job's run: exit %d", code)
	}
}

func TestCronRunExitCodes(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	tests := []struct {
		name, src string
		flags     []string
		code      int
		stderr    []string
	}{
		{"throws", "function f() {\n  throw new Error('boom');\n}\nf();", nil, exitScript, []string{"failed: Error: boom", "at f (throws.js:2:9)"}},
		{"times out", "while (true) {}", []string{"--timeout", "300ms"}, exitTimeout, []string{"timed out after 300ms"}},
		{"unknown token", "http.get('https://example.com').apiTokenAuth('nope').send()", nil, exitScript, []string{"TOKEN_NOT_FOUND"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "-")
			file := writeScript(t, dir, name+".js", tt.src)
			c.must(append([]string{"cron", "add", name, "--schedule", "@daily", "--script", file}, tt.flags...)...)
			code, out, errs := c.run("cron", "run", name)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
		})
	}

	// The job runs in "another process": skipped, exit 1.
	file := writeScript(t, dir, "busy.js", "console.log(1)")
	c.must("cron", "add", "busy", "--schedule", "@daily", "--script", file)
	db := openCronHome(t, c.home)
	unlock, err := db.TryLockJob("busy")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if code, _, errs := c.run("cron", "run", "busy"); code != exitScript || !strings.Contains(errs, "skipped") || !strings.Contains(errs, "another process") {
		t.Errorf("cron run of a busy job: exit %d, %q", code, errs)
	}
}

func openCronHome(t *testing.T, home string) *store.DB {
	t.Helper()
	key, err := store.LoadKey(filepath.Join(home, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(home, "scriptrun.db"), key, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// With a scheduler up on the home (as in serve), `cron run` runs the job
// there and prints what it wrote.
func TestCronRunThroughScheduler(t *testing.T) {
	c := newCLI(t)
	file := writeScript(t, t.TempDir(), "hello.js", "console.log('from the scheduler')")
	c.must("cron", "add", "hello", "--schedule", "@daily", "--script", file)
	s := cron.New(cron.Options{DB: openCronHome(t, c.home), PollInterval: 20 * time.Millisecond, RunBy: "serve (test)"})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	code, out, errs := c.run("cron", "run", "hello")
	if code != 0 || out != "from the scheduler\n" || !strings.Contains(errs, "started in serve") {
		t.Fatalf("cron run with a scheduler up: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	var runs []runView
	json.Unmarshal([]byte(c.must("cron", "runs", "hello", "--json")), &runs)
	if len(runs) != 1 || runs[0].RunBy != "serve (test)" {
		t.Errorf("runs = %+v, want one run by the scheduler", runs)
	}
	if _, _, errs := c.run("cron", "list"); strings.Contains(errs, "no `scriptrun serve`") {
		t.Error("cron list says no serve is running while one is")
	}
}
