package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
)

// The credentials typed into the console; no page or log may show one.
var consoleSecrets = []string{"console-PASSWORD-1111", "console-KEY-2222", "console-BEARER-3333", "console-HMACTOKEN-4444",
	"console-HMAC-SECRET-5555", "replaced-PASSWORD-6666", "refused-KEY-7777"}

func noConsoleSecrets(t *testing.T, e *env) {
	t.Helper()
	for _, s := range consoleSecrets {
		if strings.Contains(e.pages.String(), s) {
			t.Errorf("a page showed the secret %q", s)
		}
		if strings.Contains(e.log.String(), s) {
			t.Errorf("the log holds the secret %q", s)
		}
	}
}

// Each type has its own form: its fields only, credentials write-only; the
// token is stored as typed and its page shows settings and masks.
func TestTokenTypeForms(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	tests := []struct {
		typ     string
		fields  []string // form fields the page must have
		absent  []string // fields of other types it must not have
		form    []string
		check   func(t *testing.T, tok store.Token)
		showing []string // what the token page says
	}{
		{store.TypeBasic, []string{`name="username"`, `name="password" type="password" value=""`, `name="expires"`}, []string{`name="provider"`, `name="api_key"`, `name="prompt"`},
			[]string{"username", "svc-user", "password", "console-PASSWORD-1111"},
			func(t *testing.T, tok store.Token) {
				if tok.Username != "svc-user" || tok.Secret.Password != "console-PASSWORD-1111" || tok.State != store.StateAuthorized {
					t.Errorf("basic stored as %+v", tok)
				}
			}, []string{"svc-user", "Password", "••••1111", "ready", "Scripts can use it"}},
		{store.TypeAPIKey, []string{`name="key_in"`, `name="key_name"`, `name="key_prefix"`, `name="api_key" type="password" value=""`}, []string{`name="username"`, `name="bearer_token"`},
			[]string{"key_in", "header", "key_name", "Authorization", "key_prefix", "Token ", "api_key", "console-KEY-2222"},
			func(t *testing.T, tok store.Token) {
				if tok.KeyHeader != "Authorization" || tok.KeyPrefix != "Token " || tok.KeyQuery != "" || tok.Secret.APIKey != "console-KEY-2222" {
					t.Errorf("api-key stored as %+v", tok)
				}
			}, []string{`header Authorization, after "Token "`, "••••2222"}},
		{store.TypeBearer, []string{`name="bearer_token" type="password" value=""`, `name="expires"`}, []string{`name="api_secret"`, `name="key_in"`},
			[]string{"bearer_token", "console-BEARER-3333", "expires", "2099-01-01"},
			func(t *testing.T, tok store.Token) {
				if tok.Secret.AccessToken != "console-BEARER-3333" || tok.Expires.Year() != 2099 || tok.Secret.TokenType != "Bearer" {
					t.Errorf("bearer stored as %+v", tok)
				}
			}, []string{"Token", "••••3333", "2099-01-01 00:00:00 UTC"}},
		{store.TypeHMACBody, []string{`name="api_token" type="password" value=""`, `name="api_secret" type="password" value=""`, `name="algorithm"`}, []string{`name="password"`},
			[]string{"api_token", "console-HMACTOKEN-4444", "api_secret", "console-HMAC-SECRET-5555", "algorithm", "sha512"},
			func(t *testing.T, tok store.Token) {
				if tok.Secret.APIToken != "console-HMACTOKEN-4444" || tok.Secret.APISecret != "console-HMAC-SECRET-5555" || tok.HMACAlgorithm != store.HMACSHA512 {
					t.Errorf("hmac-body stored as %+v", tok)
				}
			}, []string{"HMAC-SHA512", "API token", "••••4444", "API secret", "••••5555", "hmacsig"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			page := b.get("/tokens/-/new?type=" + tt.typ)
			for _, f := range tt.fields {
				if !strings.Contains(page.body, f) {
					t.Errorf("the %s form lacks %s", tt.typ, f)
				}
			}
			for _, f := range tt.absent {
				if strings.Contains(page.body, f) {
					t.Errorf("the %s form has %s, a field of another type", tt.typ, f)
				}
			}
			if !strings.Contains(page.body, `<input type="hidden" name="type" value="`+tt.typ+`">`) || !strings.Contains(page.body, `aria-current="page">`) {
				t.Errorf("the %s form does not carry its type", tt.typ)
			}
			name := "t-" + tt.typ
			r := b.post("/tokens/-/new", b.form(append([]string{"name", name, "type", tt.typ, "base_url", "https://api.example.com", "active", "on"}, tt.form...)...))
			if r.status != http.StatusSeeOther || r.loc != "/tokens/"+name {
				t.Fatalf("create: %d %s", r.status, text(r.body))
			}
			tt.check(t, e.token(name))
			show := b.follow(r)
			mustContain(t, "token page", show, append(tt.showing, "Token "+name+" created", "Revoke")...)
			if strings.Contains(show.body, `id="authorize"`) || strings.Contains(show.body, `id="refresh"`) {
				t.Errorf("the %s page offers Get authorization token or Refresh", tt.typ)
			}
			// Edit: the credential fields are empty, with the mask as the hint.
			edit := b.get("/tokens/" + name + "/edit")
			if !strings.Contains(edit.body, `placeholder="leave empty to keep ••••`) {
				t.Errorf("the %s edit form does not say which credential an empty field keeps", tt.typ)
			}
			for i := 1; i < len(tt.form); i += 2 {
				if strings.HasPrefix(tt.form[i], "console-") && strings.Contains(edit.body, tt.form[i]) {
					t.Errorf("the %s edit form shows the credential", tt.typ)
				}
			}
		})
	}
	// An empty credential on edit keeps the stored one; a typed one replaces it.
	f := b.form("username", "svc-2", "password", "", "base_url", "https://api.example.com", "active", "on")
	if r := b.post("/tokens/t-basic/edit", f); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", r.status, text(r.body))
	}
	if tok := e.token("t-basic"); tok.Username != "svc-2" || tok.Secret.Password != "console-PASSWORD-1111" {
		t.Errorf("after an edit with an empty password: %q / kept %v", tok.Username, tok.Secret.Password == "console-PASSWORD-1111")
	}
	f.Set("password", "replaced-PASSWORD-6666\r\n")
	b.post("/tokens/t-basic/edit", f)
	if tok := e.token("t-basic"); tok.Secret.Password != "replaced-PASSWORD-6666" {
		t.Error("a typed password did not replace the stored one")
	}
	// Moving the key to a query parameter drops the header and the prefix.
	b.post("/tokens/t-api-key/edit", b.form("key_in", "query", "key_name", "api_key", "key_prefix", "Token ", "base_url", "https://api.example.com", "active", "on"))
	if tok := e.token("t-api-key"); tok.KeyQuery != "api_key" || tok.KeyHeader != "" || tok.KeyPrefix != "" || tok.Secret.APIKey != "console-KEY-2222" {
		t.Errorf("after moving the key: %+v", tok)
	}
	// Refusals: the store's words, the typed credential not sent back.
	for _, tt := range []struct {
		path string
		kv   []string
		want string
	}{
		{"/tokens/t-api-key/edit", []string{"key_in", "header", "key_name", "Content-Length", "api_key", "refused-KEY-7777"}, "set by the HTTP client"},
		{"/tokens/t-basic/edit", []string{"username", "a:b", "password", "refused-KEY-7777"}, "no ':'"},
		{"/tokens/t-bearer/edit", []string{"expires", "2001-01-01", "bearer_token", "refused-KEY-7777"}, "already past"},
		{"/tokens/t-hmac-body/edit", []string{"algorithm", "md5", "api_secret", "refused-KEY-7777"}, "algorithm"},
		{"/tokens/t-basic/edit", []string{"username", "u", "api_key", "refused-KEY-7777"}, "another token type"},
		{"/tokens/-/new", []string{"name", "n", "type", "api-key", "key_name", "", "api_key", "refused-KEY-7777"}, "needs a header or a query parameter"},
	} {
		r := b.post(tt.path, b.form(append(tt.kv, "base_url", "https://api.example.com", "active", "on")...))
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), tt.want) || !strings.Contains(text(r.body), "type it again") {
			t.Errorf("POST %s %v: %d, want 422 saying %q and to type the credential again:\n%s", tt.path, tt.kv, r.status, tt.want, text(r.body))
		}
	}
	if tok := e.token("t-api-key"); tok.KeyQuery != "api_key" {
		t.Error("a refused edit changed the token")
	}
	// The list: every type, no provider for the static ones, no secret.
	mustContain(t, "token list", b.get("/tokens"), "t-basic", "basic", "t-api-key", "api-key", "t-bearer", "t-hmac-body", "hmac-body", "ready")
	noConsoleSecrets(t, e)
}

