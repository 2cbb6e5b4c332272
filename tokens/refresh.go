package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"golang.org/x/oauth2"

	"github.com/scriptrun/scriptrun/store"
)

// flight is one refresh of one token that every waiting caller in this
// process shares.
type flight struct {
	done chan struct{}
	e    *entry
	err  error
}

// refresh brings the named token up to date and returns it. force refreshes
// even a token that is not near expiry; rejected is the access token an API
// refused with 401 (refresh only if the token still holds it).
func (m *Manager) refresh(ctx context.Context, name string, force bool, rejected string) (*entry, error) {
	m.mu.Lock()
	f := m.flights[name]
	if f == nil {
		f = &flight{done: make(chan struct{})}
		m.flights[name] = f
		m.flying.Add(1)
		// The flight does not end with the caller: a refresh the provider
		// has answered must be stored even if the script timed out.
		go m.fly(context.WithoutCancel(ctx), f, name, force, rejected)
	}
	m.mu.Unlock()
	select {
	case <-f.done:
		return f.e, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("token %q: waiting for its refresh: %w", name, ctx.Err())
	}
}

// Close waits for refreshes in flight (and last-use records) to be stored,
// so a process that exits right after a script does not drop a rotated
// refresh token.
func (m *Manager) Close() error {
	m.flying.Wait()
	return nil
}

func (m *Manager) fly(ctx context.Context, f *flight, name string, force bool, rejected string) {
	defer m.flying.Done()
	ctx, cancel := context.WithTimeout(ctx, m.refreshTimeout)
	defer cancel()
	f.e, f.err = m.refreshLocked(ctx, name, force, rejected)
	m.mu.Lock()
	delete(m.flights, name)
	if f.e != nil {
		m.cache[name] = f.e
	} else {
		delete(m.cache, name)
	}
	m.mu.Unlock()
	close(f.done)
}

// refreshLocked runs under the token's cross-process lock: it re-reads the
// token, decides whether a refresh is still needed, and performs it.
func (m *Manager) refreshLocked(ctx context.Context, name string, force bool, rejected string) (*entry, error) {
	unlock, err := m.db.LockToken(ctx, name)
	if err != nil {
		return nil, newError(CodeRefreshFailed, name, err, "token %q: could not take its refresh lock: %v", name, err)
	}
	defer unlock()

	t, p, err := m.read(name)
	if err != nil {
		return nil, err
	}
	if t.Static() {
		return nil, notRefreshable(t)
	}
	fetch := p != nil && p.GrantType == store.GrantClientCredentials
	if err := usable(t, fetch); err != nil {
		return nil, err
	}
	e, err := newEntry(t, fetch, m.now())
	if err != nil {
		return nil, err
	}
	have := t.Secret.AccessToken != ""
	switch {
	case rejected != "" && t.Secret.AccessToken != rejected:
		return e, nil // refreshed by someone else since the request was signed
	case rejected == "" && !force && have && !m.needsRefresh(t):
		return e, nil // refreshed by someone else while we waited for the lock
	case rejected == "" && !force && have && m.coolingDown(t):
		return e, nil // another caller failed a moment ago; the token still works
	}
	if p == nil {
		_, err := m.failed(t, nil, newError(CodeRefreshFailed, name, nil, "token %q: its provider %q no longer exists: add it again with `scriptrun provider add %s ...`", name, t.Provider, t.Provider))
		return nil, err
	}
	if fetch {
		return m.fetchLocked(ctx, t, *p, force, rejected)
	}
	if t.Secret.RefreshToken == "" {
		if rejected == "" && !force && m.now().Before(t.Expires) {
			return e, nil // cannot refresh early; the access token still works
		}
		_, err := m.failed(t, errReauth, newError(CodeReauthRequired, name, nil,
			"token %q expired and the provider issued no refresh token: ask for offline access (e.g. scope offline_access, or Google's access_type=offline) and run `scriptrun token authorize %s`", name, name))
		return nil, err
	}
	if p.GrantType != store.GrantAuthorizationCode {
		return nil, newError(CodeUnsupportedGrant, name, nil, "token %q: provider %q uses grant type %q, which this scriptrun cannot refresh", name, p.Name, p.GrantType)
	}

	cfg := oauthConfig(*p, t, "")
	m.step("sending")
	set, err := m.tokenCall(ctx, *p, func(ctx context.Context) (*oauth2.Token, error) {
		// Only a refresh token, so x/oauth2's own (10 s early) expiry check
		// always asks the provider.
		return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: t.Secret.RefreshToken}).Token()
	})
	if err != nil {
		code := CodeRefreshFailed
		if isInvalidGrant(err) {
			code = CodeReauthRequired
		}
		what := describe(err, t.Secret.RefreshToken, t.Secret.AccessToken, p.ClientSecret)
		terr := newError(code, name, err, "token %q could not be refreshed: %s", name, what)
		kind := error(nil)
		if code == CodeReauthRequired {
			terr.Msg += fmt.Sprintf(": an admin must press \"Get authorization token\" again or run `scriptrun token authorize %s`", name)
			kind = errReauth
		}
		recorded, err := m.failed(t, kind, terr)
		// A failure that may pass leaves the current access token usable
		// until it expires (but not after an API refused it).
		if kind == nil && CodeOf(err) != CodeStore && !force && rejected == "" && m.now().Before(t.Expires) {
			return newEntry(recorded, false, m.now())
		}
		return nil, err
	}
	m.step("received")
	e, err = m.save(name, set, "refreshed", false)
	if err == nil {
		m.step("saved")
	}
	return e, err
}

