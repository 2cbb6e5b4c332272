package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// maxRevocationResponse caps what is read of a revocation endpoint's answer.
const maxRevocationResponse = 64 << 10

// RevokeOptions tune Revoke.
type RevokeOptions struct {
	// Local clears the stored credential without calling the provider's
	// revocation endpoint: the tokens stay valid there until they expire.
	Local bool
}

// Revocation is what Revoke did.
type Revocation struct {
	// Token is the token as stored afterwards: no credential, state
	// unauthorized.
	Token store.Token
	// Endpoint is the revocation URL that was called, "" when none was.
	Endpoint string
	// Revoked lists what the provider confirmed revoked, in order:
	// "refresh_token", "access_token".
	Revoked []string
	// NotRevoked says why the provider was not asked, or what it refused
	// that did not stop the revocation (an access token it cannot revoke
	// alone, after its refresh token was revoked); "" when all went well.
	NotRevoked string
}

// Revoke ends the named token's credential. For an oauth2 token whose
// provider has a revocation URL (RFC 7009) it first asks the provider to
// revoke the refresh token, then the access token, authenticating the
// client as the provider's auth style says; if the provider refuses or
// cannot be reached, nothing is cleared and the error (CodeRevokeFailed)
// says why. Then, for every type, it erases the stored credential and sets
// the state to unauthorized. It runs under the token's lock, so it waits for
// a refresh in progress and revokes what that refresh stored.
func (m *Manager) Revoke(ctx context.Context, name string, opts RevokeOptions) (Revocation, error) {
	lock, err := m.db.LockToken(ctx, name)
	if err != nil {
		return Revocation{}, newError(CodeRevokeFailed, name, err, "token %q: could not take its lock: %v", name, err)
	}
	defer lock.Unlock()
	t, p, err := m.read(name)
	if err != nil {
		return Revocation{}, err
	}
	start := time.Now()
	r, err := m.revokeAtProvider(ctx, t, p, opts)
	if err != nil {
		m.emit(Event{Kind: EventRevokeFailed, Token: name, Type: t.Type, Provider: t.Provider, Duration: time.Since(start), Code: CodeOf(err), Message: err.Error()})
		return Revocation{}, err
	}
	if r.Token, err = m.erase(name); err != nil {
		msg := fmt.Sprintf("token %q: clearing its credential failed: %v", name, err)
		if len(r.Revoked) > 0 {
			msg += "; the provider has already revoked it, so it no longer works anywhere"
		}
		return Revocation{}, newError(CodeStore, name, err, "%s", msg)
	}
	m.forget(name)
	m.emit(Event{Kind: EventRevoked, Token: name, Type: t.Type, Provider: t.Provider, Duration: time.Since(start), Revoked: r.Revoked})
	return r, nil
}

// revokeAtProvider asks t's provider to revoke its tokens when there is
// something to revoke and a revocation URL, else says in r.NotRevoked why
// it did not. Called with the token's file lock held.
func (m *Manager) revokeAtProvider(ctx context.Context, t store.Token, p *store.Provider, opts RevokeOptions) (Revocation, error) {
	var r Revocation
	s := t.Secret
	switch {
	case t.Static():
		// Nothing to tell anyone: the credential was issued elsewhere.
	case s.RefreshToken == "" && s.AccessToken == "":
		r.NotRevoked = "it held no tokens"
	case opts.Local:
		r.NotRevoked = "not asked (local only): the tokens stay valid at the provider until they expire"
	case p == nil:
		r.NotRevoked = fmt.Sprintf("its provider %q no longer exists, so the tokens stay valid there until they expire", t.Provider)
	case p.RevocationURL == "":
		r.NotRevoked = fmt.Sprintf("provider %q has no revocation URL, so the tokens stay valid there until they expire (set one with `scriptrun provider update %s --revocation-url URL`)", p.Name, p.Name)
	default:
		return r, m.revokeRemote(ctx, t, *p, &r)
	}
	return r, nil
}

// erase clears the named token's credential and state and returns it as
// stored. Called with the token's file lock held.
func (m *Manager) erase(name string) (store.Token, error) {
	var saved store.Token
	err := m.db.Update(func(tx *store.Tx) error {
		t, err := tx.Token(name)
		if err != nil {
			return err
		}
		t.Secret = store.Secret{}
		t.State = store.StateUnauthorized
		t.Expires = time.Time{}
		t.LastMessage = ""
		t.RefreshFailures = 0
		t.RefreshFailed = time.Time{}
		t.RetryAfter = time.Time{}
		saved = t
		return tx.PutToken(t)
	})
	return saved, err
}

