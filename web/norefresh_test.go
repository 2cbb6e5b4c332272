package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
)

// An authorization that asked for offline access but got no refresh token
// is warned about on the token page right away, not when the token dies.
func TestAuthorizationWithoutRefreshTokenWarns(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(*store.Provider)
		want     string
		wantWarn bool
	}{
		{"access_type=offline", func(p *store.Provider) { p.AuthParams = map[string]string{"access_type": "offline"} }, "asked for offline access (access_type=offline)", true},
		{"offline_access scope", func(p *store.Provider) { p.Scopes = []string{"openid", "offline_access"} }, "asked for offline access (the offline_access scope)", true},
		{"not asked", func(p *store.Provider) {}, "The provider issued no refresh token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			srv := e.withSandbox(sandbox.Options{})
			e.db.Update(func(tx *store.Tx) error {
				p, _ := tx.Provider("sandbox")
				tt.mod(&p)
				return tx.PutProvider(p)
			})
			// The provider answers the code exchange without a refresh token.
			srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"access_token":"at-without-refresh","token_type":"bearer","expires_in":3600}`))
				return true
			})
			b := e.signedIn()
			callback := signInAtProvider(t, b.startAuthorization("api"))
			r := b.get(callback)
			if r.status != http.StatusSeeOther {
				t.Fatalf("callback: %d, want 303", r.status)
			}
			page := b.follow(r)
			mustContain(t, "token page", page, "Token api is authorized", tt.want)
			if got := strings.Contains(page.body, "flash-warn"); got != tt.wantWarn {
				t.Errorf("warning flash shown: %v, want %v", got, tt.wantWarn)
			}
		})
	}
}

// The commands the console suggests carry the --home of the serve running
// it, so a copied hint acts on the same home.
func TestConsoleHintsNameHome(t *testing.T) {
	tests := []struct {
		name, command, want string
	}{
		{"default", "", "scriptrun admin password"},
		{"with home", "scriptrun --home '/srv/my home'", "scriptrun --home '/srv/my home' admin password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{modify: func(o *Options) { o.Command = tt.command }})
			mustContain(t, "login page", e.browser().get("/login"), tt.want)
		})
	}
}

// A token's last message, written by the token manager, suggests commands
// for the console's home too.
func TestTokenMessageHintNamesHome(t *testing.T) {
	e := newEnv(t, envOpts{modify: func(o *Options) { o.Command = "scriptrun --home /srv/sr" }})
	e.withSandbox(sandbox.Options{})
	e.db.Update(func(tx *store.Tx) error {
		tk, err := tx.Token("api")
		if err != nil {
			return err
		}
		tk.LastMessage = "token \"api\" could not be refreshed: run `scriptrun token authorize api`"
		return tx.PutToken(tk)
	})
	mustContain(t, "token page", e.signedIn().get("/tokens/api"), "scriptrun --home /srv/sr token authorize api")
}
