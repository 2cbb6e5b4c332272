package cron

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// Bucket bounds (seconds) of the histograms.
var (
	durationBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}
	delayBuckets    = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5}
)

// Metrics counts what the scheduler and the token manager do, for
// Prometheus. It is safe for concurrent use. One Metrics is shared by a
// Scheduler (Options.Metrics) and, through TokenLogHandler, the token
// manager's logger; WriteMetrics renders both.
type Metrics struct {
	mu        sync.Mutex
	runs      map[[2]string]uint64 // job, status
	durations map[string]*histogram
	delay     histogram
	missed    map[string]uint64
	refreshes map[[2]string]uint64 // token, result
	keepAlive map[[2]string]uint64 // token, result
	gauges    func() (jobs, enabled, active int)
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

func (h *histogram) observe(bounds []float64, v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, len(bounds))
	}
	if i, _ := slices.BinarySearch(bounds, v); i < len(bounds) {
		h.counts[i]++
	}
	h.sum += v
	h.count++
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		runs:      map[[2]string]uint64{},
		durations: map[string]*histogram{},
		missed:    map[string]uint64{},
		refreshes: map[[2]string]uint64{},
		keepAlive: map[[2]string]uint64{},
	}
}

// run records a finished (or skipped) run.
func (m *Metrics) run(r store.Run) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[[2]string{r.Job, string(r.Status)}]++
	if r.Missed > 0 {
		m.missed[r.Job] += uint64(r.Missed)
	}
	if d := r.Duration(); d > 0 || !r.Started.IsZero() {
		h := m.durations[r.Job]
		if h == nil {
			h = &histogram{}
			m.durations[r.Job] = h
		}
		h.observe(durationBuckets, d.Seconds())
	}
}

// started records how late a scheduled run started.
func (m *Metrics) started(delay time.Duration) {
	m.mu.Lock()
	m.delay.observe(delayBuckets, max(delay, 0).Seconds())
	m.mu.Unlock()
}

func (m *Metrics) tokenRefresh(token string, ok bool) {
	m.mu.Lock()
	m.refreshes[[2]string{token, result(ok)}]++
	m.mu.Unlock()
}

func (m *Metrics) keepAliveRefresh(token string, ok bool) {
	m.mu.Lock()
	m.keepAlive[[2]string{token, result(ok)}]++
	m.mu.Unlock()
}

func result(ok bool) string {
	if ok {
		return "ok"
	}
	return "failed"
}

// WriteMetrics writes the metrics in the Prometheus text exposition format
// (version 0.0.4):
//
//	scriptrun_cron_runs_total{job,status}            counter
//	scriptrun_cron_run_duration_seconds{job}         histogram
//	scriptrun_cron_schedule_delay_seconds            histogram (start minus due time)
//	scriptrun_cron_missed_runs_total{job}            counter
//	scriptrun_cron_jobs, scriptrun_cron_jobs_enabled, scriptrun_cron_runs_active  gauges
//	scriptrun_token_refreshes_total{token,result}    counter (all refreshes, see TokenLogHandler)
//	scriptrun_token_keepalive_refreshes_total{token,result}  counter
func (m *Metrics) WriteMetrics(w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := bufio.NewWriter(w)

	header(b, "scriptrun_cron_runs_total", "counter", "Runs of cron jobs by final status.")
	for _, k := range sortedKeys(m.runs) {
		fmt.Fprintf(b, "scriptrun_cron_runs_total{job=%s,status=%s} %d\n", label(k[0]), label(k[1]), m.runs[k])
	}
	header(b, "scriptrun_cron_run_duration_seconds", "histogram", "How long runs of cron jobs took.")
	jobs := make([]string, 0, len(m.durations))
	for j := range m.durations {
		jobs = append(jobs, j)
	}
	slices.Sort(jobs)
	for _, j := range jobs {
		writeHistogram(b, "scriptrun_cron_run_duration_seconds", "job="+label(j)+",", durationBuckets, m.durations[j])
	}
	header(b, "scriptrun_cron_schedule_delay_seconds", "histogram", "How long after their due time scheduled runs started.")
	writeHistogram(b, "scriptrun_cron_schedule_delay_seconds", "", delayBuckets, &m.delay)
	header(b, "scriptrun_cron_missed_runs_total", "counter", "Scheduled runs that did not happen because no scheduler was running.")
	for _, j := range sortedKeys(m.missed) {
		fmt.Fprintf(b, "scriptrun_cron_missed_runs_total{job=%s} %d\n", label(j), m.missed[j])
	}
	if m.gauges != nil {
		jobs, enabled, active := m.gauges()
		header(b, "scriptrun_cron_jobs", "gauge", "Cron jobs known to the scheduler.")
		fmt.Fprintf(b, "scriptrun_cron_jobs %d\n", jobs)
		header(b, "scriptrun_cron_jobs_enabled", "gauge", "Cron jobs that are enabled.")
		fmt.Fprintf(b, "scriptrun_cron_jobs_enabled %d\n", enabled)
		header(b, "scriptrun_cron_runs_active", "gauge", "Runs queued or running.")
		fmt.Fprintf(b, "scriptrun_cron_runs_active %d\n", active)
	}
	header(b, "scriptrun_token_refreshes_total", "counter", "Token refreshes by result.")
	for _, k := range sortedKeys(m.refreshes) {
		fmt.Fprintf(b, "scriptrun_token_refreshes_total{token=%s,result=%s} %d\n", label(k[0]), label(k[1]), m.refreshes[k])
	}
	header(b, "scriptrun_token_keepalive_refreshes_total", "counter", "Refreshes of idle tokens by the keep-alive, by result.")
	for _, k := range sortedKeys(m.keepAlive) {
		fmt.Fprintf(b, "scriptrun_token_keepalive_refreshes_total{token=%s,result=%s} %d\n", label(k[0]), label(k[1]), m.keepAlive[k])
	}
	return b.Flush()
}

