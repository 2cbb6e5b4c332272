package web

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
)

// maxJobForm bounds the job form, which carries a script of up to
// store.MaxScriptBytes: URL-encoded, with the CRLF line ends browsers send,
// a script takes up to three times its size.
const maxJobForm = 4 << 20

// Where a job's script comes from in the form.
const (
	fromKeep  = "keep"  // the captured script stays (edit only)
	fromPaste = "paste" // the source typed or pasted into the form
	fromFile  = "file"  // a file on the machine serve runs on, read now
)

// jobForm is the create and edit form, as shown and as submitted. Like
// `cron add`, it captures the script's source when it is saved: the job
// runs that source, whatever becomes of the file.
type jobForm struct {
	New                               bool
	Name, Schedule, TimeZone, Timeout string
	Overlap, History, Args            string
	MaxMemory                         string
	Enabled                           bool
	From, Source, Path                string
	CheckedSHA                        string            // what Check showed; Save refuses a file that changed since
	Errors                            map[string]string // by field
	Error                             string            // about the whole form
	Preview                           *jobPreview       // after Check
	Current                           *jobView          // the job as stored (edit)
	Overlaps                          []promptOption
	Zones                             []string
	Examples                          []promptOption
	MaxScript                         string
	job                               store.Job // what the form makes
	argsUnchanged                     bool
}

// jobPreview is what Check shows: what would run, and when.
type jobPreview struct {
	SHA, ScriptName, From string
	Bytes                 int
	Next                  []nextRun
	Source                string // a file's source, to review before it is captured
}

// Err returns the error of a field, for the template.
func (f *jobForm) Err(field string) string { return f.Errors[field] }

var overlapOptions = []promptOption{
	{string(store.OverlapSkip), "skip: while a run is still going, a new one is recorded as skipped"},
	{string(store.OverlapQueue), "queue: the new run waits for it (one waits at most)"},
	{string(store.OverlapReplace), "replace: the running one is cancelled and the new one starts"},
}

var scheduleExamples = []promptOption{
	{"*/5 * * * *", "every 5 minutes"},
	{"0 9 * * 1-5", "09:00 on weekdays"},
	{"0 30 9 * * 1-5", "09:30:00 on weekdays (6 fields: seconds first)"},
	{"@hourly", "at the start of every hour"},
	{"@daily", "at midnight"},
	{"@every 10m", "every 10 minutes, at :00, :10, :20…"},
}

// commonZones are offered as the time zone's suggestions, besides those jobs use.
var commonZones = []string{
	"UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Amsterdam", "Europe/Madrid", "Europe/Rome",
	"Europe/Stockholm", "Europe/Warsaw", "Europe/Helsinki", "Europe/Istanbul", "America/New_York", "America/Chicago",
	"America/Denver", "America/Los_Angeles", "America/Toronto", "America/Sao_Paulo", "America/Mexico_City",
	"Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo", "Asia/Seoul",
	"Australia/Sydney", "Australia/Perth", "Pacific/Auckland", "Africa/Johannesburg",
}

// fill adds what the form's selects and hints need.
func (s *Server) fillJobForm(f *jobForm) error {
	f.Overlaps, f.Examples = overlapOptions, scheduleExamples
	f.MaxScript = sizeText(store.MaxScriptBytes)
	f.Zones = slices.Clone(commonZones)
	return s.db.View(func(tx *store.Tx) error {
		jobs, err := tx.Jobs()
		for _, j := range jobs {
			if !slices.Contains(f.Zones, j.TimeZone) {
				f.Zones = append(f.Zones, j.TimeZone)
			}
		}
		_, err = store.DamagedRecords(err) // the form only offers their zones
		return err
	})
}

func (s *Server) cronNew(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := jobForm{
		New: true, TimeZone: "UTC", Timeout: shortDuration(store.DefaultJobTimeout), Overlap: string(store.OverlapSkip),
		History: strconv.Itoa(store.DefaultRunHistory), MaxMemory: memoryField(store.DefaultJobMaxMemory), Enabled: true, From: fromPaste,
		Source: "// Runs with the same API as `scriptrun run`: http, fetch, console, args.\n",
	}
	if err := s.fillJobForm(&f); err != nil {
		return err
	}
	s.render(w, r, sess, http.StatusOK, "cron_form", view{Title: "New cron job", Data: &f})
	return nil
}

func (s *Server) cronEdit(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	var j store.Job
	if err := s.db.View(func(tx *store.Tx) (err error) { j, err = tx.Job(name); return err }); err != nil {
		return recordError("job", name, err)
	}
	cur := viewJob(j, s.now())
	f := jobForm{
		Name: j.Name, Schedule: j.Schedule, TimeZone: j.TimeZone, Timeout: shortDuration(j.Timeout), Overlap: string(j.Overlap),
		History: strconv.Itoa(j.KeepRuns()), MaxMemory: memoryField(j.MemoryLimit()), Args: argLines(j.Args), Enabled: j.Enabled,
		From: fromKeep, Source: j.Script, Path: j.ScriptPath, Current: &cur,
	}
	if err := s.fillJobForm(&f); err != nil {
		return err
	}
	s.render(w, r, sess, http.StatusOK, "cron_form", view{Title: "Edit cron job " + name, Data: &f})
	return nil
}

