package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
	"github.com/scriptrun/scriptrun/tokens"
)

const testPassword = "correct horse battery staple"

// clock is a settable time source shared by the console and the token
// manager, so tests expire sessions, delays and authorizations without
// sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer collects the console's log safely across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// passwordHash is an argon2id hash of testPassword in the store's format,
// at the lowest cost the store reads: the real cost (64 MiB) takes seconds
// under the race detector, and these tests are about the console. The
// setup-link test hashes at the real cost.
func passwordHash(t testing.TB) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(testPassword), salt, 1, 64, 1, 32)
	return "$argon2id$v=19$m=64,t=1,p=1$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
}

// env is a console over a real bbolt home and a real token manager, served
// by an httptest server, with a fake clock.
type env struct {
	t     testing.TB
	db    *store.DB
	m     *tokens.Manager
	srv   *Server
	ts    *httptest.Server
	clock *clock
	log   *syncBuffer
	// pages collects every HTML page the test clients saw, to check that
	// no secret was ever shown.
	pages *syncBuffer
}

type envOpts struct {
	noPassword bool
	modify     func(*Options)
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	db := storetest.Open(t, store.Options{Now: c.Now}) // one clock for records and pages
	if !o.noPassword {
		hash := passwordHash(t)
		if err := db.Update(func(tx *store.Tx) error { return tx.SetAdminPassword(hash) }); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := tokens.New(tokens.Options{DB: db, Now: c.Now, Logger: logger})
	t.Cleanup(func() { m.Close() })
	e := &env{t: t, db: db, m: m, clock: c, log: logs, pages: &syncBuffer{}}
	e.ts = httptest.NewUnstartedServer(nil)
	opts := Options{DB: db, Tokens: m, CallbackURL: "http://" + e.ts.Listener.Addr().String() + "/oauth/callback", Now: c.Now, Logger: logger}
	if o.modify != nil {
		o.modify(&opts)
	}
	var err error
	if e.srv, err = New(opts); err != nil {
		t.Fatal(err)
	}
	e.ts.Config.Handler = e.srv
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	return e
}

// request is a request for the handler directly (no network), addressed to
// the console's own host as a browser's would be.
func (e *env) request(method, target string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, target, body)
	req.Host = e.ts.Listener.Addr().String()
	return req
}

// browser is a client with its own cookies that does not follow redirects.
type browser struct {
	e   *env
	jar http.CookieJar
	hc  *http.Client
	// header is added to every request.
	header http.Header
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, jar: jar, header: http.Header{}, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// adminSet is when the admin password was set, which sessions remember.
func (e *env) adminSet() time.Time {
	e.t.Helper()
	var pw store.AdminPassword
	if err := e.db.View(func(tx *store.Tx) (err error) { pw, err = tx.AdminPassword(); return err }); err != nil {
		e.t.Fatal(err)
	}
	return pw.Set
}

// signedIn returns a browser with a fresh session, made without the
// password check (the sign-in tests do that).
func (e *env) signedIn() *browser {
	e.t.Helper()
	_, value := e.srv.sessions.create(e.adminSet(), "127.0.0.1")
	b := e.browser()
	u, _ := url.Parse(e.ts.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: e.srv.sessionCookie(), Value: value, Path: "/"}})
	return b
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   string
	loc    string
}

func (b *browser) do(method, path string, form url.Values) response {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	target := path
	if strings.HasPrefix(path, "/") {
		target = b.e.ts.URL + path
	}
	req, err := http.NewRequestWithContext(context.Background(), method, target, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		b.e.pages.Write(raw)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(raw), loc: resp.Header.Get("Location")}
}

func (b *browser) get(path string) response { return b.do(http.MethodGet, path, nil) }

// post sends a form; csrf is added when the form has none.
func (b *browser) post(path string, form url.Values) response {
	if form == nil {
		form = url.Values{}
	}
	return b.do(http.MethodPost, path, form)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page of the console.
func (b *browser) csrf() string {
	b.e.t.Helper()
	r := b.get("/tokens")
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.e.t.Fatalf("no CSRF token on /tokens (status %d)", r.status)
	}
	return m[1]
}

// form is url.Values from pairs, with the browser's CSRF token.
func (b *browser) form(kv ...string) url.Values {
	f := url.Values{"csrf": {b.csrf()}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// follow GETs a redirect's target and returns the page.
func (b *browser) follow(r response) response {
	b.e.t.Helper()
	if r.status != http.StatusSeeOther && r.status != http.StatusFound {
		b.e.t.Fatalf("want a redirect, got %d:\n%s", r.status, text(r.body))
	}
	return b.get(r.loc)
}

// text is a page's visible text, roughly, for messages and contains checks.
func text(page string) string {
	page = regexp.MustCompile(`(?s)<head>.*?</head>`).ReplaceAllString(page, " ")
	page = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(page, " ")
	return strings.Join(strings.Fields(html.UnescapeString(page)), " ")
}

// mustContain fails unless the page's text says each of wants.
func mustContain(t *testing.T, what string, r response, wants ...string) {
	t.Helper()
	txt := text(r.body)
	for _, w := range wants {
		if !strings.Contains(txt, w) {
			t.Errorf("%s: page (status %d) does not say %q:\n%s", what, r.status, w, txt)
		}
	}
}

func (e *env) token(name string) store.Token {
	e.t.Helper()
	var tok store.Token
	if err := e.db.View(func(tx *store.Tx) (err error) { tok, err = tx.Token(name); return err }); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) provider(name string) (store.Provider, error) {
	var p store.Provider
	err := e.db.View(func(tx *store.Tx) (err error) { p, err = tx.Provider(name); return err })
	return p, err
}

// addProvider stores provider name pointing at authURL's host (no network
// is needed to build authorization URLs).
func (e *env) addProvider(name, authBase string) store.Provider {
	e.t.Helper()
	p := store.Provider{
		Name: name, ClientID: "client-" + name, ClientSecret: "provider-secret-" + name + "-WXYZ",
		GrantType: store.GrantAuthorizationCode, AuthURL: authBase + "/authorize", TokenURL: authBase + "/token",
		Scopes: []string{"read"}, AuthStyle: store.AuthStyleHeader, PKCE: true,
	}
	if err := e.db.Update(func(tx *store.Tx) error { return tx.CreateProvider(p) }); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) addToken(name, provider string, mod func(*store.Token)) {
	e.t.Helper()
	tok := store.Token{Name: name, Type: store.TypeOAuth2, Provider: provider, Active: true, State: store.StateUnauthorized}
	if mod != nil {
		mod(&tok)
	}
	if err := e.db.Update(func(tx *store.Tx) error { return tx.CreateToken(tok) }); err != nil {
		e.t.Fatal(err)
	}
}

// withSandbox registers a real authorization server as provider "sandbox"
// and token "api" for it.
func (e *env) withSandbox(opts sandbox.Options) *sandbox.Server {
	e.t.Helper()
	srv, err := sandbox.Start(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { srv.Close() })
	style := store.AuthStyleHeader
	if opts.AuthStyle == sandbox.AuthStyleBody {
		style = store.AuthStyleBody
	}
	p := store.Provider{
		Name: "sandbox", ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		GrantType: store.GrantAuthorizationCode, AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL(),
		Scopes: []string{"read", "write"}, AuthStyle: style, PKCE: true,
	}
	if err := e.db.Update(func(tx *store.Tx) error { return tx.CreateProvider(p) }); err != nil {
		e.t.Fatal(err)
	}
	e.addToken("api", "sandbox", func(t *store.Token) { t.BaseURL = srv.URL(); t.Prompt = "consent" })
	return srv
}
