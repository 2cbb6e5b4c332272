package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// A file with several problems reports each at once, on its own line, in
// plain words, never in the YAML library's (no "unmarshal", no "!!str").
func TestApplyReportsEveryProblemOnItsLine(t *testing.T) {
	data := `providers:
  - name: g
    clientId: [1, 2]
    authorizationUrl: https://a.example.com/a
    tokenUrl: https://a.example.com/t
    scopez: x
    pkce: maybe
tokens:
  - name: t
    provider: g
    active: sometimes
    password: hunter2
`
	_, err := Apply(newDB(t), []byte(data), Options{Getenv: func(string) string { return "" }})
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Apply: %v, want Errors", err)
	}
	want := []struct {
		line int
		path string
		msg  string
	}{
		{3, "providers[0].clientId", "expected text, got a list"},
		{6, "providers[0].scopez", `unknown field "scopez"`},
		{7, "providers[0].pkce", "expected true or false, got text"},
		{11, "tokens[0].active", "expected true or false, got text"},
		{12, "tokens[0].password", "expected {env: VAR} or {file: PATH}, got text"},
	}
	if len(es) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(es), len(want), err)
	}
	for i, w := range want {
		if es[i].Line != w.line || es[i].Path != w.path || !strings.Contains(es[i].Msg, w.msg) {
			t.Errorf("problem %d = %v; want line %d, %s: %s", i, es[i], w.line, w.path, w.msg)
		}
	}
	for _, bad := range []string{"unmarshal", "!!", "hunter2", "maybe", "sometimes"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("the errors say %q:\n%v", bad, err)
		}
	}
}

// scopes may be a list or one space-separated string, as providers write it.
func TestApplyScopesString(t *testing.T) {
	tests := []struct {
		name, scopes string
		want         []string
	}{
		{"string", "openid offline_access", []string{"openid", "offline_access"}},
		{"extra spaces", "'  openid   email '", []string{"openid", "email"}},
		{"list", "[openid, offline_access]", []string{"openid", "offline_access"}},
		{"none", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			data := "providers:\n  - name: g\n    clientId: c\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: https://a.example.com/t\n    scopes: " + tt.scopes + "\n" +
				"tokens:\n  - name: t\n    provider: g\n    scopes: " + tt.scopes + "\n"
			if _, err := Apply(db, []byte(data), Options{Getenv: func(string) string { return "" }}); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			db.View(func(tx *store.Tx) error {
				p, _ := tx.Provider("g")
				tk, _ := tx.Token("t")
				if !slices.Equal(p.Scopes, tt.want) || !slices.Equal(tk.Scopes, tt.want) {
					t.Errorf("scopes %q: provider %q, token %q; want %q", tt.scopes, p.Scopes, tk.Scopes, tt.want)
				}
				return nil
			})
		})
	}
}

// A provider created without a client secret (an exported file applied to
// a new home) is flagged in the plan; RequireSecrets refuses the file.
func TestApplyProviderWithoutSecret(t *testing.T) {
	base := "providers:\n  - name: g\n    clientId: c\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: https://a.example.com/t\n"
	tests := []struct {
		name        string
		data        string
		require     bool
		seed        bool // the home already holds g with a secret
		wantErr     string
		wantWarning bool
	}{
		{"flagged", base, false, false, "", true},
		{"refused", base, true, false, "providers[0]: provider g would have no client secret", false},
		{"reference given", base + "    clientSecret: {env: G_SECRET}\n", true, false, "", false},
		{"home holds one", base, true, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			if tt.seed {
				db.Update(func(tx *store.Tx) error {
					return tx.CreateProvider(store.Provider{Name: "g", ClientID: "c", ClientSecret: "s3cret", GrantType: store.GrantAuthorizationCode,
						AuthURL: "https://a.example.com/a", TokenURL: "https://a.example.com/t", AuthStyle: store.AuthStyleHeader})
				})
			}
			env := func(k string) string {
				if k == "G_SECRET" {
					return "from-env"
				}
				return ""
			}
			plan, err := Apply(db, []byte(tt.data), Options{Getenv: env, RequireSecrets: tt.require})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Apply: %v, want an error with %q", err, tt.wantErr)
				}
				db.View(func(tx *store.Tx) error {
					if _, err := tx.Provider("g"); err == nil {
						t.Error("a refused file created the provider")
					}
					return nil
				})
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			warned := false
			for _, ch := range plan.Changes {
				warned = warned || strings.Contains(ch.String(), "warning: no client secret")
			}
			if warned != tt.wantWarning {
				t.Errorf("plan %v: warned %v, want %v", plan.Changes, warned, tt.wantWarning)
			}
		})
	}
}
