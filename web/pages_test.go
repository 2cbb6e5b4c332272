package web

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

func TestProviderPages(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	mustContain(t, "empty provider list", b.get("/providers"), "No providers yet", "Add the first provider")
	mustContain(t, "new provider form", b.get("/providers/-/new"), "New provider", "Client secret", "/oauth/callback")

	const secret = "s3cret-client-VALUE-9876"
	f := b.form("name", "graph", "client_id", "app-1", "client_secret", secret, "grant_type", "authorization_code",
		"auth_url", "https://login.example.com/authorize", "token_url", "https://login.example.com/token",
		"scopes", "offline_access  Mail.Read", "auth_style", "body", "pkce", "on",
		"auth_params", "access_type=offline\n\nprompt_hint = x\n", "token_params", "audience=api", "description", "Mail")
	r := b.post("/providers/-/new", f)
	if r.status != http.StatusSeeOther || r.loc != "/providers/graph" {
		t.Fatalf("create provider: %d to %q\n%s", r.status, r.loc, text(r.body))
	}
	page := b.follow(r)
	mustContain(t, "provider page", page, "Provider graph created", "app-1", "••••9876", "offline_access Mail.Read",
		"access_type=offline", "prompt_hint=x", "audience=api", "In the request body", "on (S256)", "none yet")
	p, err := e.provider("graph")
	if err != nil || p.ClientSecret != secret || p.AuthStyle != store.AuthStyleBody || !p.PKCE || p.AuthParams["access_type"] != "offline" || p.TokenParams["audience"] != "api" {
		t.Fatalf("stored provider %+v (%v)", p, err)
	}
	mustContain(t, "provider list", b.get("/providers"), "graph", "app-1", "••••9876")

	// The edit form never shows the secret back; empty keeps it.
	r = b.get("/providers/graph/edit")
	if strings.Contains(r.body, secret) || !strings.Contains(r.body, `name="client_secret" type="password" value=""`) {
		t.Errorf("edit form shows the secret or prefills its field")
	}
	mustContain(t, "edit form", r, "Leave it empty to keep the current one", "Remove the stored secret")
	if !strings.Contains(r.body, `placeholder="leave empty to keep ••••9876"`) {
		t.Error("edit form does not say which secret an empty field keeps")
	}
	edit := b.form("client_id", "app-2", "client_secret", "", "grant_type", "authorization_code",
		"auth_url", "https://login.example.com/authorize", "token_url", "https://login.example.com/token",
		"scopes", "Mail.Read", "auth_style", "header", "auth_params", "", "token_params", "")
	if r := b.post("/providers/graph/edit", edit); r.status != http.StatusSeeOther {
		t.Fatalf("edit provider: %d\n%s", r.status, text(r.body))
	}
	p, _ = e.provider("graph")
	if p.ClientSecret != secret || p.ClientID != "app-2" || p.PKCE || p.AuthParams != nil || p.AuthStyle != store.AuthStyleHeader {
		t.Errorf("after an edit with an empty secret: %+v; want the old secret kept and the other fields changed", p)
	}
	edit.Set("client_secret", "brand-new-secret-5555\r\n")
	b.post("/providers/graph/edit", edit)
	if p, _ = e.provider("graph"); p.ClientSecret != "brand-new-secret-5555" {
		t.Errorf("after typing a new secret: stored %q", store.Mask(p.ClientSecret))
	}
	edit.Set("client_secret", "")
	edit.Set("clear_secret", "on")
	b.post("/providers/graph/edit", edit)
	if p, _ = e.provider("graph"); p.ClientSecret != "" {
		t.Error("Remove the stored secret kept it")
	}

	// Refusals: the store's validation, in the form, never echoing the secret.
	bad := []struct{ field, value, want string }{
		{"auth_url", "login.example.com/authorize", "not an absolute http(s) URL"},
		{"token_url", "http://login.example.com/token", "plain http"},
		{"auth_style", "auto", "auth style"},
		{"client_id", "  ", "Client id: required"},
		{"auth_params", "novalue", "KEY=VALUE"},
		{"scopes", `a "b"`, "scope"},
	}
	for _, tt := range bad {
		f := b.form("client_id", "app-3", "client_secret", "typed-secret-1234", "grant_type", "authorization_code",
			"auth_url", "https://login.example.com/authorize", "token_url", "https://login.example.com/token", "auth_style", "header")
		f.Set(tt.field, tt.value)
		r := b.post("/providers/graph/edit", f)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), tt.want) || !strings.Contains(text(r.body), "type it again") {
			t.Errorf("edit with %s=%q: %d, want 422 saying %q and that the secret must be typed again:\n%s", tt.field, tt.value, r.status, tt.want, text(r.body))
		}
		if strings.Contains(r.body, "typed-secret-1234") {
			t.Errorf("refused form (%s) echoes the typed secret", tt.field)
		}
	}
	if p2, _ := e.provider("graph"); p2.ClientID != "app-2" {
		t.Error("a refused edit changed the provider")
	}
	dup := b.form("name", "graph", "client_id", "x", "grant_type", "authorization_code", "auth_url", "https://a.example.com/a",
		"token_url", "https://a.example.com/t", "auth_style", "header")
	if r := b.post("/providers/-/new", dup); r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "already exists") {
		t.Errorf("duplicate provider: %d %s", r.status, text(r.body))
	}
	dup.Set("name", "bad name")
	if r := b.post("/providers/-/new", dup); r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), `Provider name: "bad name" is not valid`) {
		t.Errorf("bad provider name: %d", r.status)
	}

	// Delete: refused with a clear message while a token uses it.
	e.addToken("mail", "graph", nil)
	mustContain(t, "delete confirmation while used", b.get("/providers/graph/delete"), "cannot be deleted while tokens use it", "mail")
	r = b.post("/providers/graph/delete", b.form())
	mustContain(t, "delete while used", b.follow(r), "Provider graph was not deleted: token(s) mail use it")
	if _, err := e.provider("graph"); err != nil {
		t.Fatal("a provider in use was deleted")
	}
	e.db.Update(func(tx *store.Tx) error { return tx.DeleteToken("mail") })
	mustContain(t, "delete confirmation", b.get("/providers/graph/delete"), "Delete provider graph?", "cannot be undone")
	r = b.post("/providers/graph/delete", b.form())
	mustContain(t, "after delete", b.follow(r), "Provider graph deleted")
	if _, err := e.provider("graph"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	for _, path := range []string{"/providers/graph", "/providers/graph/edit", "/providers/graph/delete"} {
		if r := b.get(path); r.status != http.StatusNotFound || !strings.Contains(text(r.body), "no provider named") {
			t.Errorf("GET %s of a deleted provider: %d", path, r.status)
		}
	}
	if r := b.post("/providers/graph/delete", b.form()); r.status != http.StatusNotFound {
		t.Errorf("deleting a missing provider: %d", r.status)
	}
	if strings.Contains(e.pages.String(), secret) || strings.Contains(e.pages.String(), "brand-new-secret") || strings.Contains(e.log.String(), secret) {
		t.Error("a client secret appeared in a page or the log")
	}
	if !strings.Contains(e.log.String(), "provider created") || !strings.Contains(e.log.String(), "provider deleted") {
		t.Error("provider changes not logged")
	}
}

