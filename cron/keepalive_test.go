package cron

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// fakeRefresher records which tokens it was asked to refresh.
type fakeRefresher struct {
	mu        sync.Mutex
	refreshed []string
	fail      map[string]bool
}

var _ Refresher = (*fakeRefresher)(nil)

func (f *fakeRefresher) Refresh(_ context.Context, name string) (store.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshed = append(f.refreshed, name)
	if f.fail[name] {
		return store.Token{}, errors.New("provider said no")
	}
	return store.Token{Name: name}, nil
}

func TestKeepAlive(t *testing.T) {
	ref := &fakeRefresher{fail: map[string]bool{"fails": true}}
	e := newEnv(t, t0, func(o *Options) { o.Refresher = ref })
	now := t0.Add(48 * time.Hour)
	tests := []struct {
		name    string
		mod     func(*store.Token)
		refresh bool
	}{
		{"idle", func(*store.Token) {}, true},
		{"used an hour ago", func(tk *store.Token) { tk.LastUsed = now.Add(-time.Hour) }, false},
		{"refreshed two hours ago", func(tk *store.Token) { tk.LastRefreshed = now.Add(-2 * time.Hour) }, false},
		{"no refresh token", func(tk *store.Token) { tk.Secret.RefreshToken = "" }, false},
		{"inactive", func(tk *store.Token) { tk.Active = false }, false},
		{"needs reauthorization", func(tk *store.Token) { tk.State = store.StateReauthRequired }, false},
		{"never authorized", func(tk *store.Token) { tk.State = store.StateUnauthorized; tk.Secret = store.Secret{} }, false},
		{"failed ten minutes ago", func(tk *store.Token) { tk.RefreshFailures, tk.RefreshFailed = 1, now.Add(-10*time.Minute) }, false},
		{"failed two hours ago", func(tk *store.Token) { tk.RefreshFailures, tk.RefreshFailed = 3, now.Add(-2*time.Hour) }, true},
		{"fails", func(*store.Token) {}, true},
	}
	err := e.db.Update(func(tx *store.Tx) error {
		if err := tx.PutProvider(store.Provider{Name: "p", ClientID: "c", GrantType: store.GrantAuthorizationCode,
			AuthURL: "https://login.example.com/a", TokenURL: "https://login.example.com/t", AuthStyle: store.AuthStyleHeader}); err != nil {
			return err
		}
		for _, tt := range tests {
			tk := store.Token{Name: strings.ReplaceAll(tt.name, " ", "-"), Type: store.TypeOAuth2, Provider: "p", Active: true,
				State: store.StateAuthorized, Secret: store.Secret{AccessToken: "a", RefreshToken: "r", TokenType: "Bearer"}}
			tt.mod(&tk)
			if err := tx.PutToken(tk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.advanceTo(now)
	ok, failed := e.s.keepAlive(context.Background())
	var want []string
	for _, tt := range tests {
		if tt.refresh {
			want = append(want, strings.ReplaceAll(tt.name, " ", "-"))
		}
	}
	slices.Sort(want)
	slices.Sort(ref.refreshed)
	if !slices.Equal(ref.refreshed, want) || ok != len(want)-1 || failed != 1 {
		t.Errorf("refreshed %v (%d ok, %d failed), want %v with one failure", ref.refreshed, ok, failed, want)
	}
	var b bytes.Buffer
	e.s.WriteMetrics(&b)
	for _, line := range []string{
		`scriptrun_token_keepalive_refreshes_total{token="idle",result="ok"} 1`,
		`scriptrun_token_keepalive_refreshes_total{token="fails",result="failed"} 1`,
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

// sample is one line of the exposition format.
var sample = regexp.MustCompile(`^([a-z_]+)(\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\})? ([0-9.e+-]+|\+Inf)$`)

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
	logger := slog.New(e.s.Metrics().TokenLogHandler(nil))
	logger.Info("token refreshed", "token", `odd"name`)
	logger.With("token", "graph").Warn("token refresh failed", "code", "REFRESH_FAILED")
	logger.Info("token authorized", "token", "graph") // not a refresh

	var b bytes.Buffer
	if err := e.s.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		`scriptrun_cron_runs_total{job="ok",status="succeeded"} 2`,
		`scriptrun_cron_runs_total{job="bad",status="failed"} 1`,
		`scriptrun_cron_run_duration_seconds_count{job="ok"} 2`,
		`scriptrun_cron_run_duration_seconds_bucket{job="bad",le="+Inf"} 1`,
		`scriptrun_cron_jobs 2`,
		`scriptrun_cron_runs_active 0`,
		`scriptrun_token_refreshes_total{token="odd\"name",result="ok"} 1`,
		`scriptrun_token_refreshes_total{token="graph",result="failed"} 1`,
		"# TYPE scriptrun_cron_run_duration_seconds histogram",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s\n%s", want, text)
		}
	}
	// Every line is a comment or a well-formed sample; buckets only grow.
	last := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("malformed line %q", line)
			continue
		}
		if strings.HasSuffix(m[1], "_bucket") {
			key := m[1] + strings.Split(line, "le=")[0]
			v, _ := strconv.ParseFloat(m[len(m)-1], 64)
			if v < last[key] {
				t.Errorf("bucket %q decreases", line)
			}
			last[key] = v
		}
	}
}

func TestCaptureAndOutcome(t *testing.T) {
	c := &capture{max: 10}
	c.Write([]byte("12345678"))
	c.Write([]byte("é")) // 2 bytes: 10 kept
	c.Write([]byte("éé"))
	out, total, cut := c.output()
	if total != 14 || !cut || !strings.HasPrefix(string(out), "12345678é\n[output truncated: kept the first 10 bytes of 14 bytes]") {
		t.Errorf("capture = %q, %d, %v", out, total, cut)
	}
	c = &capture{max: 9}
	c.Write([]byte("12345678é")) // the cut falls inside é
	if out, _, _ := c.output(); !strings.HasPrefix(string(out), "12345678\n") {
		t.Errorf("a cut character was kept: %q", out)
	}
	c = &capture{max: 10}
	c.Write([]byte("short"))
	if out, total, cut := c.output(); string(out) != "short" || total != 5 || cut {
		t.Errorf("short capture = %q %d %v", out, total, cut)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("replaced by run 7"))
	if st, _, reason := outcome(ctx, context.Canceled); st != store.RunCancelled || reason != "replaced by run 7" {
		t.Errorf("outcome of a cancellation = %s, %q", st, reason)
	}
	if st, msg, _ := outcome(context.Background(), errors.New("runtime: internal error")); st != store.RunFailed || msg != "internal error" {
		t.Errorf("outcome of an error = %s %q", st, msg)
	}
}