// revokeRemote asks the provider to revoke t's refresh token, then its
// access token. An access token the provider cannot revoke on its own
// (unsupported_token_type) after its refresh token was revoked is noted, not
// an error: revoking a refresh token ends its grant.
func (m *Manager) revokeRemote(ctx context.Context, t store.Token, p store.Provider, r *Revocation) error {
	ctx, cancel := context.WithTimeout(ctx, m.refreshTimeout)
	defer cancel()
	r.Endpoint = p.RevocationURL
	type item struct{ value, hint string }
	var items []item
	if t.Secret.RefreshToken != "" {
		items = append(items, item{t.Secret.RefreshToken, "refresh_token"})
	}
	if t.Secret.AccessToken != "" {
		items = append(items, item{t.Secret.AccessToken, "access_token"})
	}
	for _, it := range items {
		code, err := m.revokeOne(ctx, p, it.value, it.hint, t.Secret.RefreshToken, t.Secret.AccessToken, p.ClientSecret)
		if err == nil {
			r.Revoked = append(r.Revoked, it.hint)
			continue
		}
		what := err.Error() // secrets masked by revokeOne, before any cut
		if len(r.Revoked) > 0 {
			// The refresh token is revoked: the grant is over.
			r.NotRevoked = fmt.Sprintf("the provider did not revoke the access token on its own (%s); it ends with its grant or when it expires", what)
			return nil
		}
		msg := fmt.Sprintf("token %q: the provider did not revoke it: %s; nothing was cleared: try again, or pass --local (console: \"Erase here only\") to erase it here only", t.Name, what)
		if code == "unsupported_token_type" {
			msg = fmt.Sprintf("token %q: the provider cannot revoke this kind of token (%s); nothing was cleared: pass --local (console: \"Erase here only\") to erase it here only", t.Name, what)
		}
		return newError(CodeRevokeFailed, t.Name, err, "%s", msg)
	}
	return nil
}

// revocationRequest builds one RFC 7009 request for token, authenticating
// the client as the provider's auth style says.
func revocationRequest(ctx context.Context, p store.Provider, token, hint string) (*http.Request, error) {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RevocationURL, nil)
	if err != nil {
		return nil, errors.New("the revocation URL is not usable")
	}
	switch {
	case p.AuthStyle == store.AuthStyleHeader && p.ClientSecret != "":
		// RFC 6749 section 2.3.1: both form-urlencoded before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(p.ClientID), url.QueryEscape(p.ClientSecret))
	case p.ClientSecret != "":
		form.Set("client_id", p.ClientID)
		form.Set("client_secret", p.ClientSecret)
	default:
		form.Set("client_id", p.ClientID) // a public client identifies itself
	}
	body := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// revokeOne sends one RFC 7009 revocation request and returns the OAuth
// error code of a refusal, if any. The provider's words in the error have
// secrets masked.
func (m *Manager) revokeOne(ctx context.Context, p store.Provider, token, hint string, secrets ...string) (string, error) {
	req, err := revocationRequest(ctx, p, token, hint)
	if err != nil {
		return "", err
	}
	client := &http.Client{Transport: m.client.Transport, Timeout: m.client.Timeout, CheckRedirect: noRedirects}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ue) && ue.Timeout():
			return "", errors.New("the revocation endpoint did not answer in time")
		case errors.As(err, &ue):
			return "", fmt.Errorf("cannot reach the revocation endpoint: %s", providerText(ue.Err.Error(), 200, secrets...))
		}
		return "", fmt.Errorf("cannot reach the revocation endpoint: %s", providerText(err.Error(), 200, secrets...))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxRevocationResponse))
	if resp.StatusCode/100 == 2 {
		return "", nil
	}
	var oe struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(raw, &oe) == nil && oe.Error != "" {
		msg := "revocation endpoint answered " + providerText(oe.Error, 64, secrets...)
		if oe.Description != "" {
			msg += ": " + providerText(oe.Description, maxProviderText, secrets...)
		}
		return oe.Error, errors.New(msg)
	}
	return "", errors.New("revocation endpoint answered HTTP " + strconv.Itoa(resp.StatusCode) + " without an OAuth error code")
}
