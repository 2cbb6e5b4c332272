package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
)

func TestTokenTestButton(t *testing.T) {
	e := newEnv(t, envOpts{})
	srv := e.withSandbox(sandbox.Options{})
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	defer refusing.Close()
	e.addToken("hook", "", func(tok *store.Token) {
		*tok = store.Token{Name: "hook", Type: store.TypeBearer, Active: true, BaseURL: refusing.URL, Secret: store.Secret{AccessToken: "bearer-SECRET-0001"}}
	})
	e.addToken("nowhere", "sandbox", nil)
	e.db.Update(func(tx *store.Tx) error {
		tok, _ := tx.Token("api")
		tok.BaseURL = srv.APIURL() + "/me"
		return tx.PutToken(tok)
	})
	a, err := e.m.Authorize("api", e.srv.callback)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := sandbox.SignIn(context.Background(), a.URL, "demo", "demo")
	if _, err := e.m.Complete(context.Background(), a, cb.Query()); err != nil {
		t.Fatal(err)
	}

	b := e.signedIn()
	if page := b.get("/tokens/nowhere"); strings.Contains(page.body, `id="test"`) {
		t.Error("a token without a base URL has a Test button")
	}
	mustContain(t, "token page", b.get("/tokens/api"), "Test")
	for _, tc := range []struct {
		name, token, url string
		before           func()
		flash            string
		says             []string
	}{
		{"works", "api", "", nil, "flash-ok", []string{"Test ok: GET " + srv.APIURL() + "/me → HTTP 200 in"}},
		{"refreshed first", "api", "", func() { e.clock.Add(70 * time.Minute) }, "flash-ok", []string{"HTTP 200", "(token refreshed)"}},
		{"refused", "hook", "", nil, "flash-error", []string{"Test refused: GET " + refusing.URL + " → HTTP 401", "the API refused the credential"}},
		{"outside the binding", "api", refusing.URL + "/me", nil, "flash-error", []string{"Test not sent", "will not be sent to"}},
		{"not authorized", "nowhere", srv.URL(), nil, "flash-error", []string{"Test failed", "has not been authorized"}},
	} {
		if tc.before != nil {
			tc.before()
		}
		r := b.post("/tokens/"+tc.token+"/test", b.form("url", tc.url))
		if r.status != http.StatusSeeOther || r.loc != "/tokens/"+tc.token {
			t.Fatalf("%s: Test answered %d to %q", tc.name, r.status, r.loc)
		}
		page := b.follow(r)
		if !strings.Contains(page.body, tc.flash) {
			t.Errorf("%s: no %s message", tc.name, tc.flash)
		}
		mustContain(t, tc.name, page, tc.says...)
	}
	if r := b.post("/tokens/ghost/test", b.form()); r.status != http.StatusNotFound {
		t.Errorf("Test of a missing token: %d", r.status)
	}
	tok := e.token("api")
	for _, secret := range []string{tok.Secret.AccessToken, tok.Secret.RefreshToken, "bearer-SECRET-0001"} {
		if strings.Contains(e.pages.String(), secret) || strings.Contains(e.log.String(), secret) {
			t.Errorf("a credential (%.6s…) is on a page or in the log", secret)
		}
	}
	if !strings.Contains(e.log.String(), "token tested from the console") {
		t.Error("the test was not logged")
	}
}
