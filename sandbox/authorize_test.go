package sandbox

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestAuthorizationCodeFlowWithPKCE(t *testing.T) {
	t.Parallel()
	for _, style := range []string{AuthStyleHeader, AuthStyleBody} {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			cb := newCallback(t)
			s := start(t, Options{AuthStyle: style, RequirePKCE: true, AccessTTL: 30 * time.Second, RedirectURIs: []string{cb.URI()}})
			cfg := config(s, cb.URI())
			verifier := oauth2.GenerateVerifier()

			got, err := SignIn(t.Context(), cfg.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier)), "demo", "demo")
			if err != nil {
				t.Fatalf("SignIn: %v", err)
			}
			if got.Query().Get("state") != "xyz" || got.Query().Get("code") == "" || !strings.HasPrefix(got.String(), cb.URI()) {
				t.Fatalf("SignIn ended at %v, want %s with a code and state=xyz", got, cb.URI())
			}
			if n := cb.count(); n != 1 {
				t.Errorf("callback server was requested %d times, want 1", n)
			}

			before := time.Now()
			tok, err := cfg.Exchange(t.Context(), got.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" {
				t.Errorf("token = %+v, want access and refresh tokens of type Bearer", tok)
			}
			if exp := tok.Expiry.Sub(before); exp < 29*time.Second || exp > 31*time.Second {
				t.Errorf("token expires in %v, want about 30s", exp)
			}
			if got := tok.Extra("instance_url"); got != s.URL() {
				t.Errorf("instance_url = %v, want %s", got, s.URL())
			}
			if got := tok.Extra("scope"); got != "read write" {
				t.Errorf("scope = %v, want %q", got, "read write")
			}

			resp, body := call(t, s, http.MethodGet, "/api/me", tok.AccessToken, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/api/me: %s %s", resp.Status, body)
			}
			me := decode[map[string]string](t, body)
			want := map[string]string{"user": "demo", "client": DefaultClientID, "scope": "read write"}
			for k, v := range want {
				if me[k] != v {
					t.Errorf("/api/me %s = %q, want %q", k, me[k], v)
				}
			}

			st := s.Stats()
			if st.Authorizations != 1 || st.TokenRequests["authorization_code"] != 1 || st.FailedRequests != 0 || st.APICalls != 1 {
				t.Errorf("stats = %+v, want 1 authorization, 1 code exchange, 1 API call, no failures", st)
			}
		})
	}
}

