package tokens

import (
	"net/url"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/scriptrun/scriptrun/store"
)

// Tokens of a client_credentials provider (machine to machine) have no
// authorization step and no refresh token: the client's own id and secret
// fetch an access token on first use, and fetch a new one when it is inside
// the refresh margin, expired, or refused by an API (a 401, or what the
// provider declares: Rejects). Fetches run exactly like refreshes: one
// flight per token in a process, under the token's cross-process lock,
// re-reading the token first, and storing the answer before anyone uses it
// (refresh.go: the action is fetch instead of refresh).

// clientCredentialsConfig builds the x/oauth2 client-credentials request for
// a provider and token: the token's scopes (else the provider's), and the
// provider's extra token parameters (audience, resource...) as endpoint
// parameters. Parameters the grant sets itself are left out, so a token
// parameter can never turn the request into another grant.
func clientCredentialsConfig(p store.Provider, t store.Token) *clientcredentials.Config {
	style := oauth2.AuthStyleInHeader
	if p.AuthStyle == store.AuthStyleBody {
		style = oauth2.AuthStyleInParams
	}
	cfg := &clientcredentials.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		TokenURL:     p.TokenURL,
		Scopes:       t.EffectiveScopes(p),
		AuthStyle:    style,
	}
	for k, v := range p.TokenParams {
		switch k {
		case "grant_type", "client_id", "client_secret":
			continue
		case "scope":
			if len(cfg.Scopes) > 0 {
				continue // the scopes win; x/oauth2 refuses both
			}
		}
		if cfg.EndpointParams == nil {
			cfg.EndpointParams = url.Values{}
		}
		cfg.EndpointParams.Set(k, v)
	}
	return cfg
}
