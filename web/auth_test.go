package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// routeForms are the console's state-changing requests, each with a form
// that would change something if it were accepted.
var routeForms = []struct {
	path string
	form url.Values
}{
	{"/logout", url.Values{}},
	{"/tokens/-/new", url.Values{"name": {"evil"}, "type": {"oauth2"}, "provider": {"p"}, "active": {"on"}}},
	{"/tokens/api/edit", url.Values{"base_url": {"https://evil.example.com"}, "active": {"on"}}},
	{"/tokens/api/delete", url.Values{}},
	{"/tokens/api/authorize", url.Values{}},
	{"/tokens/api/refresh", url.Values{}},
	{"/providers/-/new", url.Values{"name": {"evil"}, "client_id": {"x"}, "grant_type": {"authorization_code"}, "auth_url": {"https://evil.example.com/a"}, "token_url": {"https://evil.example.com/t"}, "auth_style": {"header"}}},
	{"/providers/unused/edit", url.Values{"client_id": {"changed"}, "grant_type": {"authorization_code"}, "auth_url": {"https://evil.example.com/a"}, "token_url": {"https://evil.example.com/t"}, "auth_style": {"header"}}},
	{"/providers/unused/delete", url.Values{}},
}

var signedInPages = []string{
	"/", "/tokens", "/tokens/-/new", "/tokens/api", "/tokens/api/edit", "/tokens/api/delete",
	"/providers", "/providers/-/new", "/providers/p", "/providers/p/edit", "/providers/p/delete",
}

// snapshot is the database's records, to show that a refused request changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	var out []byte
	if err := e.db.View(func(tx *store.Tx) error {
		ps, err := tx.Providers()
		if err != nil {
			return err
		}
		ts, err := tx.Tokens()
		if err != nil {
			return err
		}
		out, err = json.Marshal([]any{ps, ts})
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return string(out)
}

func (e *env) withRecords() {
	e.addProvider("p", "https://login.example.com")
	e.addProvider("unused", "https://other.example.com")
	e.addToken("api", "p", nil)
}

func TestPagesNeedASession(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.withRecords()
	anon := e.browser()
	for _, p := range signedInPages {
		r := anon.get(p)
		if r.status != http.StatusSeeOther || r.loc != "/login?next="+url.QueryEscape(p) {
			t.Errorf("GET %s without a session: %d to %q, want 303 to the sign-in page with next", p, r.status, r.loc)
		}
	}
	before := e.snapshot()
	csrf := e.signedIn().csrf() // a real token, but from another browser's session
	for _, rf := range routeForms {
		f := url.Values{"csrf": {csrf}}
		for k, v := range rf.form {
			f[k] = v
		}
		if r := anon.post(rf.path, f); r.status != http.StatusForbidden {
			t.Errorf("POST %s without a session: %d, want 403", rf.path, r.status)
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("requests without a session changed the database:\nbefore %s\nafter  %s", before, after)
	}
	if n := e.pendingCount(); n != 0 {
		t.Errorf("%d authorizations pending after refused requests", n)
	}
}

func TestFormsNeedTheSessionsCSRFToken(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.withRecords()
	b := e.signedIn()
	other := e.signedIn().csrf()
	before := e.snapshot()
	for _, rf := range routeForms {
		for name, csrf := range map[string]string{"missing": "", "wrong": "x" + other[1:], "another session's": other} {
			f := url.Values{}
			for k, v := range rf.form {
				f[k] = v
			}
			if csrf != "" {
				f.Set("csrf", csrf)
			}
			r := b.post(rf.path, f)
			if r.status != http.StatusForbidden {
				t.Errorf("POST %s with a %s CSRF token: %d, want 403", rf.path, name, r.status)
			}
			if rf.path == "/tokens/api/edit" && name == "missing" {
				mustContain(t, "bad CSRF", r, "Form expired")
			}
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("forms with a bad CSRF token changed the database")
	}
	// The session survived all that and still works.
	if r := b.get("/tokens"); r.status != http.StatusOK {
		t.Errorf("GET /tokens after refused forms: %d", r.status)
	}
	if !strings.Contains(e.log.String(), "bad CSRF token") {
		t.Error("refused forms were not logged")
	}
}

func TestCrossOriginFormsRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.withRecords()
	b := e.signedIn()
	f := b.form("base_url", "https://evil.example.com", "active", "on")
	before := e.snapshot()
	b.header.Set("Sec-Fetch-Site", "cross-site")
	if r := b.post("/tokens/api/edit", f); r.status != http.StatusForbidden {
		t.Errorf("cross-site POST with a valid CSRF token: %d, want 403", r.status)
	}
	b.header.Del("Sec-Fetch-Site")
	b.header.Set("Origin", "https://evil.example.com")
	if r := b.post("/tokens/api/edit", f); r.status != http.StatusForbidden {
		t.Errorf("POST from another Origin with a valid CSRF token: %d, want 403", r.status)
	}
	if e.snapshot() != before {
		t.Error("a cross-origin form changed the database")
	}
	b.header.Set("Origin", e.ts.URL)
	if r := b.post("/tokens/api/edit", f); r.status != http.StatusSeeOther {
		t.Errorf("same-origin POST: %d, want 303", r.status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.withRecords()
	b := e.signedIn()
	for _, p := range append([]string{"/login", "/nope", "/static/style.css"}, signedInPages[1:]...) {
		r := b.get(p)
		h := r.header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", p, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", p, k, got, want)
			}
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q, want no-store on pages", p, h.Get("Cache-Control"))
			}
			if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " style=") || strings.Contains(r.body, "<style") || strings.Contains(r.body, " on") && strings.Contains(r.body, "onclick") {
				t.Errorf("%s: page has inline script or style", p)
			}
		}
	}
	// The token page lets its "Get authorization token" form lead to the provider.
	if csp := b.get("/tokens/api").header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://login.example.com;") {
		t.Errorf("token page CSP %q does not allow the form to lead to the provider", csp)
	}
	if csp := b.get("/tokens").header.Get("Content-Security-Policy"); !strings.Contains(csp, "https://login.example.com") || !strings.Contains(csp, "https://other.example.com") {
		t.Errorf("token list CSP %q does not allow its forms to lead to the providers", csp)
	}
}

