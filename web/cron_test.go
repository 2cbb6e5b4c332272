package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/store"
)

// fakeScheduler is a Scheduler whose answers a test sets: another serve's.
type fakeScheduler struct {
	mu       sync.Mutex
	status   cron.Where
	RunNowFn func(ctx context.Context, name string) (store.Run, error)
	ran      []string
	syncs    int
}

var (
	_ Scheduler = (*cron.Host)(nil)
	_ Scheduler = (*fakeScheduler)(nil)
)

func (f *fakeScheduler) Status() cron.Where { return f.status }
func (f *fakeScheduler) RunNow(ctx context.Context, name string) (store.Run, error) {
	f.mu.Lock()
	f.ran = append(f.ran, name)
	f.mu.Unlock()
	return f.RunNowFn(ctx, name)
}
func (f *fakeScheduler) CancelRun(uint64, string) bool { return false }
func (f *fakeScheduler) Sync(context.Context) error {
	f.mu.Lock()
	f.syncs++
	f.mu.Unlock()
	return nil
}

// newCronEnv is a console whose cron pages act through a real scheduler,
// started on the test's home (this serve runs the jobs).
func newCronEnv(t *testing.T) (*env, *cron.Scheduler) {
	t.Helper()
	var sched *cron.Scheduler
	var host *cron.Host
	e := newEnv(t, envOpts{modify: func(o *Options) {
		sched = cron.New(cron.Options{DB: o.DB.(*store.DB), GracePeriod: 200 * time.Millisecond, RunBy: "web test"})
		host = cron.NewHost(sched, cron.HostOptions{})
		o.Cron = host
	}})
	if !host.Start(context.Background()) {
		t.Fatal("the scheduler did not start")
	}
	t.Cleanup(func() { host.Stop(context.Background()) })
	return e, sched
}

func (e *env) job(name string) (store.Job, error) {
	var j store.Job
	err := e.db.View(func(tx *store.Tx) (err error) { j, err = tx.Job(name); return err })
	return j, err
}

func (e *env) addJob(j store.Job) {
	e.t.Helper()
	if j.Timeout == 0 {
		j.Timeout = time.Minute
	}
	if j.ScriptName == "" {
		j.ScriptName = j.Name + ".js"
	}
	if err := e.db.Update(func(tx *store.Tx) error { return tx.CreateJob(j) }); err != nil {
		e.t.Fatal(err)
	}
}