func header(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func writeHistogram(w io.Writer, name, labels string, bounds []float64, h *histogram) {
	var cum uint64
	for i, le := range bounds {
		if h.counts != nil {
			cum += h.counts[i]
		}
		fmt.Fprintf(w, "%s_bucket{%sle=%q} %d\n", name, labels, strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	fmt.Fprintf(w, "%s_bucket{%sle=\"+Inf\"} %d\n", name, labels, h.count)
	trimmed := strings.TrimSuffix(labels, ",")
	if trimmed != "" {
		trimmed = "{" + trimmed + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %s\n", name, trimmed, strconv.FormatFloat(h.sum, 'g', -1, 64))
	fmt.Fprintf(w, "%s_count%s %d\n", name, trimmed, h.count)
}

// label quotes a label value as the exposition format wants.
func label(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

func sortedKeys[K interface{ ~string | ~[2]string }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return keys
}

// Messages the token manager logs for refreshes (package tokens). A test in
// this package checks them against a real manager.
const (
	msgTokenRefreshed     = "token refreshed"
	msgTokenRefreshFailed = "token refresh failed"
)

// TokenLogHandler wraps the handler of the token manager's logger so that
// its refresh events ("token refreshed", "token refresh failed", with the
// attribute token) are counted in scriptrun_token_refreshes_total. Records
// pass through to next unchanged; next may be nil to count only.
//
//	m := cron.NewMetrics()
//	manager := tokens.New(tokens.Options{DB: db, Logger: slog.New(m.TokenLogHandler(h))})
//	sched := cron.New(cron.Options{DB: db, Signer: manager, Refresher: manager, Metrics: m})
func (m *Metrics) TokenLogHandler(next slog.Handler) slog.Handler {
	if next == nil {
		next = slog.DiscardHandler
	}
	return &tokenLogHandler{m: m, next: next}
}

type tokenLogHandler struct {
	m     *Metrics
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs, to find the token name
}

func (h *tokenLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	// Refresh events are counted whatever the level the output keeps.
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *tokenLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == msgTokenRefreshed || r.Message == msgTokenRefreshFailed {
		token := ""
		for _, a := range h.attrs {
			if a.Key == "token" {
				token = a.Value.String()
			}
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "token" {
				token = a.Value.String()
				return false
			}
			return true
		})
		h.m.tokenRefresh(token, r.Message == msgTokenRefreshed)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *tokenLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &tokenLogHandler{m: h.m, next: h.next.WithAttrs(attrs), attrs: append(slices.Clone(h.attrs), attrs...)}
}

func (h *tokenLogHandler) WithGroup(name string) slog.Handler {
	return &tokenLogHandler{m: h.m, next: h.next.WithGroup(name), attrs: h.attrs}
}