// argLines shows a job's arguments one per line.
func argLines(args []string) string { return strings.Join(args, "\n") }

// normalizeText turns the CRLF line ends browsers send into LF, so a pasted
// script has the SHA-256 of the same text in a file.
func normalizeText(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// readJobForm reads the submitted fields.
func readJobForm(r *http.Request, f *jobForm) {
	pf := r.PostForm
	if f.New {
		f.Name = strings.TrimSpace(pf.Get("name"))
	}
	f.Schedule = strings.TrimSpace(pf.Get("schedule"))
	f.TimeZone = strings.TrimSpace(pf.Get("tz"))
	f.Timeout = strings.TrimSpace(pf.Get("timeout"))
	f.Overlap = pf.Get("overlap")
	f.History = strings.TrimSpace(pf.Get("history"))
	f.MaxMemory = strings.TrimSpace(pf.Get("max_memory"))
	f.Args = normalizeText(pf.Get("args"))
	f.Enabled = pf.Get("enabled") == "on"
	f.From = pf.Get("script_from")
	f.Source = normalizeText(pf.Get("source"))
	f.Path = strings.TrimSpace(pf.Get("path"))
	f.CheckedSHA = pf.Get("checked_sha")
}

// formFields are the form's names of a job's fields (store.FieldError's
// keys); the script's problems go to the source or the path, whichever the
// script came from.
var formFields = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{
		"name": "name", "schedule": "schedule", "timeZone": "tz", "timeout": "timeout", "overlap": "overlap",
		"history": "history", "args": "args", "maxMemory": "max_memory", "script": "source", "scriptName": "source",
	}
}}

// check builds the job the form describes onto base (the stored job when
// editing) and checks it with cron.CheckJob, so that the form shows all
// that is wrong at once, each next to its field, in the words of the rules
// themselves.
func (f *jobForm) check(base store.Job, now time.Time) {
	f.Errors = map[string]string{}
	j := base
	if f.New {
		j = store.Job{Name: f.Name}
	}
	j.Schedule, j.TimeZone, j.Enabled = f.Schedule, f.TimeZone, f.Enabled
	j.Overlap = store.Overlap(f.Overlap)
	var parsed store.FieldErrors // fields that are not even of their type
	collect := func(err error) { parsed = append(parsed, store.AsFieldErrors(err)...) }
	var err error
	j.Timeout, err = store.ParseJobTimeout(f.Timeout)
	collect(err)
	j.History, err = store.ParseJobHistory(f.History)
	collect(err)
	j.MaxMemory = 0 // empty: the default
	if f.MaxMemory != "" {
		j.MaxMemory, err = store.ParseJobMaxMemory(f.MaxMemory)
		collect(err)
	}
	// Arguments the form cannot show (empty, or with a line break) survive
	// an edit that does not touch them.
	if !f.New && f.Args == argLines(base.Args) {
		f.argsUnchanged = true
	} else {
		j.Args = nil
		for line := range strings.SplitSeq(f.Args, "\n") {
			if line != "" {
				j.Args = append(j.Args, line)
			}
		}
	}
	collect(f.takeScript(&j, base))
	f.job = j
	// A field already marked (a contradictory choice of script) keeps that
	// message; every other field gets the rules' first word on it.
	for _, fe := range store.AsFieldErrors(store.JoinJobFieldErrors(parsed, cron.CheckJob(j))) {
		field := formFields.Get()[fe.Field]
		if field == "source" && f.From == fromFile {
			field = "path"
		}
		if f.Errors[field] == "" {
			f.Errors[field] = upperFirst(fe.Error()) + "."
		}
	}
	if len(f.Errors) > 0 {
		return
	}
	f.Preview = &jobPreview{SHA: store.ScriptDigest(j.Script), ScriptName: j.ScriptName, Bytes: len(j.Script), From: "the source in the form"}
	switch f.From {
	case fromFile:
		f.Preview.From, f.Preview.Source = j.ScriptPath, j.Script
	case fromKeep:
		f.Preview.From = "the captured script, unchanged"
	}
	if sched, err := cron.ParseSchedule(j.Schedule, j.TimeZone); err == nil && j.Enabled {
		f.Preview.Next = nextRuns(sched, now, 3)
	}
}

// takeScript puts the script the form says into j, as `cron add` captures
// it. A choice that contradicts the form is marked in f.Errors; a file that
// cannot be captured is returned as a field error.
func (f *jobForm) takeScript(j *store.Job, base store.Job) error {
	switch f.From {
	case fromKeep:
		switch {
		case f.New:
			f.Errors["source"] = "A new job needs a script: paste it, or give a file."
		case f.Source != normalizeText(base.Script):
			f.Errors["source"] = "You changed the source but chose to keep the captured script: choose “Use the source below” to save your changes, or undo them."
		case f.Path != base.ScriptPath:
			f.Errors["path"] = "You changed the file but chose to keep the captured script: choose “Capture the file” to read it, or undo the change."
		}
		return nil // j holds base's script
	case fromPaste:
		j.Script, j.ScriptPath = f.Source, ""
		if f.New || j.ScriptName == "" {
			j.ScriptName = f.Name + ".js"
		}
		return nil
	case fromFile:
		src, path, err := cron.CaptureScript(f.Path)
		if err != nil {
			return err
		}
		j.Script, j.ScriptPath, j.ScriptName = src, path, filepath.Base(path)
		return nil
	}
	f.Errors["source"] = "Choose where the script comes from."
	return nil
}

