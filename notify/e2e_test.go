package notify

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
	"github.com/scriptrun/scriptrun/tokens"
)

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runService runs s as serve does until the test ends.
func runService(t *testing.T, s *Service) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// An expired token whose refresh token is dead (the sandbox answers
// invalid_grant) is announced once as token.reauth_required, however often
// it is used; authorizing it again announces token.recovered.
func TestTokenReauthRequiredThenRecovered(t *testing.T) {
	srv, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	db := storetest.Open(t)
	r := newReceiver(t, time.Now)
	r.addNotifier(t, db, "ops", store.EventTokenReauthRequired, store.EventTokenRecovered)
	svc := New(Options{DB: db, PollInterval: 50 * time.Millisecond})
	var skew atomic.Int64 // the manager's clock runs ahead to expire the token
	m := tokens.New(tokens.Options{DB: db, OnEvent: svc.TokenEvent, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	t.Cleanup(func() { m.Close() })
	err = db.Update(func(tx *store.Tx) error {
		if err := tx.CreateProvider(store.Provider{Name: "sandbox", ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
			GrantType: store.GrantAuthorizationCode, AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL(), Scopes: []string{"read"},
			AuthStyle: store.AuthStyleHeader, PKCE: true}); err != nil {
			return err
		}
		return tx.CreateToken(store.Token{Name: "api", Type: store.TypeOAuth2, Provider: "sandbox", Active: true, State: store.StateUnauthorized, BaseURL: srv.URL()})
	})
	if err != nil {
		t.Fatal(err)
	}
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(cb.Close)
	authorize := func() {
		t.Helper()
		a, err := m.Authorize("api", cb.URL+"/oauth/callback")
		if err != nil {
			t.Fatal(err)
		}
		u, err := sandbox.SignIn(context.Background(), a.URL, "demo", "demo")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Complete(context.Background(), a, u.Query()); err != nil {
			t.Fatal(err)
		}
	}
	authorize()
	runService(t, svc)

	srv.RevokeAll()
	skew.Store(int64(2 * time.Hour))
	for range 3 {
		req, _ := http.NewRequest("GET", srv.APIURL()+"/me", nil)
		if err := m.Sign(context.Background(), "api", req); tokens.CodeOf(err) != tokens.CodeReauthRequired {
			t.Fatalf("Sign with a dead refresh token: %v, want %s", err, tokens.CodeReauthRequired)
		}
	}
	waitFor(t, "token.reauth_required", func() bool { return len(r.deliveries()) == 1 })
	got := r.deliveries()[0]
	if got.Type != store.EventTokenReauthRequired || got.Data["token"] != "api" || got.Data["provider"] != "sandbox" || got.Data["state"] != "reauth_required" {
		t.Errorf("got %+v, want token.reauth_required for api at sandbox", got)
	}
	if msg, _ := got.Data["message"].(string); msg == "" {
		t.Error("the event lacks the token's last message")
	}
	// More checks announce nothing more.
	for range 3 {
		if n, err := svc.Check(); n != 0 || err != nil {
			t.Errorf("a later check created %d deliveries (%v)", n, err)
		}
	}

	skew.Store(0)
	authorize()
	waitFor(t, "token.recovered", func() bool { return len(r.deliveries()) == 2 })
	if d := r.deliveries()[1]; d.Type != store.EventTokenRecovered || d.Data["state"] != "authorized" {
		t.Errorf("second delivery %+v, want token.recovered", d)
	}
	if n := r.postCount(); n != 2 {
		t.Errorf("%d posts, want 2", n)
	}
}

// Real job runs: a failure is announced as cron.failed (once, however many
// runs fail), the first success after it as cron.recovered.
func TestCronFailedThenRecovered(t *testing.T) {
	db := storetest.Open(t)
	r := newReceiver(t, time.Now)
	r.addNotifier(t, db, "ops")
	svc := New(Options{DB: db, PollInterval: 50 * time.Millisecond})
	var healthy atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	t.Cleanup(api.Close)
	job := store.Job{Name: "nightly", Schedule: "0 3 * * *", ScriptName: "nightly.js", Timeout: 30 * time.Second, Enabled: true,
		Args: []string{api.URL}, Script: "const res = http.get(args[0]).send();\nif (!res.ok) throw new Error('upstream said ' + res.status);"}
	if err := db.Update(func(tx *store.Tx) error { return tx.PutJob(job) }); err != nil {
		t.Fatal(err)
	}
	sched := cron.New(cron.Options{DB: db, OnRunFinished: svc.RunFinished})
	t.Cleanup(func() { sched.Stop(context.Background()) })
	runService(t, svc)
	run := func(want store.RunStatus) {
		t.Helper()
		rec, err := sched.RunNow(context.Background(), "nightly")
		if err != nil {
			t.Fatal(err)
		}
		if rec, err = sched.Wait(context.Background(), rec.ID); err != nil || rec.Status != want {
			t.Fatalf("run %d: %s, %v; want %s", rec.ID, rec.Status, err, want)
		}
	}
	run(store.RunFailed)
	waitFor(t, "cron.failed", func() bool { return len(r.deliveries()) == 1 })
	run(store.RunFailed)
	healthy.Store(true)
	run(store.RunSucceeded)
	waitFor(t, "cron.recovered", func() bool { return len(r.deliveries()) == 2 })
	run(store.RunSucceeded)
	if _, err := svc.Check(); err != nil {
		t.Fatal(err)
	}
	got := r.deliveries()
	if fmt.Sprint(types(got)) != "[cron.failed cron.recovered]" {
		t.Fatalf("deliveries %v, want [cron.failed cron.recovered]", types(got))
	}
	if got[0].Data["job"] != "nightly" || got[0].Data["status"] != "failed" {
		t.Errorf("cron.failed data %v", got[0].Data)
	}
	if _, leak := got[0].Data["error"]; leak {
		t.Error("cron.failed carries the run's error")
	}
	var problems []Problem
	if err := db.View(func(tx *store.Tx) (err error) { problems, err = Problems(tx); return err }); err != nil || len(problems) != 0 {
		t.Errorf("problems after recovery: %v, %v", problems, err)
	}
}

// With two serve processes watching one store, each change is announced
// once: the watch state and the delivery are written in one transaction.
func TestTwoWatchersAnnounceOnce(t *testing.T) {
	db := storetest.Open(t)
	c := newClock()
	r := newReceiver(t, c.Now)
	r.addNotifier(t, db, "ops")
	tok := store.Token{Name: "hook", Type: store.TypeBearer, Active: true, Secret: store.Secret{AccessToken: "static-credential-abcdef"}, Expires: c.Now().Add(48 * time.Hour)}
	if err := db.Update(func(tx *store.Tx) error { return tx.CreateToken(tok) }); err != nil {
		t.Fatal(err)
	}
	db2, err := store.Open(db.Path(), storetest.Key(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	watchers := []*Service{newService(t, db, c, "a"), newService(t, db2, c, "b")}
	created := make(chan int, 2)
	for _, w := range watchers {
		go func() {
			n, err := w.Check()
			if err != nil {
				t.Error(err)
			}
			created <- n
		}()
	}
	if total := <-created + <-created; total != 1 {
		t.Errorf("two watchers created %d deliveries of one token.expiring, want 1", total)
	}
	for _, w := range watchers {
		deliverDue(t, w)
	}
	if got := types(r.deliveries()); fmt.Sprint(got) != "[token.expiring]" {
		t.Errorf("receiver got %v, want one token.expiring", got)
	}
	if d := r.deliveries(); len(d) == 1 && d[0].Data["expires"] == nil {
		t.Errorf("token.expiring lacks the expiry: %v", d[0].Data)
	}
}