// jobSnapshot is every job and run, to show that a refused request changed nothing.
func (e *env) jobSnapshot() string {
	e.t.Helper()
	var out []byte
	if err := e.db.View(func(tx *store.Tx) error {
		jobs, err := tx.Jobs()
		if err != nil {
			return err
		}
		all := []any{jobs}
		for _, j := range jobs {
			runs, err := tx.Runs(j.Name, 0)
			if err != nil {
				return err
			}
			all = append(all, runs)
		}
		out, err = json.Marshal(all)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return string(out)
}

// jobForm is a complete job form with the browser's CSRF token; kv override.
func (b *browser) jobForm(kv ...string) url.Values {
	f := b.form("name", "sync", "schedule", "*/5 * * * *", "tz", "Europe/Berlin", "timeout", "2m", "overlap", "queue",
		"history", "20", "args", "--since\r\n1h\r\n", "enabled", "on", "script_from", "paste",
		"source", "console.log('sync', args.join(' '));\r\n", "action", "save")
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

var shaRE = regexp.MustCompile(`[0-9a-f]{64}`)

func TestCronJobPages(t *testing.T) {
	e, _ := newCronEnv(t)
	b := e.signedIn()
	mustContain(t, "empty list", b.get("/cron"), "Cron jobs", "No cron jobs yet", "scriptrun cron add")
	r := b.get("/cron/-/new")
	mustContain(t, "new job form", r, "New cron job", "*/5 * * * *", "every 5 minutes", "@every 10m", "Time zone", "skip: while a run",
		"Paste the source", "Capture a file", "Check without saving")
	if !strings.Contains(r.body, `<option value="Europe/Berlin">`) {
		t.Error("the time zone field suggests no zones")
	}

	// Check: the SHA-256 of what would run and the next runs; nothing stored.
	src := "console.log('sync', args.join(' '));\n"
	r = b.post("/cron/-/new", b.jobForm("action", "check"))
	if r.status != http.StatusOK {
		t.Fatalf("check: %d\n%s", r.status, text(r.body))
	}
	mustContain(t, "check", r, "Checked: nothing is saved yet", store.ScriptDigest(src), "Next runs:", "CET")
	if !strings.Contains(r.body, `name="checked_sha" value="`+store.ScriptDigest(src)+`"`) {
		t.Error("check does not carry the checked SHA-256 to the save")
	}
	if _, err := e.job("sync"); err == nil {
		t.Fatal("Check stored the job")
	}

	r = b.post("/cron/-/new", b.jobForm())
	if r.status != http.StatusSeeOther || r.loc != "/cron/sync" {
		t.Fatalf("create: %d to %q\n%s", r.status, r.loc, text(r.body))
	}
	j, err := e.job("sync")
	if err != nil {
		t.Fatal(err)
	}
	// The pasted source is stored as the text it is (LF), as a file would be.
	if j.Script != src || j.ScriptSHA256 != store.ScriptDigest(src) || j.ScriptName != "sync.js" || j.ScriptPath != "" ||
		j.TimeZone != "Europe/Berlin" || j.Timeout != 2*time.Minute || j.Overlap != store.OverlapQueue || j.History != 20 ||
		strings.Join(j.Args, "|") != "--since|1h" || !j.Enabled {
		t.Fatalf("stored job %+v", j)
	}
	page := b.follow(r)
	mustContain(t, "job page", page, "Job sync created", "Next run in", "*/5 * * * *", "Europe/Berlin", j.ScriptSHA256,
		"pasted in the console", "--since", "1h", "the last 20 runs are kept", "2 min", "2 GiB", "No runs yet", "Run now", "Disable")
	if !strings.Contains(page.body, "console.log(&#39;sync&#39;, args.join(&#39; &#39;));") {
		t.Error("the job page does not show the captured source")
	}
	list := b.get("/cron")
	mustContain(t, "list", list, "sync", "sync.js · "+j.ScriptSHA256[:12], "*/5 * * * *", "Europe/Berlin", "none yet", "yes", "Run now")
	if !regexp.MustCompile(`<td data-label="Next run"><time datetime="[^"]+" title="[^"]+">in \d+ min</time>`).MatchString(list.body) {
		t.Error("the list does not show the next run")
	}

	// Edit: the form shows the job; keeping the script keeps it.
	r = b.get("/cron/sync/edit")
	mustContain(t, "edit form", r, "Edit cron job sync", "Keep the captured script", j.ScriptSHA256[:12], "Use the source below")
	if !strings.Contains(r.body, `value="keep" id="from-keep" checked`) {
		t.Error("the edit form does not keep the script by default")
	}
	// The browser sends back what the form showed, line ends as CRLF.
	if !strings.Contains(r.body, `name="max_memory" value="2GiB"`) {
		t.Error("the edit form does not show the job's memory limit")
	}
	edit := b.form("schedule", "@every 10m", "tz", "UTC", "timeout", "30s", "overlap", "skip", "history", "5", "max_memory", "512MiB",
		"args", "--since\r\n1h", "enabled", "on", "script_from", "keep", "source", strings.ReplaceAll(src, "\n", "\r\n"), "path", "", "action", "save")
	if r := b.post("/cron/sync/edit", edit); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.status, text(r.body))
	}
	j2, _ := e.job("sync")
	if j2.Schedule != "@every 10m" || j2.TimeZone != "UTC" || j2.Timeout != 30*time.Second || j2.History != 5 || j2.Overlap != store.OverlapSkip || j2.MaxMemory != 512<<20 ||
		j2.ScriptSHA256 != j.ScriptSHA256 || !j2.Created.Equal(j.Created) {
		t.Errorf("after edit: %+v", j2)
	}
	// A new source: a new SHA-256.
	edit.Set("script_from", "paste")
	edit.Set("source", "console.log('v2')")
	b.post("/cron/sync/edit", edit)
	if j3, _ := e.job("sync"); j3.Script != "console.log('v2')" || j3.ScriptName != "sync.js" {
		t.Errorf("after pasting a new source: %q (%s)", j3.Script, j3.ScriptName)
	}

	// Disable and enable.
	r = b.post("/cron/sync/disable", b.form())
	mustContain(t, "disable", b.follow(r), "Job sync disabled", "none while disabled", "Enable")
	if j, _ := e.job("sync"); j.Enabled {
		t.Error("disable left the job enabled")
	}
	mustContain(t, "list of a disabled job", b.get("/cron"), "disabled")
	r = b.post("/cron/sync/enable", b.form())
	mustContain(t, "enable", b.follow(r), "Job sync enabled. Next run in")
	if j, _ := e.job("sync"); !j.Enabled {
		t.Error("enable left the job disabled")
	}

	// Delete.
	mustContain(t, "delete confirmation", b.get("/cron/sync/delete"), "Delete cron job sync?", "0 kept runs", "cannot be undone")
	r = b.post("/cron/sync/delete", b.form())
	mustContain(t, "after delete", b.follow(r), "Job sync deleted", "No cron jobs yet")
	if _, err := e.job("sync"); err == nil {
		t.Error("the job survived its deletion")
	}
	for _, want := range []string{"cron job created", "cron job updated", "cron job disabled", "cron job enabled", "cron job deleted"} {
		if !strings.Contains(e.log.String(), want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

// Arguments the form cannot show (empty, or with a line break) survive an
// edit that leaves the arguments field alone.
func TestCronEditKeepsArgumentsItCannotShow(t *testing.T) {
	e, _ := newCronEnv(t)
	e.addJob(store.Job{Name: "j", Schedule: "@hourly", Script: "1", Enabled: true, Args: []string{"a", "", "two\nlines"}})
	b := e.signedIn()
	r := b.get("/cron/j/edit")
	m := regexp.MustCompile(`(?s)<textarea id="args"[^>]*>\n(.*?)</textarea>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no args field")
	}
	shown := strings.ReplaceAll(m[1], "\n", "\r\n")
	f := b.form("schedule", "@daily", "tz", "UTC", "timeout", "1m", "overlap", "skip", "history", "100", "args", shown,
		"enabled", "on", "script_from", "keep", "source", "1", "action", "save")
	if r := b.post("/cron/j/edit", f); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", r.status, text(r.body))
	}
	if j, _ := e.job("j"); len(j.Args) != 3 || j.Args[2] != "two\nlines" || j.Schedule != "@daily" {
		t.Errorf("args after an edit that left them alone: %q", j.Args)
	}
	f.Set("args", "x\r\n\r\ny")
	b.post("/cron/j/edit", f)
	if j, _ := e.job("j"); strings.Join(j.Args, "|") != "x|y" {
		t.Errorf("args after changing them: %q", j.Args)
	}
}

func TestCronFormRefusals(t *testing.T) {
	e, _ := newCronEnv(t)
	e.addJob(store.Job{Name: "taken", Schedule: "@hourly", Script: "console.log(1)", Enabled: true})
	b := e.signedIn()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.js")
	os.WriteFile(big, []byte("//"+strings.Repeat("x", store.MaxScriptBytes)), 0o600)
	notJS := filepath.Join(dir, "secret.key")
	os.WriteFile(notJS, []byte("k"), 0o600)
	link := filepath.Join(dir, "link.js")
	os.Symlink(notJS, link)
	os.Mkdir(filepath.Join(dir, "folder.js"), 0o700)
	before := e.jobSnapshot()
	tests := []struct {
		name  string
		kv    []string
		field string // the field marked invalid
		want  []string
	}{
		{"invalid spec", []string{"schedule", "* * * *"}, "schedule", []string{"has 4 fields", `for example "*/5 * * * *"`, "@every 10m"}},
		{"unknown descriptor", []string{"schedule", "@often"}, "schedule", []string{"unknown descriptor @often"}},
		{"invalid field", []string{"schedule", "61 * * * *"}, "schedule", []string{"minute field"}},
		{"unknown zone", []string{"tz", "Berlin"}, "tz", []string{"Time zone: \"Berlin\" is unknown", "Europe/Berlin"}},
		{"Local zone", []string{"tz", "Local"}, "tz", []string{"is not valid"}},
		{"bad timeout", []string{"timeout", "soon"}, "timeout", []string{"Timeout: \"soon\" is not valid", "30s, 5m or 1h30m"}},
		{"zero timeout", []string{"timeout", "0s"}, "timeout", []string{"positive duration"}},
		{"bad history", []string{"history", "0"}, "history", []string{"History: \"0\" is not valid: keep 1 to 10000 runs"}},
		{"tiny memory limit", []string{"max_memory", "1MiB"}, "max_memory", []string{"Memory cap: 1 MiB is not valid", "e.g. 512MiB"}},
		{"memory limit not a size", []string{"max_memory", "lots"}, "max_memory", []string{"is not a size"}},
		{"bad overlap", []string{"overlap", "never"}, "overlap", []string{"Overlap: \"never\" is not valid: use skip", "queue", "replace"}},
		{"bad name", []string{"name", "my job"}, "name", []string{`Job name: "my job" is not valid`}},
		{"empty script", []string{"source", " \r\n"}, "source", []string{"Script: empty"}},
		{"syntax error", []string{"source", "let x = ;"}, "source", []string{"does not compile", "sync.js:1:9: SyntaxError"}},
		{"no source choice", []string{"script_from", ""}, "source", []string{"Choose where the script comes from"}},
		{"keep on a new job", []string{"script_from", "keep"}, "source", []string{"A new job needs a script"}},
		{"relative path", []string{"script_from", "file", "path", "sync.js"}, "path", []string{"is not an absolute path"}},
		{"missing file", []string{"script_from", "file", "path", filepath.Join(dir, "nope.js")}, "path", []string{"there is no file"}},
		{"not a script", []string{"script_from", "file", "path", notJS}, "path", []string{"is not a script", ".js, .mjs, .cjs, .ts and .mts"}},
		{"link to a non-script", []string{"script_from", "file", "path", link}, "path", []string{"leads to", "which is not a script"}},
		{"a folder", []string{"script_from", "file", "path", filepath.Join(dir, "folder.js")}, "path", []string{"is not a regular file"}},
		{"file too large", []string{"script_from", "file", "path", big}, "path", []string{"is larger than 1 MiB"}},
		{"pasted too large", []string{"source", "//" + strings.Repeat("y", store.MaxScriptBytes)}, "source", []string{"a job's script may have at most 1 MiB"}},
		{"too many args", []string{"args", strings.Repeat("a\n", store.MaxJobArgs+1)}, "args", []string{"65 arguments: at most 64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, action := range []string{"check", "save"} {
				r := b.post("/cron/-/new", b.jobForm(append(tt.kv, "action", action)...))
				if r.status != http.StatusUnprocessableEntity {
					t.Fatalf("%s: %d, want 422\n%s", action, r.status, text(r.body))
				}
				mustContain(t, action, r, append(tt.want, "The job was not saved: correct the fields marked below")...)
				if !regexp.MustCompile(`id="`+tt.field+`"[^>]* aria-invalid="true"`).MatchString(r.body) || !strings.Contains(r.body, `id="`+tt.field+`-error"`) {
					t.Errorf("%s: field %s is not marked invalid with its message", action, tt.field)
				}
				if strings.Contains(text(r.body), "Checked: nothing is saved yet") {
					t.Errorf("%s: a refused form shows a preview", action)
				}
			}
		})
	}
	// Several wrong fields at once are all marked.
	r := b.post("/cron/-/new", b.jobForm("schedule", "nope", "tz", "Mars/Base", "timeout", "x", "source", "let = ;"))
	// A refused form keeps what was typed.
	if !strings.Contains(r.body, `value="nope"`) || !strings.Contains(r.body, "let = ;") {
		t.Error("a refused form lost what was typed")
	}
	r = b.post("/cron/-/new", b.jobForm("name", "taken"))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), `A job named "taken" already exists`) {
		t.Errorf("a taken name: %d %s", r.status, text(r.body))
	}
	// Editing the source while keeping the captured script is refused, not lost.
	f := b.form("schedule", "@hourly", "tz", "UTC", "timeout", "1m", "overlap", "skip", "history", "100",
		"enabled", "on", "script_from", "keep", "source", "console.log(2)", "action", "save")
	r = b.post("/cron/taken/edit", f)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "You changed the source but chose to keep the captured script") {
		t.Errorf("keep with an edited source: %d %s", r.status, text(r.body))
	}
	if after := e.jobSnapshot(); after != before {
		t.Errorf("refused forms changed the store:\nbefore %s\nafter  %s", before, after)
	}
}

// A file on the server is captured like `cron add --script`: its source is
// shown on Check, and Save refuses a file that changed since.
func TestCronFileCapture(t *testing.T) {
	e, _ := newCronEnv(t)
	b := e.signedIn()
	file := filepath.Join(t.TempDir(), "report.js")
	v1 := "console.log('<b>v1</b>');\n"
	os.WriteFile(file, []byte(v1), 0o600)

	r := b.post("/cron/-/new", b.jobForm("name", "report", "script_from", "file", "path", file, "action", "check"))
	mustContain(t, "check of a file", r, "Checked", store.ScriptDigest(v1), file, "The source that would be captured", "console.log('<b>v1</b>');")
	if strings.Contains(r.body, "<b>v1</b>") {
		t.Error("the file's source is shown as HTML")
	}
	checked := shaRE.FindString(r.body[strings.Index(r.body, `name="checked_sha"`):])

	// The file changes between Check and Save: refused, showing what it holds now.
	v2 := "console.log('v2');\n"
	os.WriteFile(file, []byte(v2), 0o600)
	r = b.post("/cron/-/new", b.jobForm("name", "report", "script_from", "file", "path", file, "checked_sha", checked))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "changed since you checked it") {
		t.Fatalf("save of a file changed since Check: %d %s", r.status, text(r.body))
	}
	mustContain(t, "save of a file changed since Check", r, "The source that would be captured", "console.log('v2');", store.ScriptDigest(v2))
	if _, err := e.job("report"); err == nil {
		t.Fatal("a file changed since Check was captured")
	}
	if !strings.Contains(r.body, `name="checked_sha" value="`+store.ScriptDigest(v2)+`"`) {
		t.Error("the refusal does not let the admin save what they now saw")
	}
	r = b.post("/cron/-/new", b.jobForm("name", "report", "script_from", "file", "path", file, "checked_sha", store.ScriptDigest(v2)))
	if r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.status, text(r.body))
	}
	j, _ := e.job("report")
	if j.Script != v2 || j.ScriptPath != file || j.ScriptName != "report.js" {
		t.Errorf("captured %q from %q as %q", j.Script, j.ScriptPath, j.ScriptName)
	}
	mustContain(t, "job from a file", b.get("/cron/report"), "captured from", file)
	os.WriteFile(file, []byte("console.log('v3')"), 0o600)
	mustContain(t, "job whose file changed", b.get("/cron/report"), "has changed since it was captured", "still runs the captured version")
	if j, _ := e.job("report"); j.Script != v2 {
		t.Error("a changed file changed the job")
	}
	os.Remove(file)
	mustContain(t, "job whose file is gone", b.get("/cron/report"), "is gone or unreadable")
}

// A script as large as a job may have fits the form, however the browser
// encodes it.
func TestCronFormTakesLargeScripts(t *testing.T) {
	e, _ := newCronEnv(t)
	b := e.signedIn()
	line := "console.log('é ü — \"quoted\" & <tagged>');\r\n" // several bytes per character once URL-encoded
	src := strings.Repeat(line, store.MaxScriptBytes/len(line)-100)
	r := b.post("/cron/-/new", b.jobForm("name", "large", "source", src))
	if r.status != http.StatusSeeOther {
		t.Fatalf("a %d-byte script: %d %.300s", len(src), r.status, text(r.body))
	}
	if j, _ := e.job("large"); j.Script != strings.ReplaceAll(src, "\r\n", "\n") {
		t.Error("the large script was not stored as sent")
	}
}

// waitRun waits until run id is over and returns it.
func waitRun(t *testing.T, sched *cron.Scheduler, id uint64) store.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := sched.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait for run %d: %v", id, err)
	}
	return r
}

var runPathRE = regexp.MustCompile(`^/cron/([^/]+)/runs/(\d+)$`)

func runID(t *testing.T, loc string) uint64 {
	t.Helper()
	m := runPathRE.FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("%q is not a run's page", loc)
	}
	var id uint64
	fmt.Sscan(m[2], &id)
	return id
}

func TestCronRunNowHistoryAndLog(t *testing.T) {
	e, sched := newCronEnv(t)
	e.addJob(store.Job{Name: "hello", Schedule: "@daily", Enabled: true, Args: []string{"a", "b"},
		Script: "console.log('<script>alert(1)</script>', args.join('+'));\nconsole.error('& done');"})
	e.addJob(store.Job{Name: "boom", Schedule: "@daily", Enabled: false, ScriptName: "boom.js",
		Script: "function f() {\n  throw new Error('it <broke>');\n}\nf();"})
	b := e.signedIn()

	start := time.Now()
	r := b.post("/cron/hello/run", b.form())
	if r.status != http.StatusSeeOther {
		t.Fatalf("run now: %d %s", r.status, text(r.body))
	}
	id := runID(t, r.loc)
	page := b.follow(r)
	// A quick run is over by the time Run now answers: its page shows the outcome.
	mustContain(t, "run page right after Run now", page, fmt.Sprintf("Run %d of hello succeeded.", id), "<script>alert(1)</script> a+b")
	run := waitRun(t, sched, id)
	t.Logf("run now to a finished run: %v", time.Since(start).Round(time.Millisecond))
	if run.Status != store.RunSucceeded || run.Trigger != store.TriggerManual || run.RunBy != "web test" {
		t.Fatalf("run %+v", run)
	}
	page = b.get(r.loc)
	if page.header.Get("Refresh") != "" {
		t.Error("a finished run's page still reloads itself")
	}
	mustContain(t, "run page", page, "succeeded", "run now", "Output", "<script>alert(1)</script> a+b", "& done", "web test", run.ScriptSHA256)
	if strings.Contains(page.body, "<script>alert(1)") || !strings.Contains(page.body, "&lt;script&gt;alert(1)&lt;/script&gt; a&#43;b") {
		t.Error("the run's output is not escaped on its page")
	}
	out := b.get(r.loc + "/output")
	if out.header.Get("Content-Type") != "text/plain; charset=utf-8" || !strings.HasPrefix(out.header.Get("Content-Disposition"), "attachment;") ||
		out.body != "<script>alert(1)</script> a+b\n& done\n" {
		t.Errorf("output download: %q %q %q", out.header.Get("Content-Type"), out.header.Get("Content-Disposition"), out.body)
	}

	// A disabled job runs now too; its error and JavaScript stack are shown.
	r = b.post("/cron/boom/run", b.form())
	run = waitRun(t, sched, runID(t, r.loc))
	page = b.get(r.loc)
	mustContain(t, "failed run", page, "failed", "Error", "it <broke>", "boom.js:2")
	mustContain(t, "job history", b.get("/cron/boom"), "History", fmt.Sprintf("#%d", run.ID), "failed", "run now", "it <broke>")
	mustContain(t, "list", b.get("/cron"), "hello", "succeeded", "boom", "failed")

	// A long run: its page reloads itself and offers Cancel.
	e.addJob(store.Job{Name: "spin", Schedule: "@daily", Enabled: true, Script: "console.log('spinning'); while (true) {}"})
	r = b.post("/cron/spin/run", b.form())
	id = runID(t, r.loc)
	page = b.follow(r)
	if page.header.Get("Refresh") == "" {
		t.Error("a running run's page does not reload itself")
	}
	mustContain(t, "running run", page, fmt.Sprintf("Run %d of spin started", id), "running", "this page reloads until the run ends",
		"Cancel run", "The output is kept when the run ends")
	if p := b.get("/cron/spin"); p.header.Get("Refresh") == "" {
		t.Error("the page of a job with a running run does not reload itself")
	}
	// Run now again while it runs: skipped by the overlap policy, and said so.
	r2 := b.post("/cron/spin/run", b.form())
	mustContain(t, "run now while running", b.follow(r2), "was skipped", fmt.Sprintf("run %d was still running", id))
	r = b.post(r.loc+"/cancel", b.form())
	mustContain(t, "cancel", b.follow(r), fmt.Sprintf("Run %d is being cancelled", id))
	if run := waitRun(t, sched, id); run.Status != store.RunCancelled || run.Reason != "cancelled from the console" {
		t.Errorf("cancelled run: %s %q", run.Status, run.Reason)
	}
	mustContain(t, "cancelled run", b.get(r.loc), "cancelled", "cancelled from the console", "spinning")
	r = b.post(r.loc+"/cancel", b.form())
	mustContain(t, "cancel of a finished run", b.follow(r), "had already ended")
	if !strings.Contains(e.log.String(), "cron job run from the console") || !strings.Contains(e.log.String(), "cron run cancelled from the console") {
		t.Error("runs from the console are not logged")
	}

	// The history is bounded on the page, with a way to see it all.
	e.addJob(store.Job{Name: "many", Schedule: "@daily", Script: "1"})
	e.db.Update(func(tx *store.Tx) error {
		for i := range historyPage + 5 {
			now := time.Date(2026, 11, 29, 11, 0, i, 0, time.UTC)
			if _, err := tx.AddRun(store.Run{Job: "many", Trigger: store.TriggerSchedule, Status: store.RunSucceeded,
				Created: now, Started: now, Finished: now.Add(1500 * time.Millisecond)}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	p := b.get("/cron/many")
	if n := strings.Count(p.body, `<tr id="run-`); n != historyPage || !strings.Contains(p.body, "Show all kept runs") {
		t.Errorf("job page shows %d runs, want %d and a link to all", n, historyPage)
	}
	mustContain(t, "run durations", p, "1.5 s")
	if n := strings.Count(b.get("/cron/many?runs=all").body, `<tr id="run-`); n != historyPage+5 {
		t.Errorf("all runs: %d rows", n)
	}
}

func TestCronRefusals(t *testing.T) {
	e, _ := newCronEnv(t)
	e.addJob(store.Job{Name: "j", Schedule: "@daily", Script: "console.log(1)", Enabled: true})
	e.addJob(store.Job{Name: "other", Schedule: "@daily", Script: "console.log(2)"})
	var jRun, otherRun uint64
	e.db.Update(func(tx *store.Tx) error {
		r, _ := tx.AddRun(store.Run{Job: "j", Trigger: store.TriggerManual, Status: store.RunSucceeded}, []byte("out"))
		o, err := tx.AddRun(store.Run{Job: "other", Trigger: store.TriggerManual, Status: store.RunSucceeded}, []byte("other's"))
		jRun, otherRun = r.ID, o.ID
		return err
	})
	run := fmt.Sprintf("/cron/j/runs/%d", jRun)
	gets := []string{"/cron", "/cron/-/new", "/cron/j", "/cron/j/edit", "/cron/j/delete", run, run + "/output"}
	posts := []string{"/cron/-/new", "/cron/j/edit", "/cron/j/delete", "/cron/j/enable", "/cron/j/disable", "/cron/j/run", run + "/cancel"}
	before := e.jobSnapshot()

	anon := e.browser()
	for _, p := range gets {
		if r := anon.get(p); r.status != http.StatusSeeOther || r.loc != "/login?next="+url.QueryEscape(p) {
			t.Errorf("GET %s without a session: %d to %q", p, r.status, r.loc)
		}
	}
	b := e.signedIn()
	valid := b.jobForm("name", "evil")
	for _, p := range posts {
		if r := anon.post(p, valid); r.status != http.StatusForbidden {
			t.Errorf("POST %s without a session: %d, want 403", p, r.status)
		}
		for name, csrf := range map[string]string{"missing": "", "wrong": tamper(valid.Get("csrf")), "another session's": e.signedIn().csrf()} {
			f := url.Values{}
			for k, v := range valid {
				f[k] = v
			}
			f.Del("csrf")
			if csrf != "" {
				f.Set("csrf", csrf)
			}
			if r := b.post(p, f); r.status != http.StatusForbidden {
				t.Errorf("POST %s with a %s CSRF token: %d, want 403", p, name, r.status)
			}
		}
	}
	// Cross-origin, with a valid token.
	b.header.Set("Sec-Fetch-Site", "cross-site")
	if r := b.post("/cron/j/disable", b.form()); r.status != http.StatusForbidden {
		t.Errorf("cross-site POST: %d", r.status)
	}
	b.header.Del("Sec-Fetch-Site")
	if after := e.jobSnapshot(); after != before {
		t.Errorf("refused requests changed the store:\nbefore %s\nafter  %s", before, after)
	}

	// Unknown jobs and runs are 404s in words, for every page and action.
	for _, p := range []string{"/cron/nope", "/cron/nope/edit", "/cron/nope/delete", "/cron/nope/runs/1", "/cron/nope/runs/1/output"} {
		if r := b.get(p); r.status != http.StatusNotFound || !strings.Contains(text(r.body), `There is no job named "nope"`) {
			t.Errorf("GET %s: %d %s", p, r.status, text(r.body))
		}
	}
	for _, p := range []string{"/cron/nope/edit", "/cron/nope/delete", "/cron/nope/enable", "/cron/nope/disable", "/cron/nope/run", "/cron/nope/runs/1/cancel"} {
		if r := b.post(p, b.jobForm()); r.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", p, r.status)
		}
	}
	for _, p := range []string{"/cron/j/runs/999", "/cron/j/runs/abc", "/cron/j/runs/0", fmt.Sprintf("/cron/j/runs/%d", otherRun), fmt.Sprintf("/cron/j/runs/%d/output", otherRun)} {
		if r := b.get(p); r.status != http.StatusNotFound || strings.Contains(r.body, "other's") {
			t.Errorf("GET %s: %d, want 404 without the other job's output", p, r.status)
		}
	}
	if r := b.post(fmt.Sprintf("/cron/j/runs/%d/cancel", otherRun), b.form()); r.status != http.StatusNotFound {
		t.Errorf("cancel another job's run through this job: %d", r.status)
	}
	// A form larger than the job form takes.
	if r := b.post("/cron/-/new", b.jobForm("source", strings.Repeat("x", maxJobForm))); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized job form: %d", r.status)
	}
	// Pages carry the console's security headers and no inline code.
	for _, p := range gets[:6] {
		r := b.get(p)
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " style=") || strings.Contains(r.body, "<style") {
			t.Errorf("%s: inline script or style", p)
		}
	}
}

// When another serve runs the jobs, the pages work from the store, say so,
// and hand Run now to that serve.
func TestCronScheduledElsewhere(t *testing.T) {
	fake := &fakeScheduler{status: cron.Elsewhere, RunNowFn: func(ctx context.Context, name string) (store.Run, error) {
		return store.Run{ID: 7, Job: name, Status: store.RunRunning}, nil
	}}
	e := newEnv(t, envOpts{modify: func(o *Options) { o.Cron = fake }})
	e.addJob(store.Job{Name: "j", Schedule: "@daily", Script: "console.log(1)", Enabled: true})
	e.db.Update(func(tx *store.Tx) error {
		_, err := tx.AddRun(store.Run{Job: "j", Trigger: store.TriggerManual, Status: store.RunRunning, RunBy: "serve (pid 42)",
			Created: e.clock.Now(), Started: e.clock.Now()}, nil)
		return err
	})
	b := e.signedIn()
	for _, p := range []string{"/cron", "/cron/j", "/cron/j/runs/1"} {
		mustContain(t, p, b.get(p), "Another scriptrun serve on this home runs the jobs")
	}
	page := b.get("/cron/j/runs/1")
	mustContain(t, "a run in another serve", page, "running", "serve (pid 42)")
	if strings.Contains(page.body, "Cancel run") {
		t.Error("a run in another serve offers Cancel")
	}
	r := b.post("/cron/j/runs/1/cancel", b.form())
	mustContain(t, "cancel of another serve's run", b.follow(r), "is not running in this serve (it is run by serve (pid 42))")
	r = b.post("/cron/j/run", b.form())
	if r.status != http.StatusSeeOther || r.loc != "/cron/j/runs/7" || len(fake.ran) != 1 {
		t.Errorf("run now through another serve: %d to %q, %v", r.status, r.loc, fake.ran)
	}
	r = b.post("/cron/j/disable", b.form())
	if fake.syncs != 1 {
		t.Errorf("a change was synced %d times", fake.syncs)
	}
	fake.RunNowFn = func(context.Context, string) (store.Run, error) {
		return store.Run{}, fmt.Errorf("the serve that runs this home's jobs did not take the run within 5s")
	}
	r = b.post("/cron/j/run", b.form())
	mustContain(t, "run now unanswered", b.follow(r), "Job j was not run: the serve that runs this home's jobs did not take the run")

	// No scheduler at all: the pages still work, and say that nothing runs.
	e2 := newEnv(t, envOpts{})
	e2.addJob(store.Job{Name: "j", Schedule: "@daily", Script: "console.log(1)", Enabled: true})
	b2 := e2.signedIn()
	page = b2.get("/cron/j")
	mustContain(t, "without a scheduler", page, "runs without a scheduler", "@daily")
	if strings.Contains(page.body, `id="run-now"`) {
		t.Error("Run now offered without a scheduler")
	}
	r = b2.post("/cron/j/run", b2.form())
	mustContain(t, "run now without a scheduler", b2.follow(r), "was not run: no scheduler is running", "scriptrun cron run j")
}

// A job whose schedule no longer parses (written by an older version, or
// by hand) is shown with the reason, not a broken page.
func TestCronUnusableSchedule(t *testing.T) {
	e, _ := newCronEnv(t)
	e.addJob(store.Job{Name: "j", Schedule: "@hourly", Script: "1", Enabled: true})
	// The store checks only that a schedule is not empty; package cron parses it.
	e.db.Update(func(tx *store.Tx) error {
		j, _ := tx.Job("j")
		j.Schedule = "0 0 30 2 *"
		return tx.PutJob(j)
	})
	b := e.signedIn()
	mustContain(t, "list", b.get("/cron"), "invalid schedule")
	mustContain(t, "job page", b.get("/cron/j"), "This job does not run", "never matches a date", "Fix the schedule")
}

func TestDurationText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0 ms", 840 * time.Millisecond: "840 ms", 4200 * time.Millisecond: "4.2 s", 42 * time.Second: "42 s",
		3*time.Minute + 12*time.Second: "3 min 12 s", 5 * time.Minute: "5 min", 64 * time.Minute: "1 h 4 min", 2 * time.Hour: "2 h",
	} {
		if got := durationText(d); got != want {
			t.Errorf("durationText(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{5 * time.Minute: "5m", 90 * time.Second: "1m30s", time.Hour: "1h", 45 * time.Second: "45s", 24 * time.Hour: "24h"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func BenchmarkCronList50(b *testing.B) {
	e := newEnv(b, envOpts{})
	for i := range 50 {
		e.addJob(store.Job{Name: fmt.Sprintf("job-%03d", i), Schedule: "*/5 * * * *", TimeZone: "Europe/Berlin", Script: "console.log(1)", Enabled: true})
	}
	benchGet(b, e, "/cron")
}

func BenchmarkCronJobPage(b *testing.B) {
	e := newEnv(b, envOpts{})
	e.addJob(store.Job{Name: "j", Schedule: "*/5 * * * *", Script: strings.Repeat("console.log(1);\n", 2000), Enabled: true})
	e.db.Update(func(tx *store.Tx) error {
		for range 100 {
			if _, err := tx.AddRun(store.Run{Job: "j", Trigger: store.TriggerSchedule, Status: store.RunFailed, Error: "Error: boom\n    at j.js:1:1"}, []byte("out")); err != nil {
				return err
			}
		}
		return nil
	})
	benchGet(b, e, "/cron/j")
}

func BenchmarkCronRunPage(b *testing.B) {
	e := newEnv(b, envOpts{})
	e.addJob(store.Job{Name: "j", Schedule: "*/5 * * * *", Script: "1", Enabled: true})
	e.db.Update(func(tx *store.Tx) error {
		_, err := tx.AddRun(store.Run{Job: "j", Trigger: store.TriggerSchedule, Status: store.RunSucceeded},
			[]byte(strings.Repeat("a line of output <with> & markup\n", 1<<20/34)))
		return err
	})
	benchGet(b, e, "/cron/j/runs/1")
}

func benchGet(b *testing.B, e *env, path string) {
	_, cookie := e.srv.sessions.create(e.adminSet(), "127.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		req := e.request("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: e.srv.sessionCookie(), Value: cookie})
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d", path, rec.Code)
		}
	}
}

