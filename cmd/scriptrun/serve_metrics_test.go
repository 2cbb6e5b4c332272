package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// parseMetrics parses a Prometheus text exposition.
func parseMetrics(text string) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(strings.NewReader(text))
}

// metricSample reads one counter, gauge or untyped sample from an
// exposition. series is written as in the text format,
// name{label="value",...}, its labels in any order; ok is false when the
// exposition has no such series (or does not parse).
func metricSample(text, series string) (v float64, ok bool) {
	want, err := parseMetrics(series + " 0\n")
	if err != nil || len(want) != 1 {
		return 0, false
	}
	got, err := parseMetrics(text)
	if err != nil {
		return 0, false
	}
	for name, wf := range want {
		labels := labelMap(wf.GetMetric()[0])
		for _, m := range got[name].GetMetric() {
			if !mapsEqual(labelMap(m), labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Untyped != nil:
				return m.GetUntyped().GetValue(), true
			}
		}
	}
	return 0, false
}

func labelMap(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// scrapeServe serves metrics as serve does (metricsRegistry behind
// metricsHandler) and scrapes them with a real request.
func scrapeServe(t *testing.T, m *cron.Metrics, scheduling bool) (string, *http.Response) {
	t.Helper()
	srv := httptest.NewServer(metricsHandler(metricsRegistry(m, func() bool { return scheduling }), slog.New(slog.DiscardHandler)))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp
}

// serve's /metrics: the scheduler's and token metrics under their names
// and labels, whether this serve schedules, and the Go runtime's and the
// process's collectors, in the text format, never cached; other paths 404.
func TestServeMetricsExposition(t *testing.T) {
	m := cron.NewMetrics()
	m.TokenEvent(tokens.Event{Kind: tokens.EventRefreshed, Token: "api"})
	m.TokenEvent(tokens.Event{Kind: tokens.EventFetchFailed, Token: "svc", Code: tokens.CodeRefreshFailed})
	text, resp := scrapeServe(t, m, true)
	if resp.StatusCode != http.StatusOK || expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /metrics: %s, Content-Type %q, Cache-Control %q", resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	families, err := parseMetrics(text)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, text)
	}
	for _, tt := range []struct {
		series string
		want   float64
	}{
		{`scriptrun_cron_scheduling`, 1},
		{`scriptrun_token_refreshes_total{token="api",result="ok"}`, 1},
		{`scriptrun_token_refreshes_total{result="failed",token="svc"}`, 1},
	} {
		if v, ok := metricSample(text, tt.series); !ok || v != tt.want {
			t.Errorf("%s = %v (present %v), want %v", tt.series, v, ok, tt.want)
		}
	}
	for _, tt := range []struct {
		name string
		typ  dto.MetricType
	}{
		{"scriptrun_cron_schedule_delay_seconds", dto.MetricType_HISTOGRAM},
		{"scriptrun_cron_scheduling", dto.MetricType_GAUGE},
		{"scriptrun_token_refreshes_total", dto.MetricType_COUNTER},
		{"go_goroutines", dto.MetricType_GAUGE},
		{"go_memstats_heap_alloc_bytes", dto.MetricType_GAUGE},
		{"process_cpu_seconds_total", dto.MetricType_COUNTER},
		{"process_resident_memory_bytes", dto.MetricType_GAUGE},
	} {
		if f := families[tt.name]; f == nil || f.GetType() != tt.typ {
			t.Errorf("%s: %v, want a %s", tt.name, f.GetType(), tt.typ)
		}
	}
	if text, _ := scrapeServe(t, cron.NewMetrics(), false); !strings.Contains(text, "\nscriptrun_cron_scheduling 0\n") {
		t.Errorf("a serve that does not schedule:\n%s", text)
	}

	h := metricsHandler(metricsRegistry(m, func() bool { return true }), slog.New(slog.DiscardHandler))
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", http.StatusNotFound},
		{"GET", "/metrics/x", http.StatusNotFound},
		{"POST", "/metrics", http.StatusMethodNotAllowed},
		{"HEAD", "/metrics", http.StatusOK},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, w.Code, tt.want)
		}
	}
}

