package cron

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/scriptrun/scriptrun/internal/promtext"
	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// samples are scraped metrics by series, written as the text format writes
// them: name{label="value",...} with labels sorted by name; a histogram as
// its _bucket (cumulative, le last), _sum and _count series.
type samples map[string]float64

// series names one sample: series("x_total", "job", "a", "status", "ok").
func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	pairs := make([]string, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	le := ""
	if n := len(pairs); n > 0 && strings.HasPrefix(pairs[n-1], "le=") {
		le, pairs = ","+pairs[n-1], pairs[:n-1]
	}
	slices.Sort(pairs)
	return name + "{" + strings.TrimPrefix(strings.Join(pairs, ",")+le, ",") + "}"
}

// scrape serves m the way serve does (a promtext registry's handler), GETs
// it over HTTP and parses the answer with Prometheus's own parser.
func scrape(t *testing.T, m *Metrics) samples {
	t.Helper()
	srv := httptest.NewServer(promtext.NewRegistry(m).Handler(nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return flatten(t, families)
}

// flatten turns parsed families into samples, checking on the way that a
// histogram's buckets never decrease.
func flatten(t *testing.T, families map[string]*dto.MetricFamily) samples {
	t.Helper()
	s := samples{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName(), l.GetValue())
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				s[series(name, labels...)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				s[series(name, labels...)] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				s[series(name+"_count", labels...)] = float64(h.GetSampleCount())
				s[series(name+"_sum", labels...)] = h.GetSampleSum()
				last := 0.0
				for _, b := range h.GetBucket() {
					le := strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)
					if math.IsInf(b.GetUpperBound(), 1) {
						le = "+Inf"
					}
					v := float64(b.GetCumulativeCount())
					if v < last {
						t.Errorf("%s bucket le=%s decreases", name, le)
					}
					last = v
					s[series(name+"_bucket", append(labels, "le", le)...)] = v
				}
				s[series(name+"_bucket", append(labels, "le", "+Inf")...)] = float64(h.GetSampleCount())
			default:
				s[series(name, labels...)] = m.GetUntyped().GetValue()
			}
		}
	}
	return s
}

// check compares the samples against want; a value of -1 wants the series absent.
func (s samples) check(t *testing.T, want map[string]float64) {
	t.Helper()
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	}) {
		got, ok := s[k]
		switch {
		case want[k] < 0 && ok:
			t.Errorf("%s = %v, want it absent", k, got)
		case want[k] >= 0 && !ok:
			t.Errorf("%s is missing", k)
		case want[k] >= 0 && got != want[k]:
			t.Errorf("%s = %v, want %v", k, got, want[k])
		}
	}
}