func TestSetupLink(t *testing.T) {
	e := newEnv(t, envOpts{noPassword: true})
	setup := e.srv.SetupPath()
	if !strings.HasPrefix(setup, "/setup?token=") || len(setup) < 50 {
		t.Fatalf("SetupPath on a home without a password = %q, want a one-time link", setup)
	}
	token := strings.TrimPrefix(setup, "/setup?token=")
	b := e.browser()
	mustContain(t, "sign-in page without a password", b.get("/login"), "No admin password is set yet", "scriptrun admin password")

	for _, bad := range []string{"/setup", "/setup?token=wrong", "/setup?token=" + token[:len(token)-1]} {
		if r := b.get(bad); r.status != http.StatusNotFound || !strings.Contains(text(r.body), "not valid") {
			t.Errorf("GET %s: %d, want 404 saying the link is not valid", bad, r.status)
		}
	}
	r := b.get(setup)
	if r.status != http.StatusOK {
		t.Fatalf("GET the setup link: %d", r.status)
	}
	csrf := csrfRE.FindStringSubmatch(r.body)[1]
	post := func(token, pw, confirm string) response {
		return b.post("/setup", url.Values{"csrf": {csrf}, "token": {token}, "password": {pw}, "confirm": {confirm}})
	}
	if r := post(token, "long enough one", "long enough two"); r.status != http.StatusUnprocessableEntity {
		t.Errorf("different confirmation: %d, want 422", r.status)
	}
	if r := post(token, "short", "short"); r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "too short") {
		t.Errorf("short password: %d, want 422 saying so", r.status)
	}
	if r := post("wrong", testPassword, testPassword); r.status != http.StatusNotFound {
		t.Errorf("wrong setup token: %d, want 404", r.status)
	}
	if r := b.post("/setup", url.Values{"token": {token}, "password": {testPassword}, "confirm": {testPassword}}); r.status != http.StatusForbidden {
		t.Errorf("setup without the form token: %d, want 403", r.status)
	}
	r = post(token, testPassword, testPassword)
	if r.status != http.StatusSeeOther || r.loc != "/" {
		t.Fatalf("setting the password: %d to %q, want 303 to /", r.status, r.loc)
	}
	checkSessionCookie(t, r, e.srv.sessionCookie(), false)
	page := b.follow(b.follow(r))
	mustContain(t, "first page after setup", page, "The admin password is set and you are signed in")
	var pw store.AdminPassword
	e.db.View(func(tx *store.Tx) (err error) { pw, err = tx.AdminPassword(); return err })
	if ok, _ := store.CheckAdminPassword(pw.Hash, testPassword); !ok {
		t.Error("the stored hash does not check the password")
	}
	// The link worked once.
	if e.srv.SetupPath() != "" {
		t.Error("SetupPath still offers a link after the password was set")
	}
	if r := post(token, "another password", "another password"); r.status != http.StatusConflict {
		t.Errorf("setup link used twice: %d, want 409", r.status)
	}
	mustContain(t, "setup link after use", e.browser().get(setup), "already set")
	if strings.Contains(e.log.String(), token) {
		t.Error("the setup token appears in the log")
	}
}