// Without providers the console still creates static tokens; a static token
// without its credential says what to do.
func TestStaticTokenWithoutProviders(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	mustContain(t, "list", b.get("/tokens"), "No tokens yet", "New token", "add a provider")
	mustContain(t, "oauth2 form", b.get("/tokens/-/new"), "Add a provider")
	r := b.post("/tokens/-/new", b.form("name", "empty", "type", "bearer", "base_url", "https://api.example.com", "active", "on"))
	page := b.follow(r)
	mustContain(t, "token without credential", page, "created without its credential", "no credential", "TOKEN_UNAUTHORIZED", "Store a credential")
	if strings.Contains(page.body, `id="revoke"`) {
		t.Error("Revoke offered for a token that holds nothing")
	}
}

// Revoke in the console against a real RFC 7009 endpoint; a refusal
// erases nothing; "Erase here only" does.
func TestRevokeInConsole(t *testing.T) {
	e := newEnv(t, envOpts{})
	srv := e.withSandbox(sandbox.Options{})
	e.db.Update(func(tx *store.Tx) error {
		p, _ := tx.Provider("sandbox")
		p.RevocationURL = srv.RevocationURL()
		return tx.PutProvider(p)
	})
	authorize := func() store.Token {
		t.Helper()
		cb := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		defer cb.Close()
		a, err := e.m.Authorize("api", cb.URL+"/cb")
		if err != nil {
			t.Fatal(err)
		}
		u, err := sandbox.SignIn(context.Background(), a.URL, "demo", "demo")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := e.m.Complete(context.Background(), a, u.Query())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	old := authorize()
	b := e.signedIn()
	mustContain(t, "token page", b.get("/tokens/api"), "Revoke", "Get authorization token")
	confirm := b.get("/tokens/api/revoke")
	mustContain(t, "revoke confirmation", confirm, "Revoke token api?", "revoke the refresh token and the access token", srv.RevocationURL(), "nothing is erased", "Erase here only")
	// A POST without the CSRF token does nothing.
	if r := b.post("/tokens/api/revoke", url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("revoke without CSRF: %d", r.status)
	}
	if e.token("api").Secret.IsZero() {
		t.Fatal("a forged revoke erased the token")
	}
	r := b.post("/tokens/api/revoke", b.form())
	if r.status != http.StatusSeeOther || r.loc != "/tokens/api" {
		t.Fatalf("revoke: %d %s", r.status, r.loc)
	}
	mustContain(t, "after revoke", b.follow(r), "revoked at the provider (refresh token, access token)", "not authorized")
	req, _ := http.NewRequest("GET", srv.APIURL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+old.Secret.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || srv.Stats().Revocations != 1 {
		t.Errorf("the old access token: %d (want 401); revocations %d", resp.StatusCode, srv.Stats().Revocations)
	}
	if tok := e.token("api"); !tok.Secret.IsZero() || tok.State != store.StateUnauthorized {
		t.Error("the token was not erased")
	}
	// The provider refuses: nothing erased, the reason shown; then Erase here only.
	old = authorize()
	e.db.Update(func(tx *store.Tx) error {
		p, _ := tx.Provider("sandbox")
		p.ClientSecret = "wrong-client-secret-9999"
		return tx.PutProvider(p)
	})
	r = b.post("/tokens/api/revoke", b.form())
	mustContain(t, "refused revocation", b.follow(r), "Revocation failed", "invalid_client", "nothing was cleared", "Erase here only")
	if e.token("api").Secret.RefreshToken != old.Secret.RefreshToken {
		t.Fatal("a refused revocation erased the token")
	}
	r = b.post("/tokens/api/revoke", b.form("local", "on"))
	mustContain(t, "erase here only", b.follow(r), "erased here", "Not revoked at the provider")
	if !e.token("api").Secret.IsZero() {
		t.Error("Erase here only did not erase")
	}
	for _, s := range []string{old.Secret.AccessToken, old.Secret.RefreshToken, "wrong-client-secret-9999", srv.ClientSecret()} {
		if strings.Contains(e.pages.String(), s) || strings.Contains(e.log.String(), s) {
			t.Error("a page or the log holds a secret")
		}
	}
	if r := b.get("/tokens/nope/revoke"); r.status != http.StatusNotFound {
		t.Errorf("revoke page of a missing token: %d", r.status)
	}
	if r := b.post("/tokens/nope/revoke", b.form()); r.status != http.StatusNotFound {
		t.Errorf("revoke of a missing token: %d", r.status)
	}
}

// Revoking a static credential in the console erases it and says it still
// works where it was issued.
func TestRevokeStaticInConsole(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	b.post("/tokens/-/new", b.form("name", "k", "type", "api-key", "key_in", "header", "key_name", "X-Key", "api_key", "console-KEY-2222", "active", "on"))
	mustContain(t, "confirmation", b.get("/tokens/k/revoke"), "Revoke token k?", "erased here", "still works there", "Erase the credential")
	r := b.post("/tokens/k/revoke", b.form())
	mustContain(t, "after revoke", b.follow(r), "is erased", "revoke it at its issuer", "no credential")
	if tok := e.token("k"); !tok.Secret.IsZero() || tok.State != store.StateUnauthorized || tok.KeyHeader != "X-Key" {
		t.Errorf("after revoke: %+v", tok)
	}
	noConsoleSecrets(t, e)
}

// A client-credentials token: no "Get authorization token"; "Fetch a token
// now" gets one from the real provider.
func TestClientCredentialsInConsole(t *testing.T) {
	e := newEnv(t, envOpts{})
	srv := e.withSandbox(sandbox.Options{})
	e.db.Update(func(tx *store.Tx) error {
		p, _ := tx.Provider("sandbox")
		p.GrantType, p.AuthURL = store.GrantClientCredentials, ""
		return tx.PutProvider(p)
	})
	b := e.signedIn()
	page := b.get("/tokens/api")
	mustContain(t, "client-credentials token", page, "not fetched yet", "Fetch a token now", "client_credentials")
	if strings.Contains(page.body, `id="authorize"`) || strings.Contains(b.get("/tokens").body, "Get authorization token") {
		t.Error("Get authorization token offered for a client-credentials token")
	}
	r := b.post("/tokens/api/refresh", b.form())
	mustContain(t, "after fetching", b.follow(r), "refreshed", "authorized", "Refresh now")
	if n := srv.Stats().TokenRequests["client_credentials"]; n != 1 {
		t.Errorf("token requests: %d", n)
	}
}

// The provider form offers client_credentials and takes it without an
// authorization URL.
func TestClientCredentialsProviderForm(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	mustContain(t, "new provider form", b.get("/providers/-/new"), "client_credentials", "Not used with client_credentials")
	r := b.post("/providers/-/new", b.form("name", "m2m", "client_id", "svc", "client_secret", "m2m-secret-value-1234", "grant_type", "client_credentials",
		"auth_url", "", "token_url", "https://login.example.com/token", "auth_style", "body", "token_params", "audience=https://api.example.com"))
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.status, text(r.body))
	}
	p, err := e.provider("m2m")
	if err != nil || p.GrantType != store.GrantClientCredentials || p.AuthURL != "" || p.TokenParams["audience"] != "https://api.example.com" {
		t.Errorf("stored %+v (%v)", p, err)
	}
}
