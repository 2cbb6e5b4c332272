package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/termtext"
)

// serveAnswerWait is how long `cron run` waits for a running serve to take
// its request before running the job itself.
const serveAnswerWait = 5 * time.Second

func newCronCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "cron",
		Short: "Schedule scripts: jobs run by `scriptrun serve`",
		Long: `Cron jobs are scripts on a schedule, run by ` + "`scriptrun serve`" + ` (changes reach a
running serve within seconds). A job runs the script source captured by
` + "`cron add`" + ` or ` + "`cron update --script`" + `, not the file as it is later: its SHA-256 says
what will run, and ` + "`cron show`" + ` warns when the file has changed since. Captured
scripts cannot require() files of their folder: bundle helpers into one file,
or use import: a TypeScript or module script (.ts, .mts, .mjs, or .js with
import/export) is captured as one bundle of every file it imports (types
stripped, not checked), which ` + "`cron show --source`" + ` prints.

serve runs each run in a process of its own, stopped at the job's --timeout
or when its memory grows past --max-memory (default 2GiB); a run that does
either, or crashes, is recorded and nothing else is affected.

Schedules: 5 fields (minute hour day-of-month month day-of-week), 6 with
seconds first, or @hourly, @daily, @weekly, @monthly, @yearly, @every 10m;
read in --tz (an IANA zone, default UTC).`,
		Args: noArgs,
	}
	c.AddCommand(cronAddCmd(a, false), cronAddCmd(a, true), cronListCmd(a), cronShowCmd(a), cronRmCmd(a),
		cronEnableCmd(a, true), cronEnableCmd(a, false), cronRunCmd(a), cronRunsCmd(a), cronLogCmd(a))
	return c
}

type cronFlags struct {
	schedule, script, timeout, overlap, tz string
	maxMemory, history                     string
	disabled                               bool

	// What parse read from the flags' text.
	src, abs  string // the script
	timeoutD  time.Duration
	memory    int64
	keepRuns  int
	protected []string // the home's own files, which --script may not name
}

func (f *cronFlags) register(c *cobra.Command, update bool) {
	fl := c.Flags()
	fl.StringVar(&f.schedule, "schedule", "", `when to run: "*/5 * * * *", "0 30 9 * * 1-5" (seconds first), @hourly, "@every 10m"`)
	fl.StringVar(&f.script, "script", "", "the script file (.js, .mjs, .cjs, .ts or .mts); its source, with every file it imports, is captured now")
	fl.StringVar(&f.timeout, "timeout", store.DefaultJobTimeout.String(), "stop a run after this long")
	fl.StringVar(&f.maxMemory, "max-memory", store.FormatBytes(store.DefaultJobMaxMemory), "stop a run whose memory grows past this (scriptrun serve), e.g. 512MiB")
	fl.StringVar(&f.overlap, "overlap", string(store.OverlapSkip), "when due while the last run still runs: skip, queue (one waits) or replace (cancel it)")
	fl.StringVar(&f.tz, "tz", "UTC", "the time zone the schedule is read in (IANA, e.g. Europe/Berlin)")
	fl.StringVar(&f.history, "history", strconv.Itoa(store.DefaultRunHistory), "how many runs to keep")
	if !update {
		fl.BoolVar(&f.disabled, "disabled", false, "add it disabled (enable it with `cron enable NAME`)")
	}
}

// parse reads the text of the flags that were given, and the script file,
// before any transaction; what cannot be read is returned by field.
func (f *cronFlags) parse(c *cobra.Command) store.FieldErrors {
	set := c.Flags().Changed
	var es store.FieldErrors
	collect := func(err error) { es = append(es, store.AsFieldErrors(err)...) }
	var err error
	if set("timeout") {
		f.timeoutD, err = store.ParseJobTimeout(f.timeout)
		collect(err)
	}
	if set("max-memory") {
		f.memory, err = store.ParseJobMaxMemory(f.maxMemory)
		collect(err)
	}
	if set("history") {
		f.keepRuns, err = store.ParseJobHistory(f.history)
		collect(err)
	}
	if set("script") {
		abs, err := filepath.Abs(f.script)
		if err != nil {
			abs = f.script // ReadJobScript says it is not absolute
		}
		f.src, f.abs, err = cron.CaptureScript(abs, f.protected...)
		collect(err)
	}
	return es
}