// Runs, their durations and the job gauges, by job and status, as a
// scraper reads them.
func TestMetrics(t *testing.T) {
	e := newEnv(t, t0, nil)
	e.put(t, job("ok", "@daily", "console.log(1)"))
	e.put(t, job("bad", "@daily", "throw new Error('x')"))
	for _, name := range []string{"ok", "ok", "bad"} {
		r, err := e.s.RunNow(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		e.s.Wait(context.Background(), r.ID)
	}
	e.s.Metrics().TokenEvent(tokens.Event{Kind: tokens.EventRefreshed, Token: `odd"name`})
	got := scrape(t, e.s.Metrics())
	got.check(t, map[string]float64{
		series("scriptrun_cron_runs_total", "job", "ok", "status", "succeeded"):          2,
		series("scriptrun_cron_runs_total", "job", "bad", "status", "failed"):            1,
		series("scriptrun_cron_runs_total", "job", "bad", "status", "succeeded"):         -1,
		series("scriptrun_cron_run_duration_seconds_count", "job", "ok"):                 2,
		series("scriptrun_cron_run_duration_seconds_bucket", "job", "bad", "le", "+Inf"): 1,
		series("scriptrun_cron_schedule_delay_seconds_count"):                            0,
		series("scriptrun_cron_jobs"):                                                    2,
		series("scriptrun_cron_jobs_enabled"):                                            2,
		series("scriptrun_cron_runs_active"):                                             0,
		series("scriptrun_token_refreshes_total", "token", `odd"name`, "result", "ok"):   1,
	})
	for _, le := range durationBuckets {
		k := series("scriptrun_cron_run_duration_seconds_bucket", "job", "ok", "le", strconv.FormatFloat(le, 'g', -1, 64))
		if _, ok := got[k]; !ok {
			t.Errorf("%s is missing", k)
		}
	}
}

// Each kind of token event counts once under its result, or not at all.
func TestTokenEventKinds(t *testing.T) {
	for _, tt := range []struct {
		kind   tokens.EventKind
		result string // "" = not counted
	}{
		{tokens.EventRefreshed, "ok"},
		{tokens.EventFetched, "ok"},
		{tokens.EventRefreshFailed, "failed"},
		{tokens.EventFetchFailed, "failed"},
		{tokens.EventReauthRequired, "failed"},
		{tokens.EventAuthorized, ""},
		{tokens.EventAuthorizeFailed, ""},
		{tokens.EventRejected, ""},
		{tokens.EventRevoked, ""},
		{tokens.EventRevokeFailed, ""},
		{tokens.EventUseNotRecorded, ""},
		{"a kind from a newer child", ""},
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			m := NewMetrics()
			m.TokenEvent(tokens.Event{Kind: tt.kind, Token: "api"})
			want := map[string]float64{
				series("scriptrun_token_refreshes_total", "token", "api", "result", "ok"):     -1,
				series("scriptrun_token_refreshes_total", "token", "api", "result", "failed"): -1,
			}
			if tt.result != "" {
				want[series("scriptrun_token_refreshes_total", "token", "api", "result", tt.result)] = 1
			}
			scrape(t, m).check(t, want)
		})
	}
}

// A real token manager's refresh of an oauth2 token, client-credentials
// fetch and failed fetch reach the metrics through OnEvent, each counted
// exactly once (counting by log message missed the fetch).
func TestTokenEventsCounted(t *testing.T) {
	srv, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	db, err := store.Open(filepath.Join(t.TempDir(), "scriptrun.db"), testKey, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *store.Tx) error {
		for _, p := range []store.Provider{
			{Name: "sandbox", ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), GrantType: store.GrantAuthorizationCode,
				AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL(), Scopes: []string{"read"}, AuthStyle: store.AuthStyleHeader},
			{Name: "m2m", ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), GrantType: store.GrantClientCredentials,
				TokenURL: srv.TokenURL(), Scopes: []string{"read"}, AuthStyle: store.AuthStyleHeader},
		} {
			if err := tx.CreateProvider(p); err != nil {
				return err
			}
		}
		for _, tk := range []store.Token{
			{Name: "api", Type: store.TypeOAuth2, Provider: "sandbox", Active: true, State: store.StateUnauthorized, BaseURL: srv.URL()},
			{Name: "svc", Type: store.TypeOAuth2, Provider: "m2m", Active: true, State: store.StateUnauthorized, BaseURL: srv.URL()},
		} {
			if err := tx.CreateToken(tk); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	metrics := NewMetrics()
	manager := tokens.New(tokens.Options{DB: db, OnEvent: metrics.TokenEvent})
	defer manager.Close()
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer callback.Close()
	ctx := context.Background()
	a, err := manager.Authorize("api", callback.URL+"/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	u, err := sandbox.SignIn(ctx, a.URL, "demo", "demo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := manager.Complete(ctx, a, u.Query()); err != nil {
		t.Fatal(err)
	}
	sign := func(name string) error {
		req, _ := http.NewRequest("GET", srv.APIURL()+"/me", nil)
		return manager.Sign(ctx, name, req)
	}
	refreshes := func(token, result string) string {
		return series("scriptrun_token_refreshes_total", "token", token, "result", result)
	}
	steps := []struct {
		name    string
		do      func() error
		wantErr bool
		want    map[string]float64 // after the step
	}{
		{"authorized: no refresh", func() error { return sign("api") }, false, map[string]float64{
			refreshes("api", "ok"): -1, refreshes("api", "failed"): -1}},
		{"oauth2 refresh", func() error { _, err := manager.Refresh(ctx, "api"); return err }, false, map[string]float64{
			refreshes("api", "ok"): 1, refreshes("api", "failed"): -1}},
		{"client-credentials fetch on first use", func() error { return sign("svc") }, false, map[string]float64{
			refreshes("svc", "ok"): 1, refreshes("svc", "failed"): -1}},
		{"the fetched token reused", func() error { return sign("svc") }, false, map[string]float64{
			refreshes("svc", "ok"): 1}},
		{"client-credentials fetch refused", func() error {
			srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
				http.Error(w, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
				return true
			})
			defer srv.SetTokenFault(nil)
			_, err := manager.Refresh(ctx, "svc")
			return err
		}, true, map[string]float64{
			refreshes("svc", "ok"): 1, refreshes("svc", "failed"): 1, refreshes("api", "ok"): 1}},
	}
	for _, st := range steps {
		if err := st.do(); (err != nil) != st.wantErr {
			t.Fatalf("%s: error %v, want error %v", st.name, err, st.wantErr)
		}
		t.Run(st.name, func(t *testing.T) { scrape(t, metrics).check(t, st.want) })
	}
}