func TestTokenPages(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	mustContain(t, "token list without providers", b.get("/tokens"), "No tokens yet", "add a provider")
	mustContain(t, "token form without providers", b.get("/tokens/-/new"), "Add a provider")
	e.addProvider("p", "https://login.example.com")
	mustContain(t, "token form", b.get("/tokens/-/new"), "New token", "consent: always ask for consent", "Base URL")

	f := b.form("name", "mail", "type", "oauth2", "provider", "p", "prompt", "select_account", "scopes", " Mail.Send  Mail.Read ", "base_url", " https://graph.microsoft.com ", "active", "on")
	r := b.post("/tokens/-/new", f)
	if r.status != http.StatusSeeOther || r.loc != "/tokens/mail" {
		t.Fatalf("create token: %d to %q\n%s", r.status, r.loc, text(r.body))
	}
	mustContain(t, "token page", b.follow(r), "Token mail created", "not authorized", "Get authorization token", "Mail.Send Mail.Read",
		"select_account", "https://graph.microsoft.com", "apiTokenAuth('mail')")
	tok := e.token("mail")
	if tok.State != store.StateUnauthorized || !tok.Active || tok.Prompt != "select_account" || tok.BaseURL != "https://graph.microsoft.com" || len(tok.Scopes) != 2 {
		t.Errorf("stored token %+v", tok)
	}

	// Without a base URL: a warning on the page, in the list and in the flash.
	r = b.post("/tokens/-/new", b.form("name", "loose", "type", "oauth2", "provider", "p"))
	mustContain(t, "token without base URL", b.follow(r), "has no base URL", "No base URL. Scripts may send this token to any host", "the provider's")
	if e.token("loose").Active {
		t.Error("an unchecked Active box created an active token")
	}
	list := b.get("/tokens")
	mustContain(t, "token list", list, "mail", "loose", "oauth2", "p", "not authorized", "inactive", "https://graph.microsoft.com", "none ⚠")

	// Edit: prompt, scopes, active, base URL.
	r = b.post("/tokens/loose/edit", b.form("prompt", "", "scopes", "", "base_url", "https://api.example.com", "active", "on"))
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit token: %d %s", r.status, text(r.body))
	}
	if tok := e.token("loose"); !tok.Active || tok.BaseURL != "https://api.example.com" || tok.Prompt != "" || tok.Provider != "p" {
		t.Errorf("after edit: %+v", tok)
	}
	if r := b.get("/tokens/loose/edit"); !strings.Contains(r.body, `value="https://api.example.com"`) {
		t.Error("token edit form does not show the base URL")
	}
	for _, tt := range []struct{ field, value, want string }{
		{"base_url", "http://api.example.com", "plain http"},
		{"base_url", "api.example.com", "not an absolute"},
		{"prompt", "always", "prompt"},
		{"scopes", `x\y`, "scope"},
	} {
		f := b.form("prompt", "", "base_url", "https://api.example.com", "active", "on")
		f.Set(tt.field, tt.value)
		if r := b.post("/tokens/loose/edit", f); r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), tt.want) {
			t.Errorf("edit with %s=%q: %d, want 422 saying %q", tt.field, tt.value, r.status, tt.want)
		}
	}
	for _, tt := range []struct{ field, value, want string }{
		{"name", "mail", "already exists"},
		{"name", "", "Token name"},
		{"provider", "missing", "not found"},
		{"type", "magic", "Token type"},
	} {
		f := b.form("name", "other", "type", "oauth2", "provider", "p")
		f.Set(tt.field, tt.value)
		if r := b.post("/tokens/-/new", f); r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), tt.want) {
			t.Errorf("create with %s=%q: %d, want 422 saying %q:\n%s", tt.field, tt.value, r.status, tt.want, text(r.body))
		}
	}

	// Lists show expiry, state and lastMessage.
	e.db.Update(func(tx *store.Tx) error {
		t, _ := tx.Token("mail")
		t.State, t.Expires, t.LastMessage = store.StateReauthRequired, e.clock.Now().Add(42*time.Minute), "provider answered invalid_grant: revoked"
		return tx.PutToken(t)
	})
	mustContain(t, "token list with state", b.get("/tokens"), "reauth required", "in 42 min", "invalid_grant: revoked")
	r = b.get("/tokens/mail")
	mustContain(t, "token page with state", r, "Last message", "invalid_grant: revoked", "in 42 min", "2026-11-29 12:42:00 UTC")
	if !strings.Contains(r.body, `<time datetime="2026-11-29T12:42:00Z" title="2026-11-29 12:42:00 UTC">in 42 min</time>`) {
		t.Error("expiry is not a <time> with the exact time on hover")
	}

	// Refresh now of a token that cannot be refreshed: the reason, on the page.
	r = b.post("/tokens/mail/refresh", b.form())
	mustContain(t, "refresh of a token needing authorization", b.follow(r), "Refresh failed", "needs a new authorization")

	// Delete.
	mustContain(t, "delete confirmation", b.get("/tokens/mail/delete"), "Delete token mail?", "TOKEN_NOT_FOUND")
	r = b.post("/tokens/mail/delete", b.form())
	mustContain(t, "after delete", b.follow(r), "Token mail deleted")
	for _, path := range []string{"/tokens/mail", "/tokens/mail/edit", "/tokens/mail/delete"} {
		if r := b.get(path); r.status != http.StatusNotFound {
			t.Errorf("GET %s of a deleted token: %d", path, r.status)
		}
	}
	for _, path := range []string{"/tokens/mail/edit", "/tokens/mail/delete", "/tokens/mail/authorize", "/tokens/mail/refresh"} {
		if r := b.post(path, b.form("active", "on")); r.status != http.StatusNotFound {
			t.Errorf("POST %s of a deleted token: %d, want 404", path, r.status)
		}
	}
	// A token whose provider is gone says so and cannot be authorized.
	e.db.Update(func(tx *store.Tx) error { return tx.DeleteProvider("p", true) })
	mustContain(t, "token with a missing provider", b.get("/tokens/loose"), "does not exist, so this token can be neither authorized nor refreshed")
	if !strings.Contains(e.log.String(), "token created") || !strings.Contains(e.log.String(), "token deleted") {
		t.Error("token changes not logged")
	}
}

// A token named "new" is reachable: the create form lives under "-".
func TestRecordNamedNew(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.addProvider("new", "https://login.example.com")
	e.addToken("new", "new", nil)
	b := e.signedIn()
	mustContain(t, "token named new", b.get("/tokens/new"), "apiTokenAuth('new')")
	mustContain(t, "provider named new", b.get("/providers/new"), "client-new")
}

func TestRelative(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{500 * time.Millisecond, "just now"},
		{12 * time.Second, "in 12 s"},
		{-59 * time.Second, "59 s ago"},
		{42 * time.Minute, "in 42 min"},
		{42*time.Minute + 20*time.Second, "in 42 min"},
		{59*time.Minute + 40*time.Second, "in 1 h"},
		{-3*time.Hour - 5*time.Minute, "3 h 5 min ago"},
		{11 * time.Hour, "in 11 h"},
		{47 * time.Hour, "in 47 h"},
		{-72 * time.Hour, "3 days ago"},
	}
	for _, tt := range tests {
		if got := relative(now.Add(tt.d), now); got != tt.want {
			t.Errorf("relative(now%+v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := relative(time.Time{}, now); got != "never" {
		t.Errorf("relative(zero) = %q", got)
	}
}