func TestAuthorizeRequestErrors(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	params := func(kv ...string) url.Values {
		v := url.Values{"response_type": {"code"}, "client_id": {DefaultClientID}, "redirect_uri": {cb.URI()}, "state": {"s1"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		opts   Options
		query  url.Values
		status int    // for pages shown instead of redirecting
		page   string // text on that page
		error  string // error sent to the redirect URI
	}{
		{name: "unknown client is not redirected", query: params("client_id", "nope"), status: 400, page: "Unknown client"},
		{name: "unregistered redirect URI is not redirected", opts: Options{RedirectURIs: []string{cb.URI()}}, query: params("redirect_uri", cb.URL+"/other"), status: 400, page: "Redirect URI not allowed"},
		{name: "non-loopback redirect URI is not redirected", query: params("redirect_uri", "http://example.com/cb"), status: 400, page: "Redirect URI not allowed"},
		{name: "missing redirect URI", query: params("redirect_uri", ""), status: 400, page: "Redirect URI not allowed"},
		{name: "implicit flow", query: params("response_type", "token"), error: "unsupported_response_type"},
		{name: "PKCE required", opts: Options{RequirePKCE: true}, query: params(), error: "invalid_request"},
		{name: "PKCE plain", query: params("code_challenge", challenge, "code_challenge_method", "plain"), error: "invalid_request"},
		{name: "PKCE method missing", query: params("code_challenge", challenge), error: "invalid_request"},
		{name: "PKCE challenge too short", query: params("code_challenge", "abc", "code_challenge_method", "S256"), error: "invalid_request"},
		{name: "prompt none without session", query: params("prompt", "none"), error: "login_required"},
		{name: "prompt none with login", query: params("prompt", "none login"), error: "invalid_request"},
		{name: "unknown prompt", query: params("prompt", "always"), error: "invalid_request"},
		{name: "login page", query: params("scope", "read write"), status: 200, page: "wants to access your account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, tt.opts)
			resp, body := get(t, s.AuthURL()+"?"+tt.query.Encode())
			if tt.error == "" {
				if resp.StatusCode != tt.status || !strings.Contains(body, tt.page) || resp.Header.Get("Location") != "" {
					t.Fatalf("got %s Location=%q, want %d page containing %q:\n%s", resp.Status, resp.Header.Get("Location"), tt.status, tt.page, body)
				}
				return
			}
			loc := location(t, resp)
			q := loc.Query()
			if !strings.HasPrefix(loc.String(), cb.URI()+"?") || q.Get("error") != tt.error || q.Get("state") != "s1" || q.Get("code") != "" {
				t.Errorf("redirected to %v, want %s?error=%s&state=s1", loc, cb.URI(), tt.error)
			}
			if q.Get("error_description") == "" {
				t.Errorf("redirected to %v without error_description", loc)
			}
		})
	}
}

func TestLoginForm(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	s := start(t, Options{Users: map[string]string{"ann": "s3cret!&\"<"}})
	authURL := config(s, cb.URI()).AuthCodeURL("st")

	t.Run("page", func(t *testing.T) {
		resp, body := get(t, authURL)
		if resp.StatusCode != 200 || !contains(body, `name="username"`, `name="password"`, DefaultClientID, "<code>read</code>", "<code>write</code>", `value="allow"`, `value="deny"`) {
			t.Errorf("login page (%s) lacks fields, client or scopes:\n%s", resp.Status, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp == "" {
			t.Error("login page has no Content-Security-Policy")
		}
	})
	t.Run("wrong password shows the form again", func(t *testing.T) {
		b := newTestBrowser(t)
		form := b.form(authURL)
		form.Set("username", "ann")
		form.Set("password", "wrong")
		resp, body := b.post(s.AuthURL(), form)
		if resp.StatusCode != 200 || resp.Header.Get("Location") != "" || !contains(body, "Wrong username or password", `id="authorize"`, `value="ann"`) {
			t.Errorf("got %s Location=%q, want the form again with an error and the username kept:\n%s", resp.Status, resp.Header.Get("Location"), body)
		}
	})
	t.Run("missing CSRF token", func(t *testing.T) {
		b := newTestBrowser(t)
		form := b.form(authURL)
		form.Set("username", "ann")
		form.Set("password", "s3cret!&\"<")
		form.Del("csrf")
		resp, body := b.post(s.AuthURL(), form)
		if resp.StatusCode != 400 || !strings.Contains(body, "expired") {
			t.Errorf("got %s, want 400 and the form again:\n%s", resp.Status, body)
		}
	})
	for _, tt := range []struct{ user, password string }{{"ann", "wrong"}, {"bob", "s3cret!&\"<"}, {"", ""}} {
		t.Run("SignIn "+tt.user+":"+tt.password, func(t *testing.T) {
			_, err := SignIn(t.Context(), authURL, tt.user, tt.password)
			if err == nil || !strings.Contains(err.Error(), "Wrong username or password") {
				t.Errorf("SignIn error = %v, want wrong username or password", err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
	t.Run("SignIn with special characters", func(t *testing.T) {
		got, err := SignIn(t.Context(), authURL, "ann", "s3cret!&\"<")
		if err != nil || got.Query().Get("code") == "" {
			t.Errorf("SignIn = %v, %v; want a code", got, err)
		}
	})
	if n := cb.count(); n != 1 {
		t.Errorf("callback requested %d times, want 1 (only the successful sign-in)", n)
	}
}

func TestDenyReturnsAccessDenied(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	s := start(t, Options{})
	b := newTestBrowser(t)
	form := b.form(config(s, cb.URI()).AuthCodeURL("keep me&1"))
	form.Set("action", "deny")
	resp, body := b.post(s.AuthURL(), form)
	loc := location(t, resp)
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != "keep me&1" || q.Get("code") != "" {
		t.Errorf("Deny redirected to %v (%s), want error=access_denied and the state", loc, body)
	}
	if st := s.Stats(); st.Authorizations != 0 {
		t.Errorf("Authorizations = %d after Deny, want 0", st.Authorizations)
	}
}

func TestSessionAndPrompt(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	s := start(t, Options{})
	cfg := config(s, cb.URI())
	b := newTestBrowser(t)
	if _, err := b.signIn(t.Context(), cfg.AuthCodeURL("st"), "demo", "demo"); err != nil {
		t.Fatalf("first sign-in: %v", err)
	}

	type want struct {
		code  bool   // redirected with a code
		error string // redirected with this error
		page  string // shown the form containing this
	}
	check := func(t *testing.T, authURL string, w want) {
		t.Helper()
		resp, body := b.get(authURL)
		if w.page != "" {
			if resp.StatusCode != 200 || !strings.Contains(body, w.page) {
				t.Errorf("got %s, want the form with %q:\n%s", resp.Status, w.page, body)
			}
			return
		}
		q := location(t, resp).Query()
		if (q.Get("code") != "") != w.code || q.Get("error") != w.error {
			t.Errorf("redirected with %v, want code=%v error=%q", q, w.code, w.error)
		}
	}
	tests := []struct {
		name string
		opts []oauth2.AuthCodeOption
		want want
	}{
		{"approved before: no page", nil, want{code: true}},
		{"prompt none", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "none")}, want{code: true}},
		{"prompt consent", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "consent")}, want{page: "Signed in as <strong>demo</strong>"}},
		{"prompt login", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login")}, want{page: `name="password"`}},
		{"prompt select_account", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "select_account")}, want{page: `name="password"`}},
		{"prompt none, new scope", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("scope", "admin")}, want{error: "consent_required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, cfg.AuthCodeURL("st", tt.opts...), tt.want) })
	}

	s.RevokeAll()
	t.Run("after RevokeAll consent is asked again", func(t *testing.T) {
		check(t, cfg.AuthCodeURL("st"), want{page: "Signed in as"})
		check(t, cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "none")), want{error: "consent_required"})
	})
	t.Run("consent without login", func(t *testing.T) {
		form := b.form(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "consent")))
		if form.Has("login") {
			t.Fatal("consent form asks for a login although signed in")
		}
		resp, _ := b.post(s.AuthURL(), form)
		if q := location(t, resp).Query(); q.Get("code") == "" {
			t.Errorf("Allow redirected with %v, want a code", q)
		}
	})
}

// testBrowser is SignIn's browser with helpers for driving pages by hand.
type testBrowser struct {
	*browser
	t *testing.T
}

func newTestBrowser(t *testing.T) *testBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testBrowser{newBrowser(jar), t}
}

func (b *testBrowser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), http.MethodGet, u, nil)
	return b.do(req)
}

func (b *testBrowser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *testBrowser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, string(body)
}

// form loads the login page and returns its fields with action=allow.
func (b *testBrowser) form(authURL string) url.Values {
	b.t.Helper()
	resp, body := b.get(authURL)
	if resp.StatusCode != 200 || !formRe.Get().MatchString(body) {
		b.t.Fatalf("GET %s: %s, want the login form:\n%s", authURL, resp.Status, body)
	}
	f := parseLoginForm([]byte(body))
	f.fields.Set("action", "allow")
	return f.fields
}
