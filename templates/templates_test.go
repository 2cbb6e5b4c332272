package templates

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
	"github.com/scriptrun/scriptrun/tokens"
)

func builtins(t *testing.T) *Set {
	t.Helper()
	s, err := Load("")
	if err != nil {
		t.Fatalf("built-in templates: %v", err)
	}
	return s
}

// register stores p, as client-1, in a new home with an oauth2 token tk of
// it.
func register(t *testing.T, p store.Provider) *store.DB {
	t.Helper()
	db := storetest.Open(t)
	p.ClientID = "client-1"
	if err := db.Update(func(tx *store.Tx) error {
		if err := tx.CreateProvider(p); err != nil {
			return err
		}
		return tx.CreateToken(store.Token{Name: "tk", Type: store.TypeOAuth2, Provider: p.Name, Active: true, State: store.StateUnauthorized})
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

// authURL registers the provider a template makes and returns the
// authorization URL the token manager builds for a token of it.
func authURL(t *testing.T, p store.Provider) url.Values {
	t.Helper()
	a, err := tokens.New(tokens.Options{DB: register(t, p)}).Authorize("tk", "http://127.0.0.1:8080/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// Every template the issue names exists, validates, and applies its quirk.
func TestQuirks(t *testing.T) {
	s := builtins(t)
	tests := []struct {
		name   string
		params map[string]string
		check  func(t *testing.T, p store.Provider, q url.Values)
	}{
		{"microsoft", map[string]string{"tenant": "contoso.onmicrosoft.com"}, func(t *testing.T, p store.Provider, q url.Values) {
			if p.TokenURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" || !strings.Contains(q.Get("scope"), "offline_access") {
				t.Errorf("token URL %s, scope %q: want the tenant's v2 endpoint and offline_access", p.TokenURL, q.Get("scope"))
			}
		}},
		{"google", nil, func(t *testing.T, p store.Provider, q url.Values) {
			if q.Get("access_type") != "offline" || q.Get("prompt") != "consent" {
				t.Errorf("authorization URL access_type=%q prompt=%q, want offline and consent", q.Get("access_type"), q.Get("prompt"))
			}
		}},
		{"github", nil, func(t *testing.T, p store.Provider, q url.Values) {
			if p.TokenURL != "https://github.com/login/oauth/access_token" {
				t.Errorf("token URL %s", p.TokenURL)
			}
		}},
		{"github-app", nil, func(t *testing.T, p store.Provider, q url.Values) {
			if q.Has("scope") {
				t.Errorf("GitHub App authorization carries scope %q; its permissions come from the app", q.Get("scope"))
			}
		}},
		{"salesforce", map[string]string{"host": "test.salesforce.com"}, func(t *testing.T, p store.Provider, q url.Values) {
			if p.TokenURL != "https://test.salesforce.com/services/oauth2/token" || !strings.Contains(q.Get("scope"), "refresh_token") {
				t.Errorf("sandbox token URL %s, scope %q", p.TokenURL, q.Get("scope"))
			}
		}},
		{"slack", nil, func(t *testing.T, p store.Provider, q url.Values) {
			if p.TokenURL != "https://slack.com/api/oauth.v2.access" {
				t.Errorf("token URL %s", p.TokenURL)
			}
		}},
		{"atlassian", nil, func(t *testing.T, p store.Provider, q url.Values) {
			if q.Get("audience") != "api.atlassian.com" || q.Get("prompt") != "consent" || !strings.Contains(q.Get("scope"), "offline_access") {
				t.Errorf("authorization URL audience=%q prompt=%q scope=%q", q.Get("audience"), q.Get("prompt"), q.Get("scope"))
			}
		}},
		{"hubspot", nil, func(t *testing.T, p store.Provider, q url.Values) {
			if p.TokenURL != "https://api.hubapi.com/oauth/v1/token" {
				t.Errorf("token URL %s", p.TokenURL)
			}
		}},
		{"zoom", nil, func(t *testing.T, p store.Provider, q url.Values) {
			if p.AuthStyle != store.AuthStyleHeader {
				t.Errorf("Zoom auth style %q, want header (client_secret_basic)", p.AuthStyle)
			}
		}},
		{"dropbox", nil, func(t *testing.T, p store.Provider, q url.Values) {
			if q.Get("token_access_type") != "offline" {
				t.Errorf("authorization URL token_access_type=%q, want offline", q.Get("token_access_type"))
			}
		}},
		{"servicenow", map[string]string{"instance": "acme"}, func(t *testing.T, p store.Provider, q url.Values) {
			if p.AuthURL != "https://acme.service-now.com/oauth_auth.do" || p.TokenURL != "https://acme.service-now.com/oauth_token.do" {
				t.Errorf("ServiceNow URLs %s %s", p.AuthURL, p.TokenURL)
			}
		}},
		{"servicely", map[string]string{"instance": "acme.servicely.ai"}, func(t *testing.T, p store.Provider, q url.Values) {
			if !strings.HasPrefix(p.TokenURL, "https://acme.servicely.ai/") {
				t.Errorf("Servicely token URL %s", p.TokenURL)
			}
		}},
		{"marketo", map[string]string{"munchkin": "123-ABC-456"}, func(t *testing.T, p store.Provider, q url.Values) {
			if p.GrantType != store.GrantClientCredentials || p.TokenURL != "https://123-ABC-456.mktorest.com/identity/oauth/token" {
				t.Errorf("Marketo grant %s, token URL %s", p.GrantType, p.TokenURL)
			}
			checkMarketoRejection(t, p)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := s.Find(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			p, err := tmpl.Provider(tt.name, tt.params)
			if err != nil {
				t.Fatalf("Provider: %v", err)
			}
			if p.GrantType == store.GrantClientCredentials {
				tt.check(t, p, nil) // no authorization step, no authorization URL
				return
			}
			q := authURL(t, p)
			if q.Get("client_id") != "client-1" || q.Get("response_type") != "code" {
				t.Errorf("authorization URL lacks the basics: %v", q)
			}
			if (q.Get("code_challenge_method") == "S256") != tmpl.PKCE {
				t.Errorf("PKCE in the URL = %v, template says %v", q.Has("code_challenge"), tmpl.PKCE)
			}
			tt.check(t, p, q)
		})
	}
	if len(s.All()) != len(tests) {
		t.Errorf("%d built-in templates, %d checked: add a quirk check for the new one", len(s.All()), len(tests))
	}
}

// Parameter values go into URLs only when they match their pattern.
func TestParamsRejectInjection(t *testing.T) {
	s := builtins(t)
	bad := []struct{ template, param, value string }{
		{"microsoft", "tenant", "evil.com/x?"},
		{"microsoft", "tenant", "../common"},
		{"servicenow", "instance", "acme.evil.com"},
		{"servicely", "instance", "acme.servicely.ai/path"},
		{"servicely", "instance", "user@acme.servicely.ai"},
		{"salesforce", "host", "evil.com"},
		{"google", "tenant", "x"},
	}
	for _, b := range bad {
		tmpl, _ := s.Find(b.template)
		if _, err := tmpl.Provider("p", map[string]string{b.param: b.value}); err == nil {
			t.Errorf("%s with %s=%q was accepted", b.template, b.param, b.value)
		}
	}
	sn, _ := s.Find("servicenow")
	if _, err := sn.Provider("p", nil); err == nil || !strings.Contains(err.Error(), "--param instance=") {
		t.Errorf("servicenow without its instance: %v", err)
	}
}

func TestUserTemplates(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "corp.json"), []byte(`{"name":"corp","title":"Corp SSO","quirk":"Our IdP.","authorizationUrl":"https://sso.corp.example/authorize","tokenUrl":"https://sso.corp.example/token","authStyle":"header","pkce":true}`), 0o600)
	os.WriteFile(filepath.Join(dir, "google.json"), []byte(`[{"name":"google","title":"Google via proxy","quirk":"Proxied.","authorizationUrl":"https://g.corp.example/auth","tokenUrl":"https://g.corp.example/token","authStyle":"body","pkce":true}]`), 0o600)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Find("corp"); err != nil || c.Source != filepath.Join(dir, "corp.json") {
		t.Errorf("user template: %+v, %v", c, err)
	}
	if g, _ := s.Find("google"); g.TokenURL != "https://g.corp.example/token" {
		t.Errorf("a user template does not replace the built-in one: %s", g.TokenURL)
	}
	for name, content := range map[string]string{
		"broken.json":     `{"name": "x",`,
		"unknown.json":    `{"name":"x","title":"t","quirk":"q","authorizationUrl":"https://a.example/a","tokenUrl":"https://a.example/t","authStyle":"body","scope":"typo"}`,
		"http.json":       `{"name":"x","title":"t","quirk":"q","authorizationUrl":"https://a.example/a","tokenUrl":"http://a.example/t","authStyle":"body"}`,
		"undeclared.json": `{"name":"x","title":"t","quirk":"q","authorizationUrl":"https://{tenant}.example/a","tokenUrl":"https://a.example/t","authStyle":"body"}`,
	} {
		bad := t.TempDir()
		os.WriteFile(filepath.Join(bad, name), []byte(content), 0o600)
		if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want an error naming the file", name, err)
		}
	}
}

// checkMarketoRejection registers p with a token and checks that the token
// manager takes Marketo's answers to an expired token (200, code 601 or
// 602) for a refusal, and nothing else.
func checkMarketoRejection(t *testing.T, p store.Provider) {
	t.Helper()
	m := tokens.New(tokens.Options{DB: register(t, p)})
	defer m.Close()
	tests := []struct {
		status   int
		body     string
		rejected bool
	}{
		{200, `{"requestId":"e42b#14272d07d78","success":false,"errors":[{"code":"601","message":"Access token invalid"}]}`, true},
		{200, `{"requestId":"e42b#14272d07d79","success":false,"errors":[{"code":"602","message":"Access token expired"}]}`, true},
		{200, `{"requestId":"e42b#14272d07d80","success":false,"errors":[{"code":"606","message":"Max rate limit '100' exceeded with in '20' secs"}]}`, false},
		{200, `{"requestId":"e42b#14272d07d81","result":[{"id":601,"email":"code601@example.com"}],"success":true}`, false},
		{401, ``, true},
	}
	for _, tt := range tests {
		rejected, peek := m.Rejects("tk", tt.status, nil)
		if peek > 0 {
			rejected, _ = m.Rejects("tk", tt.status, []byte(tt.body))
		}
		if rejected != tt.rejected {
			t.Errorf("Marketo answer %d %s: rejected = %v, want %v", tt.status, tt.body, rejected, tt.rejected)
		}
	}
}