// A password set from the command line voids the setup link.
func TestSetupLinkVoidedByCLI(t *testing.T) {
	e := newEnv(t, envOpts{noPassword: true})
	setup := e.srv.SetupPath()
	hash := passwordHash(t)
	e.db.Update(func(tx *store.Tx) error { return tx.SetAdminPassword(hash) })
	b := e.browser()
	mustContain(t, "setup link after the CLI set a password", b.get(setup), "already set")
	if e.srv.SetupPath() != "" {
		t.Error("SetupPath still offers a link")
	}
}

func checkSessionCookie(t *testing.T, r response, name string, secure bool) {
	t.Helper()
	for _, line := range r.header.Values("Set-Cookie") {
		if !strings.HasPrefix(line, name+"=") {
			continue
		}
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatal(err)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != secure || c.Domain != "" || len(c.Value) < 43 {
			t.Errorf("session cookie %q: want HttpOnly, SameSite=Lax, Path=/, host-only, Secure=%v, 256 random bits", line, secure)
		}
		return
	}
	t.Errorf("no %s cookie set; Set-Cookie: %q", name, r.header.Values("Set-Cookie"))
}

// signInForm loads the sign-in page and returns its form token.
func (b *browser) signInForm() string {
	b.e.t.Helper()
	r := b.get("/login")
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.e.t.Fatalf("sign-in page has no form token (status %d)", r.status)
	}
	return m[1]
}

func (b *browser) signIn(csrf, password, next string) response {
	return b.post("/login", url.Values{"csrf": {csrf}, "password": {password}, "next": {next}})
}

func TestSignInAndOut(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.browser()
	csrf := b.signInForm()
	if r := b.signIn("", testPassword, "/"); r.status != http.StatusForbidden {
		t.Errorf("sign-in without the form token: %d, want 403", r.status)
	}
	if r := b.signIn(csrf, "wrong password", "/"); r.status != http.StatusUnauthorized || !strings.Contains(text(r.body), "Wrong password") {
		t.Errorf("wrong password: %d, want 401 saying so", r.status)
	}
	r := b.signIn(csrf, testPassword, "/providers")
	if r.status != http.StatusSeeOther || r.loc != "/providers" {
		t.Fatalf("sign-in: %d to %q, want 303 to next", r.status, r.loc)
	}
	checkSessionCookie(t, r, "scriptrun_session", false)
	if r := b.get("/providers"); r.status != http.StatusOK {
		t.Fatalf("signed in, GET /providers: %d", r.status)
	}
	if !strings.Contains(e.log.String(), "admin signed in") || !strings.Contains(e.log.String(), "sign-in failed: wrong password") {
		t.Errorf("sign-ins not logged:\n%s", e.log)
	}
	// The sign-in page sends a signed-in browser on.
	if r := b.get("/login?next=/tokens"); r.status != http.StatusSeeOther || r.loc != "/tokens" {
		t.Errorf("sign-in page when signed in: %d to %q", r.status, r.loc)
	}
	r = b.post("/logout", b.form())
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", r.status)
	}
	mustContain(t, "after signing out", b.follow(r), "You are signed out")
	if r := b.get("/tokens"); r.status != http.StatusSeeOther {
		t.Errorf("after signing out, GET /tokens: %d, want a redirect to sign in", r.status)
	}
	if strings.Contains(e.log.String(), testPassword) {
		t.Error("the password appears in the log")
	}
}

