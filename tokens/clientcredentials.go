package tokens

import (
	"context"
	"net/url"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/scriptrun/scriptrun/store"
)

// Tokens of a client_credentials provider (machine to machine) have no
// authorization step and no refresh token: the client's own id and secret
// fetch an access token on first use, and fetch a new one when it is inside
// the refresh margin, expired, or refused with 401. Fetches run exactly like
// refreshes: one flight per token in a process, under the token's
// cross-process lock, re-reading the token first, and storing the answer
// before anyone uses it.

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

// fetchLocked gets a new access token for t with the client_credentials
// grant and stores it before returning it. It runs under the token's lock,
// inside a flight (see refreshLocked). A failure is recorded in lastMessage;
// a token that still holds a valid access token keeps signing with it,
// as after a failed refresh.
func (m *Manager) fetchLocked(ctx context.Context, t store.Token, p store.Provider, force bool, rejected string) (*entry, error) {
	name := t.Name
	cfg := clientCredentialsConfig(p, t)
	m.step("sending")
	set, err := m.tokenCall(ctx, p, func(ctx context.Context) (*oauth2.Token, error) {
		return cfg.Token(ctx)
	})
	if err != nil {
		what := describe(err, t.Secret.AccessToken, p.ClientSecret)
		terr := newError(CodeRefreshFailed, name, err, "token %q could not get an access token from provider %q (client_credentials): %s", name, p.Name, what)
		recorded, err := m.failed(t, nil, terr)
		if CodeOf(err) != CodeStore && !force && rejected == "" && t.Secret.AccessToken != "" && m.now().Before(t.Expires) {
			e, nerr := newEntry(recorded, true, m.now())
			if nerr != nil {
				return nil, nerr
			}
			return e, nil
		}
		return nil, err
	}
	m.step("received")
	// Each answer is a whole new token set: nothing of the old one is kept.
	e, err := m.save(name, set, "fetched", true)
	if err != nil {
		return nil, err
	}
	m.step("saved")
	e.fetch = true
	return e, nil
}
