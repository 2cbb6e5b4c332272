package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
)

var linkURLRE = regexp.MustCompile(`id="new-link-url">([^<]+)<`)

// createLink makes a reconnect link for token through the admin's page and
// returns its path and query (/reconnect?link=SECRET).
func (b *browser) createLink(token, expires string) string {
	b.e.t.Helper()
	r := b.post("/tokens/"+token+"/links", b.form("expires", expires))
	m := linkURLRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		b.e.t.Fatalf("create a reconnect link: %d\n%s", r.status, text(r.body))
	}
	u, err := url.Parse(m[1])
	if err != nil || u.Host != b.e.ts.Listener.Addr().String() {
		b.e.t.Fatalf("the link %q is not on the console's callback host", m[1])
	}
	return u.RequestURI()
}

// linkSecret is the secret in a link's path and query.
func linkSecret(path string) string {
	u, _ := url.Parse(path)
	return u.Query().Get("link")
}

var formTokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// pressLink opens a reconnect link and presses its button, returning the
// provider's authorization URL.
func (b *browser) pressLink(path string) *url.URL {
	b.e.t.Helper()
	page := b.get(path)
	m := formTokenRE.FindStringSubmatch(page.body)
	if page.status != http.StatusOK || m == nil {
		b.e.t.Fatalf("open the link: %d\n%s", page.status, text(page.body))
	}
	r := b.post("/reconnect", url.Values{"csrf": {m[1]}, "link": {linkSecret(path)}})
	if r.status != http.StatusSeeOther {
		b.e.t.Fatalf("press the link's button: %d\n%s", r.status, text(r.body))
	}
	u, _ := url.Parse(r.loc)
	return u
}

func TestReconnectLink(t *testing.T) {
	e := newEnv(t, envOpts{})
	srv := e.withSandbox(sandbox.Options{RequirePKCE: true})
	admin := e.signedIn()
	mustContain(t, "token page", admin.get("/tokens/api"), "Reconnect links")
	path := admin.createLink("api", "24h")
	secret := linkSecret(path)
	mustContain(t, "links page", admin.get("/tokens/api/links"), "usable", "console session")

	holder := e.browser() // no session, never signed in
	page := holder.get(path)
	mustContain(t, "link page", page, "Authorize api at sandbox", "Sign in at sandbox")
	for _, leak := range []string{srv.URL(), "Refresh now", "Revoke", "Tokens", "consent"} {
		if strings.Contains(text(page.body), leak) {
			t.Errorf("the link page shows %q", leak)
		}
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+srv.URL()) {
		t.Errorf("the link page's CSP does not let its form go to the provider: %s", csp)
	}

	// A failed sign-in (the provider says access_denied) leaves the link usable.
	authURL := holder.pressLink(path)
	if !strings.HasPrefix(authURL.String(), srv.AuthURL()+"?") || authURL.Query().Get("prompt") != "consent" {
		t.Fatalf("the link's button led to %s, want the provider with the token's prompt", authURL)
	}
	denied := e.srv.callback + "?" + url.Values{"state": {authURL.Query().Get("state")}, "error": {"access_denied"}}.Encode()
	r := holder.get(denied)
	if r.status != http.StatusBadGateway {
		t.Fatalf("a denied sign-in: %d\n%s", r.status, text(r.body))
	}
	mustContain(t, "denied", r, "The sign-in did not work", `"access_denied"`, "try once more")

	// Then the sign-in works; the callback needs no session.
	authURL = holder.pressLink(path)
	callback := signInAtProvider(t, authURL)
	r = holder.get(callback)
	if r.status != http.StatusOK {
		t.Fatalf("callback of the link: %d\n%s", r.status, text(r.body))
	}
	mustContain(t, "done", r, "Token api is authorized")
	for _, leak := range []string{"expires", srv.URL(), "refresh"} {
		if strings.Contains(strings.ToLower(text(r.body)), leak) {
			t.Errorf("the outcome page shows %q", leak)
		}
	}
	tok := e.token("api")
	if tok.State != store.StateAuthorized || tok.Secret.RefreshToken == "" {
		t.Fatalf("token after the link: %s", tok.State)
	}

	// Used: the link is refused, and so is the same callback again.
	r = holder.get(path)
	if r.status != http.StatusGone {
		t.Fatalf("the used link again: %d", r.status)
	}
	mustContain(t, "used link", r, "This link was already used")
	if r = holder.get(callback); r.status == http.StatusOK {
		t.Errorf("the same callback again: %d", r.status)
	}
	var l store.ReconnectLink
	e.db.View(func(tx *store.Tx) (err error) { l, err = tx.ReconnectLink(secret); return err })
	if l.Started != 2 || l.UsedFrom != "127.0.0.1" || l.Used.IsZero() {
		t.Errorf("the link's record after use: %+v", l)
	}
	mustContain(t, "links page after use", admin.get("/tokens/api/links"), "used", "from 127.0.0.1")

	// Logged, without the secret.
	for _, want := range []string{"reconnect link created", "reconnect link opened", "token authorization started with a reconnect link",
		"authorization with a reconnect link failed", "token authorized with a reconnect link", "reconnect link refused"} {
		if !strings.Contains(e.log.String(), want) {
			t.Errorf("the log does not say %q", want)
		}
	}
	for what, s := range map[string]string{"link secret": secret, "access token": tok.Secret.AccessToken, "refresh token": tok.Secret.RefreshToken} {
		if strings.Contains(e.log.String(), s) {
			t.Errorf("the %s is in the log", what)
		}
	}
}