// cronSave handles Check and Save of the create and edit forms.
func (s *Server) cronSave(w http.ResponseWriter, r *http.Request, sess *session, f *jobForm) error {
	title := "New cron job"
	if !f.New {
		title = "Edit cron job " + f.Name
	}
	var base store.Job
	if !f.New {
		if err := s.db.View(func(tx *store.Tx) (err error) { base, err = tx.Job(f.Name); return err }); err != nil {
			return recordError("job", f.Name, err)
		}
		cur := viewJob(base, s.now())
		f.Current = &cur
	}
	f.check(base, s.now())
	saving := r.PostForm.Get("action") != "check"
	// A file is captured as it is at Save: if that is not what Check showed,
	// show what it is now and let the admin save that knowingly.
	changed := saving && f.Preview != nil && f.From == fromFile && f.CheckedSHA != "" && f.CheckedSHA != f.Preview.SHA
	if changed {
		f.Error = fmt.Sprintf("%s changed since you checked it (SHA-256 %s…, now %s…). Review what it holds now below, then save again.",
			f.job.ScriptPath, shortSHA(f.CheckedSHA), shortSHA(f.Preview.SHA))
	}
	if f.Preview != nil {
		f.CheckedSHA = f.Preview.SHA
	}
	if !saving || f.Error != "" || len(f.Errors) > 0 {
		status := http.StatusOK
		if f.Error != "" || len(f.Errors) > 0 {
			status = http.StatusUnprocessableEntity
		}
		if !changed && status != http.StatusOK {
			f.Preview = nil
			if f.Error == "" {
				f.Error = "The job was not saved: correct the fields marked below."
			}
		}
		if err := s.fillJobForm(f); err != nil {
			return err
		}
		s.render(w, r, sess, status, "cron_form", view{Title: title, Data: f})
		return nil
	}

	j := f.job
	err := s.db.Update(func(tx *store.Tx) error {
		if f.New {
			return tx.CreateJob(j)
		}
		cur, err := tx.Job(f.Name)
		if err != nil {
			return err
		}
		if f.From == fromKeep {
			// Keep what is captured now, even if the command line changed it
			// since the form was shown.
			j.Script, j.ScriptName, j.ScriptPath = cur.Script, cur.ScriptName, cur.ScriptPath
		}
		if f.argsUnchanged {
			j.Args = cur.Args
		}
		return tx.PutJob(j)
	})
	if errors.Is(err, store.ErrNotFound) && !f.New {
		return recordError("job", f.Name, err)
	}
	if err != nil {
		f.Error = formError("job", f.Name, err)
		f.Preview = nil
		if ferr := s.fillJobForm(f); ferr != nil {
			return ferr
		}
		s.render(w, r, sess, http.StatusUnprocessableEntity, "cron_form", view{Title: title, Data: f})
		return nil
	}
	s.sync(r.Context())
	verb := "created"
	if !f.New {
		verb = "updated"
	}
	from := "form"
	if f.From == fromFile {
		from = j.ScriptPath
	} else if f.From == fromKeep {
		from = "unchanged"
	}
	s.log.Info("cron job "+verb, "job", j.Name, "schedule", j.Schedule, "zone", j.TimeZone, "enabled", j.Enabled,
		"script_sha256", store.ScriptDigest(j.Script), "script_from", from, "session", sess.logID(), "remote", clientAddr(r))
	msg := fmt.Sprintf("Job %s %s.", j.Name, verb)
	switch st := s.schedulerStatus(); {
	case !j.Enabled:
		msg += " It is disabled: enable it to run it on its schedule."
	case st == cron.Here:
		if sched, err := cron.ParseSchedule(j.Schedule, j.TimeZone); err == nil {
			msg += " Next run " + relative(sched.Next(s.now()), s.now()) + "."
		}
	case st == cron.Elsewhere:
		msg += " The serve that runs the jobs applies it within a second or two."
	}
	s.sessions.addFlash(sess, "ok", msg)
	return seeOther(w, r, "/cron/"+j.Name)
}

func (s *Server) cronCreate(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := jobForm{New: true}
	readJobForm(r, &f)
	return s.cronSave(w, r, sess, &f)
}

func (s *Server) cronUpdate(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := jobForm{Name: r.PathValue("name")}
	readJobForm(r, &f)
	return s.cronSave(w, r, sess, &f)
}

// memoryField is a memory cap as the form shows it: exact, and short when
// it is a whole number of MiB or GiB.
func memoryField(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10)
}