// apply sets the flags that were given on j.
func (f *cronFlags) apply(c *cobra.Command, j *store.Job) {
	set := c.Flags().Changed
	if set("schedule") {
		j.Schedule = strings.TrimSpace(f.schedule)
	}
	if set("tz") {
		j.TimeZone = strings.TrimSpace(f.tz)
	}
	if set("timeout") {
		j.Timeout = f.timeoutD
	}
	if set("max-memory") {
		j.MaxMemory = f.memory
	}
	if set("overlap") {
		j.Overlap = store.Overlap(f.overlap)
	}
	if set("history") {
		j.History = f.keepRuns
	}
	if set("script") {
		j.Script, j.ScriptPath, j.ScriptName = f.src, f.abs, filepath.Base(f.abs)
	}
}

// jobFlags are the command line's names of a job's fields
// (store.FieldError's keys).
var jobFlags = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{
		"name": "NAME", "schedule": "--schedule", "timeZone": "--tz", "script": "--script", "scriptName": "--script",
		"args": "ARGS (after --)", "timeout": "--timeout", "overlap": "--overlap", "maxMemory": "--max-memory", "history": "--history",
	}
}}

// jobUsageErr prints every problem of a job, each with its flag (exit 2).
func jobUsageErr(name string, err error) error { return notSavedErr("job", name, jobFlags.Get(), err) }