func TestReconnectLinkRefusals(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.withSandbox(sandbox.Options{})
	admin := e.signedIn()
	expired, revoked, unused := admin.createLink("api", "1h"), admin.createLink("api", "24h"), admin.createLink("api", "24h")
	id := ""
	e.db.View(func(tx *store.Tx) error {
		l, err := tx.ReconnectLink(linkSecret(revoked))
		id = l.ID()
		return err
	})
	mustContain(t, "revoke", admin.follow(admin.post("/tokens/api/links/"+id+"/revoke", admin.form())), "revoked: it no longer opens anything")
	e.clock.Add(time.Hour)

	holder := e.browser()
	for _, tc := range []struct {
		name, path string
		status     int
		says       string
	}{
		{"expired", expired, http.StatusGone, "This link has expired"},
		{"revoked", revoked, http.StatusGone, "This link was revoked"},
		{"unknown", "/reconnect?link=" + strings.Repeat("x", 43), http.StatusNotFound, "Link not found"},
		{"not a link's shape", "/reconnect?link=api", http.StatusNotFound, "Link not found"},
	} {
		r := holder.get(tc.path)
		if r.status != tc.status {
			t.Errorf("%s link: %d, want %d", tc.name, r.status, tc.status)
		}
		mustContain(t, tc.name+" link", r, tc.says)
		if strings.Contains(r.body, `id="reconnect-authorize"`) {
			t.Errorf("%s link: the page offers the button", tc.name)
		}
	}
	// The button of a link that expired meanwhile starts nothing.
	r := holder.post("/reconnect", url.Values{"csrf": {"x"}, "link": {linkSecret(expired)}})
	if r.status == http.StatusSeeOther {
		t.Errorf("POST to an expired link redirected to %s", r.loc)
	}
	// The button needs the page's form token.
	page := holder.get(unused)
	if page.status != http.StatusOK {
		t.Fatalf("unused link: %d", page.status)
	}
	if r := holder.post("/reconnect", url.Values{"csrf": {"forged"}, "link": {linkSecret(unused)}}); r.status != http.StatusForbidden {
		t.Errorf("POST without the page's form token: %d, want 403", r.status)
	}
	// Sent from another site.
	holder.header.Set("Sec-Fetch-Site", "cross-site")
	if r := holder.post("/reconnect", url.Values{"csrf": {formTokenRE.FindStringSubmatch(page.body)[1]}, "link": {linkSecret(unused)}}); r.status != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", r.status)
	}
	holder.header.Del("Sec-Fetch-Site")

	// A token that can no longer be signed in (its provider now uses
	// client credentials): its link opens nothing.
	e.db.Update(func(tx *store.Tx) error {
		p, _ := tx.Provider("sandbox")
		p.GrantType, p.AuthURL = store.GrantClientCredentials, ""
		return tx.PutProvider(p)
	})
	r = holder.get(unused)
	if r.status != http.StatusConflict {
		t.Errorf("the link of a token without a sign-in now: %d, want 409", r.status)
	}
	mustContain(t, "changed token", r, "This link cannot be used any more")

	// A deleted token takes its links with it.
	admin.post("/tokens/api/delete", admin.form())
	if r := holder.get(unused); r.status != http.StatusNotFound {
		t.Errorf("the link of a deleted token: %d, want 404", r.status)
	}
}