// tamper changes the first character of a token to another one.
func tamper(token string) string {
	c := byte('x')
	if token[0] == c {
		c = 'y'
	}
	return string(c) + token[1:]
}

// A job with several problems has each one shown next to its field, and
// no other field marked.
func TestCronFormReportsEveryProblem(t *testing.T) {
	e, _ := newCronEnv(t)
	b := e.signedIn()
	dir := t.TempDir()
	notJS := filepath.Join(dir, "notes.txt")
	os.WriteFile(notJS, []byte("x"), 0o600)
	allFields := []string{"name", "schedule", "tz", "timeout", "max_memory", "history", "overlap", "args", "source", "path"}
	tests := []struct {
		name   string
		kv     []string
		fields map[string]string // field: what its message says
	}{
		{"schedule, zone, timeout", []string{"schedule", "* * * *", "tz", "Mars/Base", "timeout", "soon"},
			map[string]string{"schedule": "has 4 fields", "tz": `"Mars/Base" is unknown`, "timeout": `"soon" is not valid`}},
		{"name, overlap, source", []string{"name", "my job", "overlap", "often", "source", "let = ;"},
			map[string]string{"name": `"my job" is not valid`, "overlap": `"often" is not valid`, "source": "does not compile"}},
		{"memory, history, file", []string{"max_memory", "1MiB", "history", "0", "script_from", "file", "path", notJS},
			map[string]string{"max_memory": "1 MiB is not valid", "history": `"0" is not valid`, "path": "is not a script"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post("/cron/-/new", b.jobForm(append(tt.kv, "action", "check")...))
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422", r.status)
			}
			for _, field := range allFields {
				msg := regexp.MustCompile(`id="` + field + `-error"[^>]*>([^<]*)<`).FindStringSubmatch(r.body)
				want, marked := tt.fields[field]
				switch {
				case marked && msg == nil:
					t.Errorf("%s is not marked", field)
				case marked && !strings.Contains(html.UnescapeString(msg[1]), want):
					t.Errorf("%s says %q, want %q", field, msg[1], want)
				case !marked && msg != nil:
					t.Errorf("%s is marked: %q", field, msg[1])
				}
			}
		})
	}
}