// Token events of runs in child processes reach serve's metrics and log:
// an oauth2 refresh, a client-credentials fetch and a failed fetch made by
// a child's run are each counted exactly once, and a later run that needs
// no refresh adds nothing. Neither the log nor the events carry a secret.
func TestJobProcessTokenEvents(t *testing.T) {
	srv, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"temporarily_unavailable"}`, http.StatusServiceUnavailable)
	}))
	defer down.Close()

	home := t.TempDir()
	db := openHome(t, home)
	if err := db.Update(func(tx *store.Tx) error {
		for _, p := range []store.Provider{
			{Name: "sandbox", ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), GrantType: store.GrantAuthorizationCode,
				AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL(), Scopes: []string{"read"}, AuthStyle: store.AuthStyleHeader},
			{Name: "m2m", ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), GrantType: store.GrantClientCredentials,
				TokenURL: srv.TokenURL(), Scopes: []string{"read"}, AuthStyle: store.AuthStyleHeader},
			{Name: "m2m-down", ClientID: "c", ClientSecret: "down-secret-0123456789", GrantType: store.GrantClientCredentials,
				TokenURL: down.URL + "/token", AuthStyle: store.AuthStyleHeader},
		} {
			if err := tx.CreateProvider(p); err != nil {
				return err
			}
		}
		for _, tk := range []store.Token{
			{Name: "api", Type: store.TypeOAuth2, Provider: "sandbox", Active: true, State: store.StateUnauthorized, BaseURL: srv.URL()},
			{Name: "svc", Type: store.TypeOAuth2, Provider: "m2m", Active: true, State: store.StateUnauthorized, BaseURL: srv.URL()},
			{Name: "svc-down", Type: store.TypeOAuth2, Provider: "m2m-down", Active: true, State: store.StateUnauthorized, BaseURL: srv.URL()},
		} {
			if err := tx.CreateToken(tk); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	authorizeInProcess(t, &cli{t: t, home: home}, srv, "api")
	// The access token has expired: the child's run refreshes it.
	if err := db.Update(func(tx *store.Tx) error {
		tk, err := tx.Token("api")
		if err != nil {
			return err
		}
		tk.Expires = time.Now().Add(-time.Minute)
		return tx.PutToken(tk)
	}); err != nil {
		t.Fatal(err)
	}

	exe, err := os.Executable() // this test binary stands in for scriptrun (TestMain)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	metrics := cron.NewMetrics()
	x := &jobProcess{exe: exe, home: home, env: os.Environ(), log: slog.New(slog.NewTextHandler(logs, nil)), onEvent: metrics.TokenEvent}
	defer x.close()
	const script = `for (const name of args.slice(1)) {
  const res = http.get(args[0] + '/me').apiTokenAuth(name).send();
  console.log(name, res.status);
}`
	refreshes := func(token, result string) string {
		return `scriptrun_token_refreshes_total{token="` + token + `",result="` + result + `"}`
	}
	for _, tt := range []struct {
		name    string
		tokens  []string
		out     string
		failure string // "" = the run succeeds
		want    map[string]float64
	}{
		{"refresh, fetch, failed fetch", []string{"api", "svc", "svc-down"}, "api 200\nsvc 200\n", "svc-down", map[string]float64{
			refreshes("api", "ok"): 1, refreshes("svc", "ok"): 1, refreshes("svc-down", "failed"): 1,
			refreshes("api", "failed"): -1, refreshes("svc", "failed"): -1, refreshes("svc-down", "ok"): -1}},
		{"nothing to renew", []string{"api", "svc"}, "api 200\nsvc 200\n", "", map[string]float64{
			refreshes("api", "ok"): 1, refreshes("svc", "ok"): 1, refreshes("svc-down", "failed"): 1,
			refreshes("api", "failed"): -1, refreshes("svc", "failed"): -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := &lockedBuffer{}
			err := x.Execute(context.Background(), store.Job{Name: "events", ScriptName: "events.js", Script: script,
				Args: append([]string{srv.APIURL()}, tt.tokens...), Timeout: time.Minute, MaxMemory: 512 << 20}, out)
			if (tt.failure == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.failure)) || out.String() != tt.out {
				t.Fatalf("Execute: %v, output %q; want output %q and a failure about %q", err, out.String(), tt.out, tt.failure)
			}
			// Execute returns after the status frame, which follows the
			// run's events: they are counted by now.
			text, _ := scrapeServe(t, metrics, true)
			for series, want := range tt.want {
				if v, ok := metricSample(text, series); ok != (want >= 0) || (ok && v != want) {
					t.Errorf("%s = %v (present %v), want %v (-1: absent)", series, v, ok, want)
				}
			}
		})
	}

	l := logs.String()
	for _, want := range []string{`msg="token refreshed" job=events token=api rotated=`, `msg="token fetched" job=events token=svc`,
		`level=WARN msg="token refresh failed" job=events token=svc-down code=REFRESH_FAILED`} {
		if !strings.Contains(l, want) {
			t.Errorf("serve's log lacks %s:\n%s", want, l)
		}
	}
	var secrets []string
	if err := db.View(func(tx *store.Tx) error {
		for _, name := range []string{"api", "svc"} {
			tk, err := tx.Token(name)
			if err != nil {
				return err
			}
			secrets = append(secrets, tk.Secret.AccessToken, tk.Secret.RefreshToken)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, srv.ClientSecret(), "down-secret-0123456789")
	for _, s := range slices.DeleteFunc(secrets, func(s string) bool { return s == "" }) {
		if strings.Contains(l, s) {
			t.Errorf("serve's log holds a secret (%.6s…)", s)
		}
	}
}
