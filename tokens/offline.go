package tokens

import (
	"fmt"
	"slices"
	"strings"

	"github.com/scriptrun/scriptrun/store"
)

// AsksOffline reports whether authorizing t at p asks for offline access,
// that is for a refresh token: the offline_access scope (OpenID Connect,
// Microsoft, Okta...) or Google's access_type=offline parameter.
func AsksOffline(t store.Token, p store.Provider) bool {
	if slices.Contains(t.EffectiveScopes(p), "offline_access") {
		return true
	}
	return strings.EqualFold(p.AuthParams["access_type"], "offline")
}

// NoRefreshTokenWarning returns, for a token just authorized, a warning in
// words when it asked for offline access (AsksOffline) but the provider
// issued no refresh token: it will stop working when its access token
// expires, which nobody would otherwise notice until then. It returns ""
// when there is nothing to say.
func NoRefreshTokenWarning(t store.Token, p *store.Provider) string {
	if p == nil || t.Type != store.TypeOAuth2 || p.GrantType != store.GrantAuthorizationCode || t.Secret.RefreshToken != "" || !AsksOffline(t, *p) {
		return ""
	}
	why := "the offline_access scope"
	if !slices.Contains(t.EffectiveScopes(*p), "offline_access") {
		why = "access_type=offline"
	}
	return fmt.Sprintf("token %s asked for offline access (%s) but provider %s issued no refresh token, so it must be authorized again when its access token expires; "+
		"the provider may issue one only on the first consent (authorize again with prompt consent) or only to apps allowed offline access", t.Name, why, p.Name)
}