// Every family keeps the name, type, help text and label names it had
// under client_golang, so that dashboards and alerts keep working.
func TestMetricFamilies(t *testing.T) {
	m := NewMetrics()
	m.setGauges(func() (int, int, int) { return 3, 2, 1 })
	m.run(store.Run{Job: "j", Status: store.RunSucceeded, Missed: 2, Started: t0, Finished: t0.Add(time.Second)})
	m.started(time.Millisecond)
	m.TokenEvent(tokens.Event{Kind: tokens.EventRefreshed, Token: "api"})
	m.keepAliveRefresh("api", false)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(promtext.NewRegistry(m).Append(nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		typ    dto.MetricType
		help   string
		labels string
	}{
		"scriptrun_cron_runs_total":                 {dto.MetricType_COUNTER, "Runs of cron jobs by final status.", "job status"},
		"scriptrun_cron_run_duration_seconds":       {dto.MetricType_HISTOGRAM, "How long runs of cron jobs took.", "job"},
		"scriptrun_cron_schedule_delay_seconds":     {dto.MetricType_HISTOGRAM, "How long after their due time scheduled runs started.", ""},
		"scriptrun_cron_missed_runs_total":          {dto.MetricType_COUNTER, "Scheduled runs that did not happen because no scheduler was running.", "job"},
		"scriptrun_token_refreshes_total":           {dto.MetricType_COUNTER, "Token refreshes and client-credentials fetches by result.", "result token"},
		"scriptrun_token_keepalive_refreshes_total": {dto.MetricType_COUNTER, "Refreshes of idle tokens by the keep-alive, by result.", "result token"},
		"scriptrun_cron_jobs":                       {dto.MetricType_GAUGE, "Cron jobs known to the scheduler.", ""},
		"scriptrun_cron_jobs_enabled":               {dto.MetricType_GAUGE, "Cron jobs that are enabled.", ""},
		"scriptrun_cron_runs_active":                {dto.MetricType_GAUGE, "Runs queued or running.", ""},
	}
	if len(families) != len(want) {
		t.Errorf("%d families, want %d", len(families), len(want))
	}
	for name, w := range want {
		f := families[name]
		if f == nil {
			t.Errorf("%s is missing", name)
			continue
		}
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		slices.Sort(labels)
		if f.GetType() != w.typ || f.GetHelp() != w.help || strings.Join(labels, " ") != w.labels {
			t.Errorf("%s: %v %q labels %q, want %v %q labels %q", name, f.GetType(), f.GetHelp(), labels, w.typ, w.help, w.labels)
		}
	}
}
