package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/sandbox"
)

// token authorize warns when it asked for offline access and the provider
// issued no refresh token, and says nothing more when one was issued.
func TestAuthorizeWarnsWithoutRefreshToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	tests := []struct {
		name        string
		withRefresh bool
		wantWarning bool
	}{
		{"none issued", false, true},
		{"issued", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := sandbox.Start(sandbox.Options{AuthStyle: "body"})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if !tt.withRefresh {
				srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
					w.Header().Set("Content-Type", "application/json")
					w.Write([]byte(`{"access_token":"at-without-refresh","token_type":"bearer","expires_in":3600}`))
					return true
				})
			}
			home := t.TempDir()
			for _, c := range []struct {
				stdin string
				args  []string
			}{
				{srv.ClientSecret() + "\n", []string{"provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-stdin", "--auth-url", srv.AuthURL(),
					"--token-url", srv.TokenURL(), "--auth-style", "body", "--scopes", "read offline_access"}},
				{"", []string{"token", "add", "api", "--provider", "sandbox", "--base-url", srv.URL()}},
			} {
				if code, out, errs := proc(t, home, c.stdin, c.args...); code != 0 {
					t.Fatalf("scriptrun %v: exit %d\n%s%s", c.args, code, out, errs)
				}
			}
			out, _ := authorizeCLI(t, home, srv, "api")
			got := strings.Contains(out, "warning: token api asked for offline access (the offline_access scope) but provider sandbox issued no refresh token")
			if got != tt.wantWarning {
				t.Errorf("warning printed: %v, want %v:\n%s", got, tt.wantWarning, out)
			}
			if strings.Contains(out, "at-without-refresh") {
				t.Error("token authorize printed the access token")
			}
		})
	}
}
