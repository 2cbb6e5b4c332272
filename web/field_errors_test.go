package web

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// fieldErrorRE finds the problem shown under a form field.
var fieldErrorRE = regexp.MustCompile(`<p class="field-error" id="([a-z_]+)-error">([^<]*)</p>`)

// TestFormsShowEveryFieldError checks that a refused provider or token form
// shows every problem the store found, each next to its field, keeps what
// was typed, and never sends a typed secret back.
func TestFormsShowEveryFieldError(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	e.addProvider("p", "https://login.example.com")
	const secret = "typed-SECRET-4321"
	tests := []struct {
		name, path string
		kv         []string
		want       map[string]string // form field: part of its message
		kept       map[string]string // form field: value shown again
	}{
		{"provider, three problems", "/providers/-/new", []string{"name", "graph", "client_id", " ", "client_secret", secret,
			"grant_type", "authorization_code", "auth_url", "https://login.example.com/authorize",
			"token_url", "http://login.example.com/token", "auth_style", "header", "rejected_status", "200", "auth_params", "novalue"},
			map[string]string{"client_id": "Required", "token_url": "plain http", "rejected_status": "200 is not a status", "auth_params": "KEY=VALUE"},
			map[string]string{"token_url": "http://login.example.com/token", "rejected_status": "200"}},
		{"oauth2 token, three problems", "/tokens/-/new", []string{"name", "a b", "type", "oauth2", "provider", "p",
			"prompt", "always", "scopes", "", "base_url", "api.example.com", "active", "on"},
			map[string]string{"name": "is not valid", "prompt": "not a valid prompt", "base_url": "not an absolute"},
			map[string]string{"name": "a b", "base_url": "api.example.com"}},
		{"api-key token, three problems", "/tokens/-/new", []string{"name", "k", "type", "api-key", "key_in", "header", "key_name", "X API Key",
			"key_prefix", "Token ", "api_key", secret + "\t1", "expires", "yesterday", "base_url", "https://api.example.com"},
			map[string]string{"key_name": "Header name", "api_key": "no control characters", "expires": "not a time"},
			map[string]string{"key_name": "X API Key", "key_prefix": "Token ", "expires": "yesterday"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(tt.path, b.form(tt.kv...))
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("POST %s: %d, want 422\n%s", tt.path, r.status, text(r.body))
			}
			got := map[string]string{}
			for _, m := range fieldErrorRE.FindAllStringSubmatch(r.body, -1) {
				got[m[1]] = html.UnescapeString(m[2])
			}
			for field, want := range tt.want {
				if !strings.Contains(got[field], want) {
					t.Errorf("field %s shows %q, want a problem saying %q", field, got[field], want)
				}
				if !strings.Contains(r.body, `aria-describedby="`+field+`-error"`) {
					t.Errorf("field %s is not marked as described by its problem", field)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("problems shown by field: %q, want %d", got, len(tt.want))
			}
			if n := strings.Count(r.body, "<li>"); n < len(tt.want) {
				t.Errorf("the list above the form has %d problems, want %d", n, len(tt.want))
			}
			for field, v := range tt.kept {
				if !strings.Contains(r.body, `value="`+v+`"`) {
					t.Errorf("field %s does not keep the typed %q", field, v)
				}
			}
			if strings.Contains(r.body, secret) {
				t.Error("the refused form sends the typed secret back")
			}
		})
	}
}

// TestFormShowsFieldAndRecordProblems checks that a form whose expiry
// cannot be read and whose name is taken says both.
func TestFormShowsFieldAndRecordProblems(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	f := b.form("name", "gh", "type", "bearer", "bearer_token", "tok-1", "base_url", "https://api.example.com")
	if r := b.post("/tokens/-/new", f); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.status, text(r.body))
	}
	f.Set("expires", "soon")
	r := b.post("/tokens/-/new", f)
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("create again: %d, want 422", r.status)
	}
	mustContain(t, "refused form", r, `A token named "gh" already exists`, `Expiry: "soon" is not a time`)
	if m := fieldErrorRE.FindStringSubmatch(r.body); m == nil || m[1] != "expires" {
		t.Errorf("the expiry's problem is not shown next to it: %v", m)
	}
}