func (m *Manager) step(s string) {
	if m.hook != nil {
		m.hook(s)
	}
}

// errReauth marks failures after which only a new authorization helps.
var errReauth = errors.New("reauthorization required")

// read returns the token and its provider (nil when the provider is gone).
func (m *Manager) read(name string) (store.Token, *store.Provider, error) {
	var t store.Token
	var p *store.Provider
	err := m.db.View(func(tx *store.Tx) error {
		var err error
		if t, err = tx.Token(name); err != nil {
			return err
		}
		if pv, err := tx.Provider(t.Provider); err == nil {
			p = &pv
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return t, nil, newError(CodeNotFound, name, err, "token %q does not exist: create it with `scriptrun token add %s --provider NAME`", name, name)
	case err != nil:
		return t, nil, newError(CodeStore, name, err, "token %q: %v", name, err)
	}
	return t, p, nil
}

// failed records a failed refresh in the token (lastMessage, failure count
// and time, and state reauth_required when kind is errReauth) and returns the
// token as recorded together with terr.
func (m *Manager) failed(t store.Token, kind error, terr *Error) (store.Token, error) {
	m.log.Warn("token refresh failed", "token", t.Name, "code", terr.Code, "reason", terr.Msg)
	err := m.db.Update(func(tx *store.Tx) error {
		cur, err := tx.Token(t.Name)
		if err != nil {
			return err
		}
		cur.LastMessage = terr.Msg
		cur.RefreshFailures++
		cur.RefreshFailed = m.now().UTC()
		if kind == errReauth {
			cur.State = store.StateReauthRequired
		}
		if err := tx.PutToken(cur); err != nil {
			return err
		}
		t = cur
		return nil
	})
	if err != nil {
		return t, newError(CodeStore, t.Name, err, "%s (and recording that failed: %v)", terr.Msg, err)
	}
	return t, terr
}

// save stores a new token set and only then returns it for use. A refresh
// (replace false) keeps the old refresh token when the provider sent none,
// and earlier extra fields it did not repeat; an authorization replaces all.
func (m *Manager) save(name string, set tokenSet, how string, replace bool) (*entry, error) {
	now := m.now()
	var saved store.Token
	var rotated bool
	err := m.db.Update(func(tx *store.Tx) error {
		t, err := tx.Token(name)
		if err != nil {
			return err
		}
		old := t.Secret
		if replace {
			old = store.Secret{}
		}
		sec := set.secret
		if sec.RefreshToken == "" {
			sec.RefreshToken = old.RefreshToken
		}
		rotated = old.RefreshToken != "" && sec.RefreshToken != old.RefreshToken
		if len(old.Extra) > 0 {
			merged := make(map[string]json.RawMessage, len(old.Extra)+len(sec.Extra))
			maps.Copy(merged, old.Extra)
			maps.Copy(merged, sec.Extra)
			sec.Extra = merged
		}
		t.Secret = sec
		t.Expires = set.expires.UTC()
		t.LastRefreshed = now.UTC()
		t.LastMessage = ""
		t.RefreshFailures = 0
		t.RefreshFailed = time.Time{}
		t.State = store.StateAuthorized
		if err := tx.PutToken(t); err != nil {
			return err
		}
		saved = t
		return nil
	})
	if err != nil {
		// The provider may have rotated the refresh token: say so plainly.
		return nil, newError(CodeStore, name, err, "token %q was %s by the provider but could not be stored (%v); if the provider rotates refresh tokens it must be authorized again", name, how, err)
	}
	attrs := []any{"token", name}
	if !replace {
		attrs = append(attrs, "rotated", rotated)
	}
	if !saved.Expires.IsZero() {
		attrs = append(attrs, "expires_in", saved.Expires.Sub(now).Round(time.Second).String())
	}
	m.log.Info("token "+how, attrs...)
	return newEntry(saved, false, now)
}
