package web

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/templates"
)

// newTemplateEnv is a console whose New provider form offers the built-in
// templates and those of dir.
func newTemplateEnv(t *testing.T, dir string) *env {
	return newEnv(t, envOpts{modify: func(o *Options) {
		o.Templates = func() (*templates.Set, error) { return templates.Load(dir) }
	}})
}

// formValue is the value of a form field on a page: an input's value, a
// textarea's text, the selected option, or "on" for a checked checkbox.
func formValue(t *testing.T, page, name string) string {
	t.Helper()
	// The provider form, not the template cards above it.
	if i := strings.Index(page, `<form method="post" class="form"`); i >= 0 {
		page = page[i:]
	}
	if m := regexp.MustCompile(`<input[^>]* name="` + regexp.QuoteMeta(name) + `"[^>]*>`).FindString(page); m != "" {
		if strings.Contains(m, `type="checkbox"`) {
			if strings.Contains(m, " checked") {
				return "on"
			}
			return ""
		}
		v := regexp.MustCompile(` value="([^"]*)"`).FindStringSubmatch(m)
		if v == nil {
			return ""
		}
		return htmlUnescape(v[1])
	}
	if m := regexp.MustCompile(`(?s)<textarea[^>]* name="` + regexp.QuoteMeta(name) + `"[^>]*>(.*?)</textarea>`).FindStringSubmatch(page); m != nil {
		return htmlUnescape(strings.TrimPrefix(m[1], "\n"))
	}
	if m := regexp.MustCompile(`(?s)<select[^>]* name="` + regexp.QuoteMeta(name) + `"[^>]*>(.*?)</select>`).FindStringSubmatch(page); m != nil {
		if v := regexp.MustCompile(`<option value="([^"]*)" selected>`).FindStringSubmatch(m[1]); v != nil {
			return htmlUnescape(v[1])
		}
	}
	return ""
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&#43;", "+").Replace(s)
}

