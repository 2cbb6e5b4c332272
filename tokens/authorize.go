package tokens

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/scriptrun/scriptrun/store"
)

// AuthorizationTTL is how long an authorization may take from the redirect to
// the provider until the callback.
const AuthorizationTTL = 10 * time.Minute

// Authorization is one "Get authorization token" in progress: the URL to send
// the admin's browser to and what the callback must match. It holds the PKCE
// verifier: keep it server-side, never in a page or a log.
type Authorization struct {
	Token       string
	URL         string // the provider's authorization URL with every parameter
	State       string // single-use, random
	RedirectURI string
	Created     time.Time
	verifier    string
}

// Authorize starts the authorization-code flow for the named token: it builds
// the provider's authorization URL with the token's scopes (else the
// provider's), a random state, a PKCE S256 challenge (unless the provider
// turned PKCE off), the token's prompt and the provider's extra parameters.
func (m *Manager) Authorize(name, redirectURI string) (*Authorization, error) {
	t, p, err := m.read(name)
	if err != nil {
		return nil, err
	}
	if t.Static() {
		return nil, newError(CodeUnsupportedGrant, name, nil, "token %q is of type %s, which has no authorization step: store its credential with `scriptrun token update %s %s`", name, t.Type, name, CredentialFlags(t.Type))
	}
	if p == nil {
		return nil, newError(CodeProviderNotFound, name, nil, "token %q: its provider %q does not exist: add it with `scriptrun provider add %s ...`", name, t.Provider, t.Provider)
	}
	if p.GrantType == store.GrantClientCredentials {
		return nil, newError(CodeUnsupportedGrant, name, nil, "token %q: provider %q uses the client_credentials grant, which has no authorization step: the token is fetched on first use (`scriptrun token refresh %s` fetches one now)", name, p.Name, name)
	}
	if p.GrantType != store.GrantAuthorizationCode {
		return nil, newError(CodeUnsupportedGrant, name, nil, "token %q: provider %q uses grant type %q, which has no authorization step", name, p.Name, p.GrantType)
	}
	a := &Authorization{Token: name, State: random(32), RedirectURI: redirectURI, Created: m.now()}
	var opts []oauth2.AuthCodeOption
	for k, v := range p.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	if t.Prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", t.Prompt))
	}
	if p.PKCE {
		a.verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(a.verifier))
	}
	a.URL = oauthConfig(*p, t, redirectURI).AuthCodeURL(a.State, opts...)
	return a, nil
}

// Complete finishes an authorization with the query the provider sent to the
// redirect URI: it checks the state, records a provider error in the token's
// lastMessage, or exchanges the code (with the PKCE verifier) and stores the
// token set. The caller makes sure an Authorization is completed at most once.
func (m *Manager) Complete(ctx context.Context, a *Authorization, q url.Values) (store.Token, error) {
	name := a.Token
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(a.State)) != 1 {
		// Not this authorization's answer: leave the token alone.
		return store.Token{}, newError(CodeStateMismatch, name, nil, "token %q: the callback's state does not match this authorization; start again", name)
	}
	if m.now().Sub(a.Created) > AuthorizationTTL {
		return store.Token{}, newError(CodeAuthorizeExpired, name, nil, "token %q: the authorization took longer than %s; start again", name, AuthorizationTTL)
	}
	if code := q.Get("error"); code != "" {
		msg := "authorization failed: provider answered " + providerText(code, 64, q.Get("code"), a.verifier)
		if d := q.Get("error_description"); d != "" {
			msg += ": " + providerText(d, maxProviderText, q.Get("code"), a.verifier)
		}
		return m.authorizeFailed(name, newError(CodeAuthorizeFailed, name, nil, "token %q: %s", name, msg))
	}
	code := q.Get("code")
	if code == "" {
		return m.authorizeFailed(name, newError(CodeAuthorizeFailed, name, nil, "token %q: authorization failed: the callback carried neither a code nor an error", name))
	}
	return m.exchangeWithTokenLock(ctx, a, code)
}

// exchangeWithTokenLock exchanges the code under the token's file lock, in
// the four steps of a refresh: re-read, check, call the token endpoint,
// save. A refresh in flight finishes first; none starts meanwhile.
func (m *Manager) exchangeWithTokenLock(ctx context.Context, a *Authorization, code string) (store.Token, error) {
	name := a.Token
	lock, err := m.db.LockToken(ctx, name)
	if err != nil {
		return store.Token{}, newError(CodeAuthorizeFailed, name, err, "token %q: could not take its lock: %v", name, err)
	}
	defer lock.Unlock()
	t, p, err := m.read(name)
	if err != nil {
		return store.Token{}, err
	}
	if p == nil {
		return store.Token{}, newError(CodeProviderNotFound, name, nil, "token %q: its provider %q no longer exists", name, t.Provider)
	}
	var opts []oauth2.AuthCodeOption
	if a.verifier != "" {
		opts = append(opts, oauth2.VerifierOption(a.verifier))
	}
	cfg := oauthConfig(*p, t, a.RedirectURI)
	// Like a refresh, the exchange is finished even if the caller gives up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.refreshTimeout)
	defer cancel()
	start := time.Now()
	set, err := m.tokenCall(ctx, *p, func(ctx context.Context) (*oauth2.Token, error) {
		return cfg.Exchange(ctx, code, opts...)
	})
	if err != nil {
		return m.authorizeFailed(name, newError(CodeAuthorizeFailed, name, err, "token %q: authorization failed: exchanging the code: %s", name, describe(err, code, a.verifier, p.ClientSecret)))
	}
	saved, _, err := m.save(t, set.replacing, set.expires, anyCredential)
	if err != nil {
		terr := newError(CodeStore, name, err, "token %q was authorized by the provider but could not be stored (%v); if the provider rotates refresh tokens it must be authorized again", name, err)
		m.emit(Event{Kind: EventAuthorizeFailed, Token: name, Type: t.Type, Provider: t.Provider, Duration: time.Since(start), Code: terr.Code, Message: terr.Msg})
		return store.Token{}, terr
	}
	m.noteLockLost(lock, t, "authorized")
	m.forget(name)
	m.emit(Event{Kind: EventAuthorized, Time: saved.LastRefreshed, Token: name, Type: saved.Type, Provider: saved.Provider, Duration: time.Since(start), Expires: saved.Expires})
	return saved, nil
}

func (m *Manager) authorizeFailed(name string, terr *Error) (store.Token, error) {
	m.emit(Event{Kind: EventAuthorizeFailed, Token: name, Type: store.TypeOAuth2, Code: terr.Code, Message: terr.Msg})
	if err := m.db.Update(func(tx *store.Tx) error {
		t, err := tx.Token(name)
		if err != nil {
			return err
		}
		t.LastMessage = terr.Msg
		return tx.PutToken(t)
	}); err != nil {
		terr.Msg += " (and recording that failed: " + err.Error() + ")"
	}
	return store.Token{}, terr
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
