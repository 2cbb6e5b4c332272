package cron

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// eventually waits (in real time) until cond holds.
func eventually(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The scheduler as serve runs it, with the real clock: jobs added and
// disabled from another process (another store.DB on the same file), runs
// that sign requests with a token authorized at a real OAuth2 server, the
// keep-alive, and the token metrics.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs jobs for a few seconds of real time")
	}
	srv, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer callback.Close()

	path := filepath.Join(t.TempDir(), "scriptrun.db")
	serveDB, err := store.Open(path, testKey, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := store.Open(path, testKey, store.Options{}) // "another process"
	if err != nil {
		t.Fatal(err)
	}
	metrics := NewMetrics()
	manager := tokens.New(tokens.Options{DB: serveDB, OnEvent: metrics.TokenEvent})
	defer manager.Close()

	err = cli.Update(func(tx *store.Tx) error {
		if err := tx.CreateProvider(store.Provider{Name: "sandbox", ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
			GrantType: store.GrantAuthorizationCode, AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL(), Scopes: []string{"read"},
			AuthStyle: store.AuthStyleHeader, PKCE: true}); err != nil {
			return err
		}
		return tx.CreateToken(store.Token{Name: "api", Type: store.TypeOAuth2, Provider: "sandbox", Active: true,
			State: store.StateUnauthorized, BaseURL: srv.URL()})
	})
	if err != nil {
		t.Fatal(err)
	}
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

	s := New(Options{DB: serveDB, Signer: manager, Refresher: manager, Metrics: metrics, PollInterval: 100 * time.Millisecond, RunBy: "serve (test)"})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)

	me := store.Job{Name: "me", Schedule: "@every 1s", ScriptName: "me.js", Timeout: 10 * time.Second, Enabled: true,
		Args: []string{srv.APIURL()}, Script: `const res = http.get(args[0] + '/me').apiTokenAuth('api').send();
if (!res.ok) throw new Error('status ' + res.status);
console.log(res.json().user);`}
	broken := store.Job{Name: "broken", Schedule: "* * * * * *", ScriptName: "broken.js", Timeout: 10 * time.Second, Enabled: true,
		Script: "function f() { throw new Error('broken on purpose'); }\nf();"}
	if err := cli.Update(func(tx *store.Tx) error {
		if err := tx.PutJob(me); err != nil {
			return err
		}
		return tx.PutJob(broken)
	}); err != nil {
		t.Fatal(err)
	}
	count := func(job string, st store.RunStatus) (n int) {
		var runs []store.Run
		if err := cli.View(func(tx *store.Tx) (err error) { runs, err = tx.Runs(job, 0); return err }); err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if st == "" || r.Status == st {
				n++
			}
		}
		return n
	}
	eventually(t, "job me ran three times and broken failed", 15*time.Second, func() bool {
		return count("me", store.RunSucceeded) >= 3 && count("broken", store.RunFailed) >= 1
	})
	var meRuns, brokenRuns []store.Run
	var out []byte
	cli.View(func(tx *store.Tx) (err error) {
		meRuns, _ = tx.Runs("me", 0)
		brokenRuns, _ = tx.Runs("broken", 0)
		out, err = tx.RunOutput(meRuns[0].ID)
		return err
	})
	if string(out) != "demo\n" || meRuns[0].RunBy != "serve (test)" {
		t.Errorf("me's output = %q (run by %q), want the API's user", out, meRuns[0].RunBy)
	}
	for _, r := range meRuns {
		if r.Status == store.RunSucceeded && r.Started.Sub(r.Scheduled) > time.Second {
			t.Logf("note: run %d started %s after its due time", r.ID, r.Started.Sub(r.Scheduled))
		}
	}
	// The latest run of broken (due every second) may still be running.
	i := slices.IndexFunc(brokenRuns, func(r store.Run) bool { return r.Status == store.RunFailed })
	if i < 0 {
		t.Fatalf("no failed run of broken among %d", len(brokenRuns))
	}
	if e := brokenRuns[i].Error; !strings.Contains(e, "Error: broken on purpose") || !strings.Contains(e, "at f (broken.js:1:") {
		t.Errorf("broken's error = %q, want the message and the JS stack", e)
	}

	// Disabled from the other process: no new runs once the scheduler saw it.
	if err := cli.Update(func(tx *store.Tx) error {
		if _, err := tx.SetJobEnabled("me", false); err != nil {
			return err
		}
		_, err := tx.SetJobEnabled("broken", false)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // > PollInterval, and any run in flight ends
	before := count("me", "") + count("broken", "")
	time.Sleep(2200 * time.Millisecond) // two more due times of @every 1s
	if after := count("me", "") + count("broken", ""); after != before {
		t.Errorf("runs went on after disabling: %d records, then %d", before, after)
	}

	// The keep-alive refreshes the token once it has been idle for a day,
	// through the real token manager; a failure lands in lastMessage.
	makeIdle := func() {
		t.Helper()
		if err := cli.Update(func(tx *store.Tx) error {
			tk, err := tx.Token("api")
			if err != nil {
				return err
			}
			tk.LastUsed, tk.LastRefreshed = time.Now().Add(-48*time.Hour), time.Now().Add(-48*time.Hour)
			return tx.PutToken(tk)
		}); err != nil {
			t.Fatal(err)
		}
	}
	makeIdle()
	refreshesBefore := srv.Stats().RefreshRequests
	if ok, failed := s.keepAlive(ctx); ok != 1 || failed != 0 || srv.Stats().RefreshRequests != refreshesBefore+1 {
		t.Errorf("keep-alive: %d refreshed, %d failed, %d refresh requests; want one refresh", ok, failed, srv.Stats().RefreshRequests-refreshesBefore)
	}
	if ok, _ := s.keepAlive(ctx); ok != 0 {
		t.Errorf("keep-alive refreshed a token it had just refreshed")
	}
	srv.RevokeAll()
	makeIdle()
	if ok, failed := s.keepAlive(ctx); ok != 0 || failed != 1 {
		t.Errorf("keep-alive after revocation: %d ok, %d failed; want one failure", ok, failed)
	}
	var tk store.Token
	cli.View(func(tx *store.Tx) (err error) { tk, err = tx.Token("api"); return err })
	if tk.LastMessage == "" || tk.State != store.StateReauthRequired {
		t.Errorf("token after a failed keep-alive: state %s, lastMessage %q", tk.State, tk.LastMessage)
	}

	got := scrape(t, s.Metrics())
	got.check(t, map[string]float64{
		series("scriptrun_token_refreshes_total", "token", "api", "result", "ok"):           1,
		series("scriptrun_token_refreshes_total", "token", "api", "result", "failed"):       1,
		series("scriptrun_token_keepalive_refreshes_total", "token", "api", "result", "ok"): 1,
	})
	if got[series("scriptrun_cron_runs_total", "job", "broken", "status", "failed")] < 1 || got[series("scriptrun_cron_schedule_delay_seconds_count")] < 1 {
		t.Errorf("runs of broken and the schedule delay are not counted")
	}
}
