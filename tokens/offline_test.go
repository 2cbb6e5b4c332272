package tokens

import (
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

func TestNoRefreshTokenWarning(t *testing.T) {
	oidc := &store.Provider{Name: "okta", GrantType: store.GrantAuthorizationCode, Scopes: []string{"openid", "offline_access"}}
	google := &store.Provider{Name: "google", GrantType: store.GrantAuthorizationCode, Scopes: []string{"email"}, AuthParams: map[string]string{"access_type": "offline"}}
	plain := &store.Provider{Name: "gh", GrantType: store.GrantAuthorizationCode, Scopes: []string{"repo"}}
	cc := &store.Provider{Name: "m2m", GrantType: "client_credentials", Scopes: []string{"offline_access"}}
	tok := func(scopes []string, refresh string) store.Token {
		return store.Token{Name: "api", Type: store.TypeOAuth2, Scopes: scopes, Secret: store.Secret{AccessToken: "at", RefreshToken: refresh}}
	}
	tests := []struct {
		name string
		t    store.Token
		p    *store.Provider
		want string // "" means no warning
	}{
		{"offline_access scope, none issued", tok(nil, ""), oidc, "offline_access scope"},
		{"offline_access in the token's scopes", tok([]string{"offline_access"}, ""), plain, "offline_access scope"},
		{"google access_type", tok(nil, ""), google, "access_type=offline"},
		{"issued", tok(nil, "rt"), oidc, ""},
		{"no offline asked", tok(nil, ""), plain, ""},
		{"token scopes override the provider's", tok([]string{"openid"}, ""), oidc, ""},
		{"client credentials never get one", tok(nil, ""), cc, ""},
		{"provider gone", tok(nil, ""), nil, ""},
	}
	for _, tt := range tests {
		got := NoRefreshTokenWarning(tt.t, tt.p)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want a warning containing %q", tt.name, got, tt.want)
		}
	}
}