func TestProviderTemplatesInTheForm(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "acme.json"), []byte(`{"name": "acme", "title": "Acme ERP", "quirk": "Needs audience=erp on token requests.",
		"params": {"region": {"default": "us1", "pattern": "^[a-z]{2}[0-9]$", "help": "the region, e.g. eu1"}},
		"authorizationUrl": "https://{region}.acme.example/oauth/authorize", "tokenUrl": "https://{region}.acme.example/oauth/token",
		"scopes": ["erp.read"], "authStyle": "header", "pkce": false, "tokenParams": {"audience": "erp"},
		"baseUrl": "https://{region}.acme.example"}`), 0o600)
	e := newTemplateEnv(t, dir)
	b := e.signedIn()

	// The form offers every template, with its quirk and parameters.
	r := b.get("/providers/-/new")
	mustContain(t, "new provider form", r, "Start from a template", "Microsoft Entra ID", "Issues refresh tokens only with the offline_access scope",
		"Google", "Salesforce", "Acme ERP", "Needs audience=erp", "tenant", "the region, e.g. eu1", "Use microsoft", "Client secret")
	if !strings.Contains(r.body, `name="param.tenant" value="common"`) {
		t.Error("a template's parameter is not offered with its default")
	}

	// Choosing Microsoft with a tenant fills the form; the quirk is shown.
	r = b.get("/providers/-/new?template=microsoft&param.tenant=contoso.onmicrosoft.com")
	if r.status != http.StatusOK {
		t.Fatalf("template microsoft: %d %s", r.status, text(r.body))
	}
	mustContain(t, "form from microsoft", r, "Filled from the template Microsoft Entra ID", "offline_access scope", "https://graph.microsoft.com")
	for field, want := range map[string]string{
		"name":      "microsoft",
		"auth_url":  "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
		"token_url": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
		"scopes":    "offline_access openid https://graph.microsoft.com/User.Read", "auth_style": "body", "pkce": "on",
		"client_id": "", "client_secret": "", "template": "microsoft", "param.tenant": "contoso.onmicrosoft.com",
	} {
		if got := formValue(t, r.body, field); got != want {
			t.Errorf("microsoft: field %s = %q, want %q", field, got, want)
		}
	}
	// Google: its extra authorization parameters.
	r = b.get("/providers/-/new?template=google")
	if got := formValue(t, r.body, "auth_params"); got != "access_type=offline\nprompt=consent" {
		t.Errorf("google: auth params %q", got)
	}
	mustContain(t, "form from google", r, "access_type=offline")
	// A user template: PKCE off, token parameters, its parameter in the URLs.
	r = b.get("/providers/-/new?template=acme&param.region=eu1")
	for field, want := range map[string]string{
		"auth_url": "https://eu1.acme.example/oauth/authorize", "token_params": "audience=erp", "pkce": "", "auth_style": "header",
	} {
		if got := formValue(t, r.body, field); got != want {
			t.Errorf("acme: field %s = %q, want %q", field, got, want)
		}
	}
	mustContain(t, "form from acme", r, "https://eu1.acme.example")

	// Submitting the filled form, with the client's credentials, creates it.
	f := url.Values{"csrf": {b.csrf()}}
	for _, field := range []string{"name", "grant_type", "auth_url", "token_url", "revocation_url", "scopes", "auth_style", "pkce", "auth_params", "token_params", "description", "template", "param.region"} {
		if v := formValue(t, r.body, field); v != "" {
			f.Set(field, v)
		}
	}
	f.Set("client_id", "acme-client")
	f.Set("client_secret", "acme-secret-4321")
	r = b.post("/providers/-/new", f)
	if r.status != http.StatusSeeOther {
		t.Fatalf("create from template: %d %s", r.status, text(r.body))
	}
	p, err := e.provider("acme")
	if err != nil || p.AuthURL != "https://eu1.acme.example/oauth/authorize" || p.PKCE || p.TokenParams["audience"] != "erp" ||
		p.ClientSecret != "acme-secret-4321" || !strings.Contains(p.Description, "Needs audience=erp") {
		t.Errorf("provider from template: %+v (%v)", p, err)
	}
	// A refused create keeps the template's quirk on the form.
	f.Set("name", "acme")
	r = b.post("/providers/-/new", f)
	mustContain(t, "refused create from a template", r, "already exists", "Filled from the template Acme ERP", "https://eu1.acme.example")

	// Refusals: a parameter missing or wrong, an unknown template; the form
	// stays usable and says what is expected.
	for _, tt := range []struct{ query, want string }{
		{"template=servicenow", "needs its instance: the instance name, e.g. acme for acme.service-now.com"},
		{"template=microsoft&param.tenant=bad%20tenant", `Tenant "bad tenant" is not valid`},
		{"template=acme&param.region=EU", `Region "EU" is not valid: give the region, e.g. eu1`},
		{"template=nope", `There is no provider template "nope"`},
	} {
		r := b.get("/providers/-/new?" + tt.query)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), tt.want) {
			t.Errorf("%s: %d, want 422 saying %q:\n%s", tt.query, r.status, tt.want, text(r.body))
		}
		if !strings.Contains(r.body, `<details class="templates" id="templates" open>`) || !strings.Contains(r.body, `name="client_id"`) {
			t.Errorf("%s: the templates are not open with the error, or the form is gone", tt.query)
		}
		if strings.Contains(text(r.body), "Filled from the template") {
			t.Errorf("%s: says the form was filled", tt.query)
		}
	}
	// The edit form offers no templates.
	e.addProvider("plain", "https://login.example.com")
	if strings.Contains(b.get("/providers/plain/edit").body, "Start from a template") {
		t.Error("the edit form offers templates")
	}
	if _, err := e.provider("microsoft"); err == nil {
		t.Error("choosing a template stored a provider")
	}
}

// A broken template file in the home is reported on the form, which still
// works without templates.
func TestProviderTemplatesBroken(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"name": "x"`), 0o600)
	e := newTemplateEnv(t, dir)
	b := e.signedIn()
	r := b.get("/providers/-/new")
	if r.status != http.StatusOK {
		t.Fatalf("%d", r.status)
	}
	mustContain(t, "broken templates", r, "Provider templates could not be loaded", "broken.json", "Client id")
	// Without templates at all, the form is the plain one.
	e2 := newEnv(t, envOpts{})
	if r := e2.signedIn().get("/providers/-/new"); strings.Contains(r.body, "template") {
		t.Error("a console without templates mentions them")
	}
}
