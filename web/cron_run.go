package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/store"
)

// maxShownOutput bounds the output a run's page shows; the rest is in the
// text download. The scheduler keeps at most 1 MiB per run.
const maxShownOutput = 256 << 10

type cronRunData struct {
	Run       runView
	Output    string // at most maxShownOutput, as text: the template escapes it
	Cut       bool   // Output is shorter than what was kept
	KeptBytes int
	JobSHA    string // the job's script now, to tell whether this run ran another
	CanCancel bool
	Notice    *notice
}

// KeptText is the size of the kept output in words.
func (d cronRunData) KeptText() string { return sizeText(int64(d.KeptBytes)) }

// WrittenText is how much the script wrote in words.
func (d cronRunData) WrittenText() string { return sizeText(d.Run.OutputBytes) }

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// readRun reads run id of job name with its output. A run of another job
// is "not found" here: its address names the job.
func (s *Server) readRun(r *http.Request) (store.Run, []byte, store.Job, error) {
	name := r.PathValue("name")
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		return store.Run{}, nil, store.Job{}, &pageError{Status: http.StatusNotFound, Title: "Run not found",
			Msg: fmt.Sprintf("%q is not a run number.", r.PathValue("id"))}
	}
	var run store.Run
	var out []byte
	var job store.Job
	err = s.db.View(func(tx *store.Tx) (err error) {
		if job, err = tx.Job(name); err != nil {
			return err
		}
		if run, err = tx.Run(id); err != nil {
			return err
		}
		if run.Job != name {
			return fmt.Errorf("run %d of job %q %w", id, name, store.ErrNotFound)
		}
		out, err = tx.RunOutput(id)
		return err
	})
	switch {
	case err != nil && job.Name == "":
		return run, nil, job, recordError("job", name, err)
	case errors.Is(err, store.ErrNotFound):
		return run, nil, job, &pageError{Status: http.StatusNotFound, Title: "Run not found",
			Msg: fmt.Sprintf("Job %s has no run %d: only its last %d runs are kept.", name, id, job.KeepRuns())}
	case err != nil:
		return run, nil, job, err
	}
	return run, out, job, nil
}

func (s *Server) cronRunPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	run, out, job, err := s.readRun(r)
	if err != nil {
		return err
	}
	d := cronRunData{Run: viewRun(run), KeptBytes: len(out), JobSHA: job.ScriptSHA256, Notice: s.schedulerNotice()}
	shown := out
	if len(shown) > maxShownOutput {
		shown = shown[:maxShownOutput]
		for i := 0; i < utf8.UTFMax && len(shown) > 0 && !utf8.Valid(shown); i++ {
			shown = shown[:len(shown)-1]
		}
		d.Cut = true
	}
	d.Output = string(shown)
	d.CanCancel = d.Run.Active() && s.schedulerStatus() == cron.Here
	if d.Run.Active() {
		// Follow the run without JavaScript: the browser reloads the page.
		w.Header().Set("Refresh", "2")
	}
	s.render(w, r, sess, http.StatusOK, "cron_run", view{Title: fmt.Sprintf("Run %d of %s", run.ID, run.Job), Data: d})
	return nil
}

// cronRunOutput sends a run's whole kept output as a text file: never a
// page, so nothing in it is read as HTML.
func (s *Server) cronRunOutput(w http.ResponseWriter, r *http.Request, sess *session) error {
	run, out, _, err := s.readRun(r)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-run-%d.txt"`, run.Job, run.ID))
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
	return nil
}

func (s *Server) cronRunCancel(w http.ResponseWriter, r *http.Request, sess *session) error {
	run, _, _, err := s.readRun(r)
	if err != nil {
		return err
	}
	page := fmt.Sprintf("/cron/%s/runs/%d", run.Job, run.ID)
	switch {
	case run.Status.Final():
		s.sessions.addFlash(sess, "warn", fmt.Sprintf("Run %d had already ended (%s).", run.ID, viewRun(run).StatusLabel()))
	case s.cron != nil && s.schedulerStatus() == cron.Here && s.cron.CancelRun(run.ID, "cancelled from the console"):
		s.log.Info("cron run cancelled from the console", "job", run.Job, "run", run.ID, "session", sess.logID(), "remote", clientAddr(r))
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("Run %d is being cancelled.", run.ID))
	default:
		s.sessions.addFlash(sess, "error", fmt.Sprintf("Run %d is not running in this serve (it is run by %s), so it cannot be cancelled from here.", run.ID, run.RunBy))
	}
	return seeOther(w, r, page)
}