// Holding a link (and the cookie its button sets) opens no console page.
func TestReconnectLinkOpensNothingElse(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.withSandbox(sandbox.Options{})
	e.addToken("other", "sandbox", nil)
	admin := e.signedIn()
	path := admin.createLink("api", "24h")
	holder := e.browser()
	holder.pressLink(path)
	if cs := holder.jar.Cookies(mustParse(t, e.ts.URL)); len(cs) < 2 {
		t.Fatalf("the holder's cookies: %v, want the form and reconnect cookies", cs)
	}
	form := url.Values{"csrf": {"anything"}}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/tokens"}, {"GET", "/tokens/api"}, {"GET", "/tokens/other"}, {"GET", "/tokens/api/links"},
		{"GET", "/providers"}, {"GET", "/providers/sandbox"}, {"GET", "/cron"}, {"GET", "/tokens/api/edit"},
		{"POST", "/tokens/api/authorize"}, {"POST", "/tokens/other/authorize"}, {"POST", "/tokens/api/links"},
		{"POST", "/tokens/api/refresh"}, {"POST", "/tokens/api/revoke"}, {"POST", "/tokens/api/delete"}, {"POST", "/tokens/api/edit"},
	} {
		var r response
		if tc.method == "GET" {
			r = holder.get(tc.path)
		} else {
			r = holder.post(tc.path, form)
		}
		switch {
		case r.status == http.StatusSeeOther && strings.HasPrefix(r.loc, "/login"):
		case r.status == http.StatusForbidden || r.status == http.StatusMovedPermanently:
		default:
			t.Errorf("%s %s with a link's cookies: %d %s, want sign-in first", tc.method, tc.path, r.status, r.loc)
		}
	}
	if tok := e.token("api"); tok.State != store.StateUnauthorized {
		t.Errorf("token changed: %s", tok.State)
	}
}

// Unknown links from one address are slowed down as wrong passwords are.
func TestReconnectLinkThrottled(t *testing.T) {
	e := newEnv(t, envOpts{})
	holder := e.browser()
	var r response
	for i := range freeFailures + 1 {
		r = holder.get("/reconnect?link=" + strings.Repeat(string(rune('a'+i)), 43))
		if r.status != http.StatusNotFound {
			t.Fatalf("unknown link %d: %d", i, r.status)
		}
	}
	r = holder.get("/reconnect?link=" + strings.Repeat("z", 43))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" {
		t.Fatalf("after %d unknown links: %d (Retry-After %q), want 429", freeFailures+1, r.status, r.header.Get("Retry-After"))
	}
	e.clock.Add(2 * time.Second)
	if r = holder.get("/reconnect?link=" + strings.Repeat("z", 43)); r.status != http.StatusNotFound {
		t.Errorf("after the wait: %d, want 404", r.status)
	}
}

func TestReconnectURL(t *testing.T) {
	for _, tc := range []struct{ callback, want, err string }{
		{"http://127.0.0.1:8080/oauth/callback", "http://127.0.0.1:8080/reconnect?link=S", ""},
		{"https://ops.example.com/scriptrun/oauth/callback", "https://ops.example.com/scriptrun/reconnect?link=S", ""},
		{"https://ops.example.com/cb", "", "does not end in /oauth/callback"},
		{"ops.example.com/oauth/callback", "", "not an absolute"},
	} {
		got, err := ReconnectURL(tc.callback, "S")
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ReconnectURL(%q) = %q, %v; want %q, %q", tc.callback, got, err, tc.want, tc.err)
		}
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