func TestSignInKeepsNextOnTheConsole(t *testing.T) {
	tests := map[string]string{
		"/tokens/api":                 "/tokens/api",
		"/tokens?x=1":                 "/tokens?x=1",
		"":                            "/",
		"//evil.example.com/":         "/",
		"/\\evil.example.com":         "/",
		"https://evil.example.com/":   "/",
		"javascript:alert(1)":         "/",
		"/ok\r\nSet-Cookie: x=1":      "/",
		"\\\\evil.example.com":        "/",
		"/%2F%2Fevil.example.com":     "/%2F%2Fevil.example.com",
		"https:/\\/evil.example.com/": "/",
	}
	for in, want := range tests {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSecureCookiesOverHTTPS(t *testing.T) {
	e := newEnv(t, envOpts{modify: func(o *Options) { o.SecureCookies = true }})
	b := e.browser()
	r := b.get("/login")
	if c := r.header.Get("Set-Cookie"); !strings.HasPrefix(c, "__Host-scriptrun_form=") || !strings.Contains(c, "Secure") {
		t.Errorf("form cookie with SecureCookies: %q, want __Host- and Secure", c)
	}
	// Go's cookie jar, like browsers, does not send Secure cookies over
	// plain http: read the form token from the header.
	csrf := csrfRE.FindStringSubmatch(r.body)[1]
	req := e.request("POST", "/login", strings.NewReader(url.Values{"csrf": {csrf}, "password": {testPassword}, "next": {"/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "__Host-scriptrun_form", Value: csrf})
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	checkSessionCookie(t, response{status: rec.Code, header: rec.Header()}, "__Host-scriptrun_session", true)
}

// post signs in from a client address, through the handler directly.
func signInFrom(e *env, addr, password string) *httptest.ResponseRecorder {
	req := e.request("POST", "/login", strings.NewReader(url.Values{"csrf": {"tok-" + strings.Repeat("x", 39)}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: e.srv.formCookie(), Value: "tok-" + strings.Repeat("x", 39)})
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

// Failed sign-ins slow an address down, capped, and never lock the admin
// out: a correct password works as soon as the wait is over, from another
// address at once, and after `scriptrun admin password` at once.
func TestSignInDelayNotLockout(t *testing.T) {
	e := newEnv(t, envOpts{modify: func(o *Options) { o.LoginDelay = time.Second; o.MaxLoginDelay = 8 * time.Second }})
	// This test is about the delays: skip the deliberately slow hash.
	e.srv.checkHash = func(_, password string) (bool, error) { return password == testPassword, nil }
	const attacker, admin = "192.0.2.66:4000", "198.51.100.7:5000"
	for i := 1; i <= freeFailures; i++ {
		if rec := signInFrom(e, attacker, "guess"); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "Wait") {
			t.Fatalf("failure %d: %d, want 401 with no delay yet", i, rec.Code)
		}
	}
	rec := signInFrom(e, attacker, "guess")
	if rec.Code != http.StatusUnauthorized || !strings.Contains(text(rec.Body.String()), "Wait 1 second") {
		t.Fatalf("failure %d: %d %q, want 401 announcing a 1 s wait", freeFailures+1, rec.Code, text(rec.Body.String()))
	}
	// While waiting even the right password is not checked.
	rec = signInFrom(e, attacker, testPassword)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("attempt during the wait: %d, Retry-After %q; want 429 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Another address is not slowed down.
	if rec := signInFrom(e, admin, testPassword); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign-in from another address: %d, want 303", rec.Code)
	}
	// The delay doubles and stops at the cap; refused attempts do not add to it.
	var waits []string
	for i := 0; i < 8; i++ {
		e.clock.Add(time.Minute)
		signInFrom(e, attacker, "guess")
		for j := 0; j < 5; j++ {
			signInFrom(e, attacker, "guess") // refused, not counted
		}
		waits = append(waits, signInFrom(e, attacker, testPassword).Header().Get("Retry-After"))
	}
	if got := strings.Join(waits, " "); got != "2 4 8 8 8 8 8 8" {
		t.Errorf("waits after successive failures = %s, want 2 4 8 8 8 8 8 8 (doubling, capped at MaxLoginDelay)", got)
	}
	// After the wait, the right password works.
	e.clock.Add(8 * time.Second)
	if rec := signInFrom(e, attacker, testPassword); rec.Code != http.StatusSeeOther {
		t.Fatalf("right password after the wait: %d, want 303", rec.Code)
	}
	// Success clears the record: the next failure costs nothing.
	if rec := signInFrom(e, attacker, "guess"); strings.Contains(rec.Body.String(), "Wait") {
		t.Error("a success did not clear the failures")
	}

	// A new password (scriptrun admin password) clears every delay.
	for i := 0; i < freeFailures+3; i++ {
		signInFrom(e, attacker, "guess")
	}
	if rec := signInFrom(e, attacker, testPassword); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("want the attacker address delayed, got %d", rec.Code)
	}
	e.clock.Add(time.Millisecond)
	hash := passwordHash(t)
	e.db.Update(func(tx *store.Tx) error { return tx.SetAdminPassword(hash) })
	if rec := signInFrom(e, attacker, testPassword); rec.Code != http.StatusSeeOther {
		t.Errorf("after a new admin password: %d, want the delay gone", rec.Code)
	}
	// Records of quiet addresses are forgotten.
	for i := 0; i < freeFailures+2; i++ {
		signInFrom(e, attacker, "guess")
	}
	e.clock.Add(forgetAfter)
	if rec := signInFrom(e, attacker, testPassword); rec.Code != http.StatusSeeOther {
		t.Errorf("after %v without failures: %d, want the record forgotten", forgetAfter, rec.Code)
	}
}

func TestThrottleDelays(t *testing.T) {
	th := newThrottle(nil, nil, time.Now, time.Second, time.Minute)
	var got []time.Duration
	for f := 1; f <= 12; f++ {
		got = append(got, th.delay(f))
	}
	want := []time.Duration{0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Errorf("delay after %d failures = %v, want %v", i+1, got[i], want[i]*time.Second)
		}
	}
	if d := th.delay(1 << 20); d != time.Minute {
		t.Errorf("delay after a million failures = %v, want the cap", d)
	}
}

func TestSessionsEnd(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	e.clock.Add(90 * time.Minute)
	if r := b.get("/tokens"); r.status != http.StatusOK {
		t.Fatalf("after 90 min idle (limit 2 h): %d", r.status)
	}
	e.clock.Add(2 * time.Hour)
	if r := b.get("/tokens"); r.status != http.StatusSeeOther {
		t.Errorf("after 2 h idle: %d, want the session over", r.status)
	}

	// Busy sessions end after SessionTTL anyway.
	b = e.signedIn()
	for i := 0; i < 13; i++ {
		e.clock.Add(time.Hour)
		r := b.get("/tokens")
		if want := i < 11; (r.status == http.StatusOK) != want {
			t.Errorf("hour %d of a busy session: %d", i+1, r.status)
		}
	}

	// A new admin password signs every browser out.
	b = e.signedIn()
	e.clock.Add(time.Second)
	hash := passwordHash(t)
	e.db.Update(func(tx *store.Tx) error { return tx.SetAdminPassword(hash) })
	if r := b.get("/tokens"); r.status != http.StatusSeeOther {
		t.Errorf("after a new admin password: %d, want the session over", r.status)
	}
	if !strings.Contains(e.log.String(), "the admin password changed") {
		t.Error("the ended session was not logged")
	}
}

func TestStaticAndMissingPages(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	r := b.get("/static/style.css")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") || !strings.Contains(r.body, ".records") {
		t.Errorf("stylesheet: %d %q", r.status, r.header.Get("Content-Type"))
	}
	versioned := e.srv.assetURL("style.css")
	if r := b.get(versioned); !strings.Contains(r.header.Get("Cache-Control"), "immutable") {
		t.Errorf("versioned stylesheet Cache-Control %q, want immutable", r.header.Get("Cache-Control"))
	}
	if r := b.get("/static/nope.js"); r.status != http.StatusNotFound {
		t.Errorf("missing static file: %d", r.status)
	}
	if r := b.get("/favicon.ico"); r.status != http.StatusOK || r.header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("favicon: %d %q", r.status, r.header.Get("Content-Type"))
	}
	if r := b.get("/no/such/page"); r.status != http.StatusNotFound || !strings.Contains(text(r.body), "Page not found") {
		t.Errorf("missing page: %d", r.status)
	}
	if r := b.get("/"); r.status != http.StatusSeeOther || r.loc != "/tokens" {
		t.Errorf("GET /: %d to %q, want the tokens page", r.status, r.loc)
	}
	if r := b.get("/healthz"); r.status != http.StatusOK || r.body != "ok\n" {
		t.Errorf("healthz: %d %q", r.status, r.body)
	}
	// The layout links the versioned assets and the navigation marks the section.
	page := b.get("/providers/-/new").body
	for _, want := range []string{versioned, `href="/providers" aria-current="page"`, `href="/tokens">Tokens`} {
		if !strings.Contains(page, want) {
			t.Errorf("layout lacks %q", want)
		}
	}
	// Oversized forms are refused.
	big := b.form("name", strings.Repeat("x", maxForm))
	if r := b.post("/tokens/-/new", big); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized form: %d, want 413", r.status)
	}
}
