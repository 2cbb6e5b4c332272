package cron

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// Bucket bounds (seconds) of the histograms.
var (
	durationBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}
	delayBuckets    = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5}
)

// Metrics counts what the scheduler and the token manager do, for
// Prometheus. It is a prometheus.Collector of:
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
// manager (tokens.Options.OnEvent: TokenEvent); register it with a
// prometheus.Registerer to serve it. Its methods are safe for concurrent use.
//
//	m := cron.NewMetrics()
//	manager := tokens.New(tokens.Options{DB: db, OnEvent: m.TokenEvent})
//	sched := cron.New(cron.Options{DB: db, Signer: manager, Refresher: manager, Metrics: m})
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(m)
type Metrics struct {
	runs      *prometheus.CounterVec   // job, status
	durations *prometheus.HistogramVec // job
	delay     prometheus.Histogram
	missed    *prometheus.CounterVec // job
	refreshes *prometheus.CounterVec // token, result
	keepAlive *prometheus.CounterVec // token, result

	jobsDesc, enabledDesc, activeDesc *prometheus.Desc

	mu     sync.Mutex // guards gauges
	gauges func() (jobs, enabled, active int)
}

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scriptrun_cron_runs_total", Help: "Runs of cron jobs by final status.",
		}, []string{"job", "status"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scriptrun_cron_run_duration_seconds", Help: "How long runs of cron jobs took.", Buckets: durationBuckets,
		}, []string{"job"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "scriptrun_cron_schedule_delay_seconds", Help: "How long after their due time scheduled runs started.", Buckets: delayBuckets,
		}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scriptrun_cron_missed_runs_total", Help: "Scheduled runs that did not happen because no scheduler was running.",
		}, []string{"job"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scriptrun_token_refreshes_total", Help: "Token refreshes and client-credentials fetches by result.",
		}, []string{"token", "result"}),
		keepAlive: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scriptrun_token_keepalive_refreshes_total", Help: "Refreshes of idle tokens by the keep-alive, by result.",
		}, []string{"token", "result"}),
		jobsDesc:    prometheus.NewDesc("scriptrun_cron_jobs", "Cron jobs known to the scheduler.", nil, nil),
		enabledDesc: prometheus.NewDesc("scriptrun_cron_jobs_enabled", "Cron jobs that are enabled.", nil, nil),
		activeDesc:  prometheus.NewDesc("scriptrun_cron_runs_active", "Runs queued or running.", nil, nil),
	}
}

// collectors are the metrics kept by client_golang itself.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.runs, m.durations, m.delay, m.missed, m.refreshes, m.keepAlive}
}

// Describe sends the descriptions of every metric (prometheus.Collector).
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
	ch <- m.jobsDesc
	ch <- m.enabledDesc
	ch <- m.activeDesc
}

// Collect sends the current values (prometheus.Collector); the job gauges
// are read from the scheduler, when one uses these metrics.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
	m.mu.Lock()
	gauges := m.gauges
	m.mu.Unlock()
	if gauges == nil {
		return
	}
	jobs, enabled, active := gauges()
	ch <- prometheus.MustNewConstMetric(m.jobsDesc, prometheus.GaugeValue, float64(jobs))
	ch <- prometheus.MustNewConstMetric(m.enabledDesc, prometheus.GaugeValue, float64(enabled))
	ch <- prometheus.MustNewConstMetric(m.activeDesc, prometheus.GaugeValue, float64(active))
}

// setGauges has Collect read the job gauges from f.
func (m *Metrics) setGauges(f func() (jobs, enabled, active int)) {
	m.mu.Lock()
	m.gauges = f
	m.mu.Unlock()
}

// run records a finished (or skipped) run.
func (m *Metrics) run(r store.Run) {
	m.runs.WithLabelValues(r.Job, string(r.Status)).Inc()
	if r.Missed > 0 {
		m.missed.WithLabelValues(r.Job).Add(float64(r.Missed))
	}
	if d := r.Duration(); d > 0 || !r.Started.IsZero() {
		m.durations.WithLabelValues(r.Job).Observe(d.Seconds())
	}
}

// started records how late a scheduled run started.
func (m *Metrics) started(delay time.Duration) {
	m.delay.Observe(max(delay, 0).Seconds())
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
		m.refreshes.WithLabelValues(ev.Token, result(true)).Inc()
	case tokens.EventRefreshFailed, tokens.EventFetchFailed, tokens.EventReauthRequired:
		m.refreshes.WithLabelValues(ev.Token, result(false)).Inc()
	}
}

func (m *Metrics) keepAliveRefresh(token string, ok bool) {
	m.keepAlive.WithLabelValues(token, result(ok)).Inc()
}

func result(ok bool) string {
	if ok {
		return "ok"
	}
	return "failed"
}
