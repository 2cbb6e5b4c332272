package cron

import (
	"sync"
	"time"

	"github.com/scriptrun/scriptrun/internal/promtext"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// Bucket bounds (seconds) of the histograms.
var (
	durationBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}
	delayBuckets    = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5}
)

// Metrics counts what the scheduler and the token manager do, for
// Prometheus. It is a promtext.Collector of:
//
//	scriptrun_cron_runs_total{job,status}            counter
//	scriptrun_cron_run_duration_seconds{job}         histogram
//	scriptrun_cron_schedule_delay_seconds            histogram (start minus due time)
//	scriptrun_cron_missed_runs_total{job}            counter
//	scriptrun_cron_jobs, scriptrun_cron_jobs_enabled, scriptrun_cron_runs_active  gauges (once a Scheduler uses it)
//	scriptrun_token_refreshes_total{token,result}    counter (refreshes and client-credentials fetches, see TokenEvent)
//	scriptrun_token_keepalive_refreshes_total{token,result}  counter
//
// One Metrics is shared by a Scheduler (Options.Metrics) and the token
// manager (tokens.Options.OnEvent: TokenEvent); add it to a
// promtext.Registry to serve it. Its methods are safe for concurrent use.
//
//	m := cron.NewMetrics()
//	manager := tokens.New(tokens.Options{DB: db, OnEvent: m.TokenEvent})
//	sched := cron.New(cron.Options{DB: db, Signer: manager, Refresher: manager, Metrics: m})
//	reg := promtext.NewRegistry(m)
type Metrics struct {
	runs      *promtext.CounterVec   // job, status
	durations *promtext.HistogramVec // job
	delay     *promtext.HistogramVec // no labels
	missed    *promtext.CounterVec   // job
	refreshes *promtext.CounterVec   // token, result
	keepAlive *promtext.CounterVec   // token, result

	mu     sync.Mutex // guards gauges
	gauges func() (jobs, enabled, active int)
}

var _ promtext.Collector = (*Metrics)(nil)

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		runs:      promtext.NewCounterVec("scriptrun_cron_runs_total", "Runs of cron jobs by final status.", "job", "status"),
		durations: promtext.NewHistogramVec("scriptrun_cron_run_duration_seconds", "How long runs of cron jobs took.", durationBuckets, "job"),
		delay:     promtext.NewHistogramVec("scriptrun_cron_schedule_delay_seconds", "How long after their due time scheduled runs started.", delayBuckets),
		missed:    promtext.NewCounterVec("scriptrun_cron_missed_runs_total", "Scheduled runs that did not happen because no scheduler was running.", "job"),
		refreshes: promtext.NewCounterVec("scriptrun_token_refreshes_total", "Token refreshes and client-credentials fetches by result.", "token", "result"),
		keepAlive: promtext.NewCounterVec("scriptrun_token_keepalive_refreshes_total", "Refreshes of idle tokens by the keep-alive, by result.", "token", "result"),
	}
}

// Collect writes the current values (promtext.Collector); the job gauges
// are read from the scheduler, when one uses these metrics.
func (m *Metrics) Collect(w *promtext.Writer) {
	for _, c := range []promtext.Collector{m.runs, m.durations, m.delay, m.missed, m.refreshes, m.keepAlive} {
		c.Collect(w)
	}
	m.mu.Lock()
	gauges := m.gauges
	m.mu.Unlock()
	if gauges == nil {
		return
	}
	jobs, enabled, active := gauges()
	for _, g := range []struct {
		name, help string
		v          int
	}{
		{"scriptrun_cron_jobs", "Cron jobs known to the scheduler.", jobs},
		{"scriptrun_cron_jobs_enabled", "Cron jobs that are enabled.", enabled},
		{"scriptrun_cron_runs_active", "Runs queued or running.", active},
	} {
		w.Family(g.name, g.help, promtext.TypeGauge)
		w.Value(g.name, float64(g.v))
	}
}

// setGauges has Collect read the job gauges from f.
func (m *Metrics) setGauges(f func() (jobs, enabled, active int)) {
	m.mu.Lock()
	m.gauges = f
	m.mu.Unlock()
}

// run records a finished (or skipped) run.
func (m *Metrics) run(r store.Run) {
	m.runs.With(r.Job, string(r.Status)).Inc()
	if r.Missed > 0 {
		m.missed.With(r.Job).Add(float64(r.Missed))
	}
	if d := r.Duration(); d > 0 || !r.Started.IsZero() {
		m.durations.With(r.Job).Observe(d.Seconds())
	}
}

// started records how late a scheduled run started.
func (m *Metrics) started(delay time.Duration) {
	m.delay.With().Observe(max(delay, 0).Seconds())
}

// TokenEvent counts a token manager's event (tokens.Options.OnEvent): each
// refresh and client-credentials fetch in scriptrun_token_refreshes_total,
// by result ("ok"; "failed" for a failure that may pass and for a token
// that needs authorizing again). Events of the manager of another process
// (a cron run's) are counted the same way once they reach this one. Other
// kinds are not counted.
func (m *Metrics) TokenEvent(ev tokens.Event) {
	switch ev.Kind {
	case tokens.EventRefreshed, tokens.EventFetched:
		m.refreshes.With(ev.Token, result(true)).Inc()
	case tokens.EventRefreshFailed, tokens.EventFetchFailed, tokens.EventReauthRequired:
		m.refreshes.With(ev.Token, result(false)).Inc()
	}
}

func (m *Metrics) keepAliveRefresh(token string, ok bool) {
	m.keepAlive.With(token, result(ok)).Inc()
}

func result(ok bool) string {
	if ok {
		return "ok"
	}
	return "failed"
}
