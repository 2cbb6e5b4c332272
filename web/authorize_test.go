package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// startAuthorization presses "Get authorization token" and returns the
// provider's authorization URL the console redirected to.
func (b *browser) startAuthorization(token string) *url.URL {
	b.e.t.Helper()
	r := b.post("/tokens/"+token+"/authorize", b.form())
	if r.status != http.StatusSeeOther {
		b.e.t.Fatalf("Get authorization token: %d\n%s", r.status, text(r.body))
	}
	u, err := url.Parse(r.loc)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return u
}

// signInAtProvider signs in at the sandbox's real login page with a
// scripted browser of its own, and returns the callback URL the provider
// sent it to. That browser has no console session, so the console refuses
// its request and leaves the authorization pending for ours.
func signInAtProvider(t *testing.T, authURL *url.URL) string {
	t.Helper()
	cb, err := sandbox.SignIn(context.Background(), authURL.String(), "demo", "demo")
	if cb == nil {
		t.Fatalf("sign in at the provider: %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("the callback without a console session answered %v, want 403", err)
	}
	return cb.String()
}

func TestGetAuthorizationToken(t *testing.T) {
	e := newEnv(t, envOpts{})
	srv := e.withSandbox(sandbox.Options{RequirePKCE: true})
	e.db.Update(func(tx *store.Tx) error {
		p, _ := tx.Provider("sandbox")
		p.AuthParams = map[string]string{"access_type": "offline"}
		return tx.PutProvider(p)
	})
	b := e.signedIn()
	mustContain(t, "token page before", b.get("/tokens/api"), "not authorized", "Get authorization token")

	authURL := b.startAuthorization("api")
	q := authURL.Query()
	checks := map[string]string{
		"client_id": srv.ClientID(), "redirect_uri": e.srv.callback, "response_type": "code",
		"scope": "read write", "code_challenge_method": "S256", "prompt": "consent", "access_type": "offline",
	}
	for k, want := range checks {
		if got := q.Get(k); got != want {
			t.Errorf("authorization URL %s = %q, want %q", k, got, want)
		}
	}
	if len(q.Get("state")) < 40 || len(q.Get("code_challenge")) != 43 {
		t.Errorf("authorization URL state %q, code_challenge %q: want a random state and an S256 challenge", q.Get("state"), q.Get("code_challenge"))
	}
	if !strings.HasPrefix(authURL.String(), srv.AuthURL()+"?") {
		t.Errorf("redirected to %s, want the provider's authorization URL", authURL)
	}
	if !strings.Contains(e.log.String(), "token authorization started") {
		t.Error("the start of the authorization was not logged")
	}

	callback := signInAtProvider(t, authURL)
	r := b.get(callback)
	if r.status != http.StatusSeeOther || r.loc != "/tokens/api" {
		t.Fatalf("callback: %d to %q, want 303 to the token page\n%s", r.status, r.loc, text(r.body))
	}
	page := b.follow(r)
	mustContain(t, "token page after the callback", page, "Token api is authorized", "expires in 1 h", "authorized", "Refresh now", "stored, encrypted")
	tok := e.token("api")
	if tok.State != store.StateAuthorized || tok.Secret.AccessToken == "" || tok.Secret.RefreshToken == "" || tok.LastMessage != "" {
		t.Fatalf("stored token: state %s, lastMessage %q", tok.State, tok.LastMessage)
	}
	if n := srv.Stats().TokenRequests["authorization_code"]; n != 1 {
		t.Errorf("code exchanges = %d, want 1", n)
	}

	// The state is single-use.
	r = b.get(callback)
	if r.status != http.StatusBadRequest || !strings.Contains(text(r.body), "does not match an authorization in progress") {
		t.Errorf("the same callback again: %d, want 400 saying so", r.status)
	}
	if n := srv.Stats().TokenRequests["authorization_code"]; n != 1 {
		t.Errorf("a replayed callback reached the token endpoint (%d exchanges)", n)
	}

	// The token works for signing, through the same manager scripts use.
	req, _ := http.NewRequest("GET", srv.APIURL()+"/me", nil)
	if err := e.m.Sign(context.Background(), "api", req); err != nil {
		t.Fatalf("Sign with the new token: %v", err)
	}

	// Refresh now.
	r = b.post("/tokens/api/refresh", b.form())
	mustContain(t, "after Refresh now", b.follow(r), "Token api refreshed", "expires in 1 h")
	if st := srv.Stats(); st.RefreshRequests != 1 {
		t.Errorf("refreshes = %d, want 1", st.RefreshRequests)
	}

	// Nothing secret on any page or in the log.
	tok = e.token("api")
	cbq, _ := url.Parse(callback)
	for what, secret := range map[string]string{
		"client secret": srv.ClientSecret(), "access token": tok.Secret.AccessToken, "refresh token": tok.Secret.RefreshToken,
		"code": cbq.Query().Get("code"), "state": q.Get("state"), "PKCE challenge": q.Get("code_challenge"),
	} {
		if strings.Contains(e.pages.String(), secret) {
			t.Errorf("the %s appears in a page", what)
		}
		if strings.Contains(e.log.String(), secret) {
			t.Errorf("the %s appears in the log", what)
		}
	}
}

func TestCallbackRefusals(t *testing.T) {
	e := newEnv(t, envOpts{})
	srv := e.withSandbox(sandbox.Options{})
	admin := e.signedIn()

	// Malformed callbacks.
	for _, q := range []string{
		"", "code=abc", "state=", "state=x", "state=a&state=b&code=c", "state=s&code=a&code=b",
		"state=" + strings.Repeat("s", 600) + "&code=c", "code=c&state=%zz", "state=s&code=" + strings.Repeat("c", maxCallbackQuery),
	} {
		r := admin.get("/oauth/callback?" + q)
		if r.status != http.StatusBadRequest || !strings.Contains(text(r.body), "Not a valid callback") {
			t.Errorf("callback ?%.40s: %d, want 400", q, r.status)
		}
	}

	// A state this console never issued.
	if r := admin.get("/oauth/callback?state=forged-state-value&code=abc"); r.status != http.StatusBadRequest {
		t.Errorf("forged state: %d, want 400", r.status)
	}

	// A state issued to another session is refused and left for its owner.
	authURL := admin.startAuthorization("api")
	callback := signInAtProvider(t, authURL)
	intruder := e.signedIn()
	if r := intruder.get(callback); r.status != http.StatusForbidden || !strings.Contains(text(r.body), "started from another browser session") {
		t.Errorf("callback in another session: %d, want 403", r.status)
	}
	if e.token("api").State != store.StateUnauthorized || srv.Stats().TokenRequests["authorization_code"] != 0 {
		t.Fatal("a foreign session's callback was exchanged")
	}
	if r := admin.get(callback); r.status != http.StatusSeeOther || e.token("api").State != store.StateAuthorized {
		t.Fatalf("the owner's callback after a foreign attempt: %d, state %s", r.status, e.token("api").State)
	}

	// A stale state (over ten minutes) is refused and dropped.
	e.db.Update(func(tx *store.Tx) error {
		t, _ := tx.Token("api")
		t.State, t.Secret = store.StateUnauthorized, store.Secret{}
		return tx.PutToken(t)
	})
	authURL = admin.startAuthorization("api")
	callback = signInAtProvider(t, authURL)
	e.clock.Add(tokens.AuthorizationTTL + time.Second)
	r := admin.get(callback)
	if r.status != http.StatusSeeOther || r.loc != "/tokens/api" {
		t.Fatalf("stale callback: %d to %q", r.status, r.loc)
	}
	mustContain(t, "stale callback", admin.follow(r), "took longer than 10m0s")
	if e.token("api").State != store.StateUnauthorized {
		t.Error("a stale callback authorized the token")
	}
	if r := admin.get(callback); r.status != http.StatusBadRequest {
		t.Errorf("stale state used again: %d, want 400 (dropped)", r.status)
	}

	// No session at all: refused, and the authorization stays pending.
	authURL = admin.startAuthorization("api")
	q := authURL.Query()
	anon := e.browser()
	errCallback := "/oauth/callback?" + url.Values{"state": {q.Get("state")}, "error": {"access_denied"}, "error_description": {"The user said no"}}.Encode()
	if r := anon.get(errCallback); r.status != http.StatusForbidden || !strings.Contains(text(r.body), "not signed in") {
		t.Errorf("callback without a session: %d, want 403", r.status)
	}

	// A provider error lands in lastMessage and on the page.
	r = admin.get(errCallback)
	if r.status != http.StatusSeeOther {
		t.Fatalf("provider error callback: %d", r.status)
	}
	page := admin.follow(r)
	mustContain(t, "token page after access_denied", page, "access_denied: The user said no", "Last message")
	if msg := e.token("api").LastMessage; !strings.Contains(msg, "access_denied") {
		t.Errorf("lastMessage after access_denied = %q", msg)
	}

	// A failed exchange lands there too.
	srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant","error_description":"code expired"}`))
		return true
	})
	authURL = admin.startAuthorization("api")
	callback = signInAtProvider(t, authURL)
	r = admin.get(callback)
	mustContain(t, "token page after a failed exchange", admin.follow(r), "exchanging the code: provider answered invalid_grant: code expired")
	if msg := e.token("api").LastMessage; !strings.Contains(msg, "invalid_grant") {
		t.Errorf("lastMessage after a failed exchange = %q", msg)
	}
	if n := e.pendingCount(); n != 0 {
		t.Errorf("%d authorizations still pending", n)
	}
	for _, want := range []string{"unknown or used state", "state issued to another session", "authorization expired", "no session", "authorization from the console failed"} {
		if !strings.Contains(e.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.addProvider("p", "https://login.example.com")
	e.addToken("api", "p", nil)
	b := e.signedIn()
	// The provider went away: the reason is shown, nothing is pending.
	e.db.Update(func(tx *store.Tx) error { return tx.DeleteProvider("p", true) })
	r := b.post("/tokens/api/authorize", b.form())
	mustContain(t, "authorize without a provider", b.follow(r), "Cannot start the authorization", "does not exist")
	if e.pendingCount() != 0 {
		t.Error("an authorization is pending for a token without a provider")
	}
	// A deleted token's pending authorizations go with it, on every node:
	// the callback of one started before the delete is refused even once
	// the token exists again.
	e.addProvider("p", "https://login.example.com")
	state := b.startAuthorization("api").Query().Get("state")
	b.post("/tokens/api/delete", b.form())
	e.clock.Add(time.Second)
	e.addToken("api", "p", nil)
	r = b.get("/oauth/callback?" + url.Values{"state": {state}, "code": {"c"}}.Encode())
	if r.status != http.StatusBadRequest || !strings.Contains(text(r.body), "does not match an authorization in progress") {
		t.Errorf("callback of a deleted token's authorization: %d, want 400 unknown\n%s", r.status, text(r.body))
	}
}