// notSavedErr prints every problem of a record the store refused (a
// store.FieldErrors), each under the flag that sets its field (exit 2);
// any other error is the store's.
func notSavedErr(kind, name string, flags map[string]string, err error) error {
	fes := store.AsFieldErrors(err)
	if fes == nil {
		return storeErr(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s was not saved:", kind, name)
	for _, fe := range fes {
		fmt.Fprintf(&b, "\n  %s: %s", flags[fe.Field], fe.Message)
	}
	return usageErr("%s", b.String())
}

// localRequire finds require('./x') and require('../x'), which captured
// scripts cannot do.
var localRequire = lazy.Regexp{Expr: `require\s*\(\s*['"]\.{1,2}/`}

func cronAddCmd(a *app, update bool) *cobra.Command {
	var f cronFlags
	c := &cobra.Command{
		Use:   "add NAME --schedule SPEC --script FILE.js [--timeout 5m] [--max-memory 2GiB] [--overlap skip|queue|replace] [--tz ZONE] [--history 100] [--disabled] [-- ARGS...]",
		Short: "Add a job: a script on a schedule (arguments after -- reach the script's args)",
		Args:  cobra.ArbitraryArgs,
	}
	if update {
		c.Use = "update NAME [--schedule SPEC] [--script FILE.js] [--timeout D] [--max-memory SIZE] [--overlap P] [--tz ZONE] [--history N] [-- ARGS...]"
		c.Short = "Change a job (only what is given; --script captures the file again; -- ARGS replaces the arguments)"
	}
	f.register(c, update)
	c.RunE = func(c *cobra.Command, args []string) error {
		dash := c.ArgsLenAtDash()
		named := args
		var scriptArgs []string
		if dash >= 0 {
			named, scriptArgs = args[:dash], args[dash:]
		}
		if len(named) != 1 {
			return usageErr("%s takes the job's NAME (got %d argument(s)); usage: %s", c.CommandPath(), len(named), c.UseLine())
		}
		name := named[0]
		if !update && (!c.Flags().Changed("schedule") || !c.Flags().Changed("script")) {
			return usageErr(`cron add needs --schedule and --script, e.g. scriptrun cron add %s --schedule "*/5 * * * *" --script sync.js --tz Europe/Berlin`, name)
		}
		protected, err := a.storeFiles()
		if err != nil {
			return err
		}
		f.protected = protected
		parsed := f.parse(c)
		given := func(j *store.Job) {
			f.apply(c, j)
			if dash >= 0 {
				j.Args = scriptArgs
			}
		}
		db, _, err := a.open()
		if err != nil {
			return err
		}
		// The job as it will be is checked whole (compiling the script)
		// before the write transaction, which then applies the same flags
		// to the job as it is then.
		j := store.Job{Name: name, TimeZone: "UTC", Timeout: store.DefaultJobTimeout, Overlap: store.OverlapSkip, Enabled: !f.disabled}
		if update {
			if err := db.View(func(tx *store.Tx) (err error) { j, err = tx.Job(name); return err }); err != nil {
				return storeErr(err)
			}
		}
		given(&j)
		if err := store.JoinJobFieldErrors(parsed, cron.CheckJob(j)); err != nil {
			return jobUsageErr(name, err)
		}
		err = db.Update(func(tx *store.Tx) error {
			if !update {
				return tx.CreateJob(j)
			}
			cur, err := tx.Job(name)
			if err != nil {
				return err
			}
			given(&cur)
			j = cur
			return tx.PutJob(cur)
		})
		if store.AsFieldErrors(err) != nil {
			return jobUsageErr(name, err)
		}
		if err != nil {
			return storeErr(err)
		}
		if err := db.View(func(tx *store.Tx) (err error) { j, err = tx.Job(name); return err }); err != nil {
			return storeErr(err)
		}
		verb := "added"
		if update {
			verb = "updated"
		}
		next := ""
		if s, err := cron.ParseSchedule(j.Schedule, j.TimeZone); err == nil && j.Enabled {
			n := s.Next(time.Now())
			next = fmt.Sprintf(", next run %s (%s)", n.In(s.Location()).Format(time.RFC3339), relative(n, time.Now()))
		}
		state := ""
		if !j.Enabled {
			state = " (disabled)"
		}
		fmt.Fprintf(a.stdio.Out, "job %s %s%s: %q in %s%s\nscript %s sha256 %s, captured from %s\n",
			name, verb, state, j.Schedule, j.TimeZone, next, j.ScriptName, j.ScriptSHA256, j.ScriptPath)
		if localRequire.Get().MatchString(j.Script) {
			fmt.Fprintf(a.stdio.Err, "warning: %s seems to require() files of its folder; a job runs its captured source, which cannot: bundle them into the script\n", j.ScriptName)
		}
		if !db.SchedulerRunning() {
			fmt.Fprintln(a.stdio.Err, "note: no `scriptrun serve` is running on this home; jobs run only while one is")
		}
		return nil
	}
	return c
}

// jobView is what list and show print about a job.
type jobView struct {
	Name          string   `json:"name"`
	Enabled       bool     `json:"enabled"`
	Schedule      string   `json:"schedule"`
	TimeZone      string   `json:"timeZone"`
	Next          string   `json:"next,omitempty"`
	NextRuns      []string `json:"nextRuns,omitempty"`
	ScheduleError string   `json:"scheduleError,omitempty"`
	Overlap       string   `json:"overlap"`
	Timeout       string   `json:"timeout"`
	MaxMemory     string   `json:"maxMemory"`
	History       int      `json:"history"`
	Args          []string `json:"args"`
	ScriptName    string   `json:"scriptName"`
	ScriptSHA256  string   `json:"scriptSha256"`
	ScriptPath    string   `json:"scriptPath,omitempty"`
	// ScriptFile compares the file at ScriptPath with the captured source:
	// "unchanged", "changed" or "missing".
	ScriptFile string   `json:"scriptFile"`
	Script     string   `json:"script,omitempty"` // show only
	Created    string   `json:"created"`
	Updated    string   `json:"updated"`
	LastRun    *runView `json:"lastRun,omitempty"`
	// State is "damaged" for a job that cannot be used (list only).
	State string `json:"state,omitempty"`
}

func viewJob(st cron.JobStatus) jobView {
	j := st.Job
	v := jobView{
		Name: j.Name, Enabled: j.Enabled, Schedule: j.Schedule, TimeZone: j.TimeZone, Next: stamp(st.Next),
		ScheduleError: st.ScheduleError, Overlap: string(j.Overlap), Timeout: j.Timeout.String(), MaxMemory: store.FormatBytes(j.MemoryLimit()), History: j.KeepRuns(),
		Args: j.Args, ScriptName: j.ScriptName, ScriptSHA256: j.ScriptSHA256, ScriptPath: j.ScriptPath,
		ScriptFile: string(j.ScriptFile()), Created: stamp(j.Created), Updated: stamp(j.Updated),
	}
	if v.Args == nil {
		v.Args = []string{}
	}
	if st.Last != nil {
		r := viewRun(*st.Last)
		v.LastRun = &r
	}
	return v
}

// runView is what runs and log print about a run.
type runView struct {
	ID           uint64 `json:"id"`
	Job          string `json:"job"`
	Trigger      string `json:"trigger"`
	Status       string `json:"status"`
	Scheduled    string `json:"scheduled,omitempty"`
	Created      string `json:"created"`
	Started      string `json:"started,omitempty"`
	Finished     string `json:"finished,omitempty"`
	Duration     string `json:"duration,omitempty"`
	DurationMs   int64  `json:"durationMs,omitempty"`
	ScriptSHA256 string `json:"scriptSha256,omitempty"`
	Error        string `json:"error,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Missed       int    `json:"missed,omitempty"`
	OutputBytes  int64  `json:"outputBytes"`
	Truncated    bool   `json:"truncated,omitempty"`
	RunBy        string `json:"runBy,omitempty"`
	Output       string `json:"output,omitempty"` // log only
}

func viewRun(r store.Run) runView {
	v := runView{
		ID: r.ID, Job: r.Job, Trigger: string(r.Trigger), Status: string(r.Status), Scheduled: stamp(r.Scheduled),
		Created: stamp(r.Created), Started: stamp(r.Started), Finished: stamp(r.Finished), ScriptSHA256: r.ScriptSHA256,
		Error: r.Error, Reason: r.Reason, Missed: r.Missed, OutputBytes: r.OutputBytes, Truncated: r.Truncated, RunBy: r.RunBy,
	}
	if d := r.Duration(); !r.Finished.IsZero() && !r.Started.IsZero() {
		v.Duration, v.DurationMs = d.Round(time.Millisecond).String(), d.Milliseconds()
	}
	return v
}

// runSummary says in a few words how a run went.
func runSummary(r store.Run, now time.Time) string {
	s := string(r.Status)
	switch {
	case !r.Started.IsZero():
		s += " " + relative(r.Started, now)
	case !r.Created.IsZero():
		s += " " + relative(r.Created, now)
	}
	return s
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func cronListCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "list", Short: "List jobs with their next and last run", Args: noArgs}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		now := time.Now()
		list, err := cron.ListJobs(db, now)
		damaged, err := a.listDamaged(err)
		if err != nil {
			return err
		}
		views := make([]jobView, 0, len(list))
		for _, st := range list {
			views = append(views, viewJob(st))
		}
		if asJSON {
			mergeByName(len(list), func(i int) string { return list[i].Job.Name }, damaged, func(i int) {}, func(d *store.RecordError) {
				views = append(views, jobView{Name: d.Name, State: stateDamaged})
			})
			slices.SortFunc(views, func(x, y jobView) int { return strings.Compare(x.Name, y.Name) })
			return printJSON(a.stdio.Out, views)
		}
		tb := newTable(a.stdio.Out, "NAME", "ENABLED", "SCHEDULE", "ZONE", "NEXT RUN", "LAST RUN", "SCRIPT")
		mergeByName(len(list), func(i int) string { return list[i].Job.Name }, damaged, func(i int) {
			st, v := list[i], views[i]
			next := relative(st.Next, now)
			if v.ScheduleError != "" {
				next = "invalid schedule"
			}
			last := ""
			if st.Last != nil {
				last = fmt.Sprintf("#%d %s", st.Last.ID, runSummary(*st.Last, now))
			}
			script := v.ScriptName + " " + shortSHA(v.ScriptSHA256)
			if v.ScriptFile == "changed" || v.ScriptFile == "missing" {
				script += " (file " + v.ScriptFile + ")"
			}
			tb.row(v.Name, strconv.FormatBool(v.Enabled), v.Schedule, v.TimeZone, next, last, script)
		}, func(d *store.RecordError) {
			tb.row(d.Name, stateDamaged, "", "", "not run until restored or re-created (see the warning)", "", "")
		})
		if err := tb.flush(); err != nil {
			return err
		}
		if len(list) > 0 && !db.SchedulerRunning() {
			fmt.Fprintln(a.stdio.Err, "note: no `scriptrun serve` is running on this home; jobs run only while one is")
		}
		return nil
	}
	return c
}

func cronShowCmd(a *app) *cobra.Command {
	var asJSON, source bool
	c := &cobra.Command{Use: "show NAME [--source]", Short: "Show a job, its next runs, and whether its file changed since it was captured", Args: exactArgs(1, "the job's NAME")}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON (with the captured script)")
	c.Flags().BoolVar(&source, "source", false, "print the captured script that runs")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		now := time.Now()
		list, err := cron.ListJobs(db, now)
		damaged, err := store.DamagedRecords(err)
		if err != nil {
			return storeErr(err)
		}
		for _, d := range damaged {
			if d.Name == args[0] {
				return storeErr(d)
			}
		}
		var st *cron.JobStatus
		for i := range list {
			if list[i].Job.Name == args[0] {
				st = &list[i]
			}
		}
		if st == nil {
			return configErr("job %q %v: list them with `scriptrun cron list`", args[0], store.ErrNotFound)
		}
		if source {
			fmt.Fprint(a.stdio.Out, st.Job.Script)
			return nil
		}
		v := viewJob(*st)
		var loc *time.Location
		if s, err := cron.ParseSchedule(st.Job.Schedule, st.Job.TimeZone); err == nil {
			loc = s.Location()
			for t, i := now, 0; i < 3 && st.Job.Enabled; i++ {
				if t = s.Next(t); t.IsZero() {
					break
				}
				v.NextRuns = append(v.NextRuns, t.In(loc).Format(time.RFC3339))
			}
		}
		if asJSON {
			v.Script = st.Job.Script
			return printJSON(a.stdio.Out, v)
		}
		next := strings.Join(v.NextRuns, ", ")
		if next != "" {
			next += " (" + relative(st.Next, now) + ")"
		}
		last := ""
		if st.Last != nil {
			last = fmt.Sprintf("#%d %s", st.Last.ID, runSummary(*st.Last, now))
		}
		scriptArgs := "(none)"
		if len(st.Job.Args) > 0 {
			quoted := make([]string, len(st.Job.Args))
			for i, arg := range st.Job.Args {
				quoted[i] = strconv.Quote(arg)
			}
			scriptArgs = strings.Join(quoted, " ")
		}
		if err := printFields(a.stdio.Out, [][2]string{
			{"name", v.Name}, {"enabled", strconv.FormatBool(v.Enabled)}, {"schedule", v.Schedule}, {"timeZone", v.TimeZone},
			{"nextRuns", next}, {"scheduleError", v.ScheduleError}, {"overlap", v.Overlap}, {"timeout", v.Timeout}, {"maxMemory", v.MaxMemory},
			{"history", fmt.Sprintf("last %d runs", v.History)}, {"args", scriptArgs},
			{"script", v.ScriptName}, {"sha256", v.ScriptSHA256}, {"capturedFrom", v.ScriptPath},
			{"created", v.Created}, {"updated", v.Updated}, {"lastRun", last},
		}); err != nil {
			return err
		}
		what := v.ScriptPath
		if strings.HasPrefix(st.Job.Script, "// scriptrun bundle of ") {
			// A bundle's state follows every file it was built from.
			what = v.ScriptPath + " or a file it imports"
		}
		switch v.ScriptFile {
		case "changed":
			fmt.Fprint(a.stdio.Out, a.hint(fmt.Sprintf("warning: %s has changed since it was captured; the job still runs the captured version (sha256 %s…). Review the file, then capture it with `scriptrun cron update %s --script %s`\n",
				what, shortSHA(v.ScriptSHA256), v.Name, v.ScriptPath)))
		case "missing":
			fmt.Fprint(a.stdio.Out, a.hint(fmt.Sprintf("note: %s is gone; the job runs its captured copy (see it with `scriptrun cron show %s --source`)\n", what, v.Name)))
		}
		return nil
	}
	return c
}

func cronRmCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "rm NAME", Short: "Remove a job and its run history (a run in progress is cancelled)", Args: exactArgs(1, "the job's NAME")}
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		if err := db.Update(func(tx *store.Tx) error { return tx.DeleteJob(args[0]) }); err != nil {
			return storeErr(err)
		}
		fmt.Fprintf(a.stdio.Out, "job %s removed\n", args[0])
		return nil
	}
	return c
}

func cronEnableCmd(a *app, enable bool) *cobra.Command {
	c := &cobra.Command{Use: "enable NAME", Short: "Enable a job (runs missed while it was disabled are not counted)", Args: exactArgs(1, "the job's NAME")}
	if !enable {
		c.Use, c.Short = "disable NAME", "Disable a job (a run in progress finishes)"
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var j store.Job
		if err := db.Update(func(tx *store.Tx) (err error) { j, err = tx.SetJobEnabled(args[0], enable); return err }); err != nil {
			return storeErr(err)
		}
		if !enable {
			fmt.Fprintf(a.stdio.Out, "job %s disabled\n", j.Name)
			return nil
		}
		fmt.Fprintf(a.stdio.Out, "job %s enabled", j.Name)
		if s, err := cron.ParseSchedule(j.Schedule, j.TimeZone); err == nil {
			n := s.Next(time.Now())
			fmt.Fprintf(a.stdio.Out, "; next run %s (%s)", n.In(s.Location()).Format(time.RFC3339), relative(n, time.Now()))
		}
		fmt.Fprintln(a.stdio.Out)
		return nil
	}
	return c
}

func cronRunCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "run NAME",
		Short: "Run a job now, through serve if it is up (else here), and print its output",
		Long: `Runs the job now, like a scheduled run: its captured script, arguments, timeout
and overlap policy, recorded in its history. When a scriptrun serve is running
on the home the run happens there; otherwise here, in a process of its own
with the job's timeout and memory limit (--max-memory). Exit codes: 0
succeeded, 1 failed, skipped or cancelled, 124 timed out, 2 usage or
configuration error.`,
		Args: exactArgs(1, "the job's NAME"),
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		db, manager, err := a.open()
		if err != nil {
			return err
		}
		name := args[0]
		if err := db.View(func(tx *store.Tx) error { _, err := tx.Job(name); return err }); err != nil {
			return storeErr(err)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// In a process of its own when it runs here, as in serve: the job's
		// memory limit and timeout hold whatever the script does.
		jobs, err := a.newJobProcess(a.logger)
		if err != nil {
			return err
		}
		s := cron.New(cron.Options{DB: db, Signer: manager, Executor: jobs, RunBy: fmt.Sprintf("scriptrun cron run (pid %d)", os.Getpid())})
		host := cron.NewHost(s, cron.HostOptions{AnswerWait: serveAnswerWait, RunAlone: true})
		defer host.Stop(context.Background())
		served := host.Status() == cron.Elsewhere
		r, where, err := host.Run(ctx, name)
		if err != nil {
			return failErr(err)
		}
		switch {
		case where == cron.Elsewhere:
			fmt.Fprintf(a.stdio.Err, "run %d of %s started in serve\n", r.ID, name)
		case served:
			fmt.Fprintf(a.stdio.Err, "note: serve did not answer within %s; running %s here\n", serveAnswerWait, name)
		}
		if id := r.ID; !r.Status.Final() {
			r, err = host.Wait(ctx, id)
			switch {
			case ctx.Err() != nil && where == cron.Elsewhere:
				return failErr(fmt.Errorf("stopped waiting; run %d goes on in serve: see `scriptrun cron log %d`", id, id))
			case ctx.Err() != nil:
				host.CancelRun(id, "interrupted (Ctrl-C in `scriptrun cron run`)")
				r, err = host.Wait(context.Background(), id)
			}
		}
		if err != nil {
			return storeErr(err)
		}
		return a.reportRun(db, r)
	}
	return c
}

// reportRun prints a finished run's output and says how it ended; the exit
// code follows its status.
func (a *app) reportRun(db *store.DB, r store.Run) error {
	var out []byte
	if err := db.View(func(tx *store.Tx) (err error) { out, err = tx.RunOutput(r.ID); return err }); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr(err)
	}
	fmt.Fprint(a.stdio.Out, termtext.Text(string(out)))
	what := fmt.Sprintf("run %d of %s", r.ID, r.Job)
	switch r.Status {
	case store.RunSucceeded:
		fmt.Fprintf(a.stdio.Err, "%s succeeded in %s\n", what, r.Duration().Round(time.Millisecond))
		return nil
	case store.RunTimedOut:
		return &exitError{code: exitTimeout, err: fmt.Errorf("%s %s", what, r.Error)}
	case store.RunFailed:
		return failErr(fmt.Errorf("%s failed: %s", what, r.Error))
	}
	return failErr(fmt.Errorf("%s was %s: %s", what, r.Status, r.Reason))
}

func cronRunsCmd(a *app) *cobra.Command {
	var asJSON bool
	var limit int
	c := &cobra.Command{Use: "runs NAME [--limit 20]", Short: "List a job's runs, newest first", Args: exactArgs(1, "the job's NAME")}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().IntVar(&limit, "limit", 20, "show at most this many (0: all kept)")
	c.RunE = func(c *cobra.Command, args []string) error {
		if limit < 0 {
			return usageErr("--limit %d: give 0 (all) or more", limit)
		}
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var runs []store.Run
		if err := db.View(func(tx *store.Tx) error {
			if _, err := tx.Job(args[0]); err != nil {
				return err
			}
			runs, err = tx.Runs(args[0], limit)
			return err
		}); err != nil {
			return storeErr(err)
		}
		if asJSON {
			views := make([]runView, 0, len(runs))
			for _, r := range runs {
				views = append(views, viewRun(r))
			}
			return printJSON(a.stdio.Out, views)
		}
		now := time.Now()
		tb := newTable(a.stdio.Out, "RUN", "STATUS", "TRIGGER", "DUE", "STARTED", "DURATION", "NOTE")
		for _, r := range runs {
			v := viewRun(r)
			note := r.Error
			if note == "" {
				note = r.Reason
			}
			tb.row(strconv.FormatUint(r.ID, 10), v.Status, v.Trigger, v.Scheduled, relative(r.Started, now), v.Duration, oneLine(note, 70))
		}
		return tb.flush()
	}
	return c
}

func cronLogCmd(a *app) *cobra.Command {
	var asJSON, raw bool
	c := &cobra.Command{Use: "log RUN_ID [--raw]", Short: "Show a run: how it went, its output and its error", Args: exactArgs(1, "the RUN_ID (see `scriptrun cron runs NAME`)")}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&raw, "raw", false, "print only the run's output, byte for byte (control characters and escape sequences included)")
	c.RunE = func(c *cobra.Command, args []string) error {
		id, err := strconv.ParseUint(strings.TrimPrefix(args[0], "#"), 10, 64)
		if err != nil || id == 0 {
			return usageErr("RUN_ID %q is not a run number: see `scriptrun cron runs NAME`", args[0])
		}
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var r store.Run
		var out []byte
		if err := db.View(func(tx *store.Tx) (err error) {
			if r, err = tx.Run(id); err != nil {
				return err
			}
			out, err = tx.RunOutput(id)
			return err
		}); err != nil {
			return storeErr(err)
		}
		v := viewRun(r)
		if asJSON {
			v.Output = string(out)
			return printJSON(a.stdio.Out, v)
		}
		if raw {
			_, err := a.stdio.Out.Write(out)
			return err
		}
		missed := ""
		if r.Missed > 0 {
			missed = strconv.Itoa(r.Missed)
		}
		if err := printFields(a.stdio.Out, [][2]string{
			{"run", strconv.FormatUint(r.ID, 10)}, {"job", r.Job}, {"status", v.Status}, {"trigger", v.Trigger},
			{"due", v.Scheduled}, {"started", v.Started}, {"finished", v.Finished}, {"duration", v.Duration},
			{"sha256", v.ScriptSHA256}, {"runBy", v.RunBy}, {"reason", v.Reason}, {"missed", missed},
		}); err != nil {
			return err
		}
		if len(out) > 0 {
			fmt.Fprintln(a.stdio.Out, "--- output ---")
			fmt.Fprint(a.stdio.Out, termtext.Text(string(out))) // output is the script's; --raw for its bytes
			if out[len(out)-1] != '\n' {
				fmt.Fprintln(a.stdio.Out)
			}
		}
		if r.Error != "" {
			fmt.Fprintln(a.stdio.Out, "--- error ---")
			fmt.Fprintln(a.stdio.Out, termtext.Text(r.Error))
		}
		return nil
	}
	return c
}
