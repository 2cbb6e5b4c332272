package sandbox

import (
	"context"
	"maps"
	"net/url"
	"sync"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/models"
)

// sweepGrace is how long expired entries are kept, so that a client using an
// expired token is told "expired" rather than "invalid".
const sweepGrace = time.Minute

// tokenStore is an in-memory oauth2.TokenStore for the go-oauth2 manager.
//
// The library's own memory store (store.NewMemoryTokenStore) is a buntdb
// database whose background goroutine can never be stopped, so every sandbox
// would leak one; this store has no goroutines and is dropped with the
// Server. It also lets the sandbox revoke or expire every token at once.
//
// Records are copied in and out: the manager mutates the TokenInfo it loads
// (RefreshAccessToken) and the one it has just stored, and neither may change
// what is stored.
type tokenStore struct {
	mu        sync.RWMutex
	codes     map[string]*models.Token
	access    map[string]*models.Token
	refresh   map[string]*models.Token
	lastSweep time.Time
}

var _ oauth2.TokenStore = (*tokenStore)(nil)

func newTokenStore() *tokenStore {
	return &tokenStore{
		codes:   make(map[string]*models.Token),
		access:  make(map[string]*models.Token),
		refresh: make(map[string]*models.Token),
	}
}

// Create stores an authorization code, or an access token and its refresh token.
func (ts *tokenStore) Create(_ context.Context, info oauth2.TokenInfo) error {
	t := copyToken(info)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.sweepLocked(time.Now())
	if t.Code != "" {
		ts.codes[t.Code] = t
		return nil
	}
	if t.Access != "" {
		ts.access[t.Access] = t
	}
	if t.Refresh != "" {
		ts.refresh[t.Refresh] = t
	}
	return nil
}

// RemoveByCode deletes an authorization code.
func (ts *tokenStore) RemoveByCode(_ context.Context, code string) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.codes, code)
	return nil
}

// RemoveByAccess deletes an access token.
func (ts *tokenStore) RemoveByAccess(_ context.Context, access string) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.access, access)
	return nil
}

// RemoveByRefresh deletes a refresh token.
func (ts *tokenStore) RemoveByRefresh(_ context.Context, refresh string) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.refresh, refresh)
	return nil
}

// GetByCode returns the authorization code's record, or nil.
func (ts *tokenStore) GetByCode(_ context.Context, code string) (oauth2.TokenInfo, error) {
	return ts.get(ts.codes, code), nil
}

// GetByAccess returns the access token's record, or nil.
func (ts *tokenStore) GetByAccess(_ context.Context, access string) (oauth2.TokenInfo, error) {
	return ts.get(ts.access, access), nil
}

// GetByRefresh returns the refresh token's record, or nil.
func (ts *tokenStore) GetByRefresh(_ context.Context, refresh string) (oauth2.TokenInfo, error) {
	return ts.get(ts.refresh, refresh), nil
}

func (ts *tokenStore) get(m map[string]*models.Token, key string) oauth2.TokenInfo {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	t, ok := m[key]
	if !ok || key == "" {
		return nil // an untyped nil: the manager checks ti == nil
	}
	return copyToken(t)
}

// revoke deletes token, which may be a refresh token (then the access token
// issued with it goes too, as RFC 7009 recommends) or an access token.
func (ts *tokenStore) revoke(token string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t, ok := ts.refresh[token]; ok {
		delete(ts.refresh, token)
		delete(ts.access, t.Access)
		return true
	}
	if _, ok := ts.access[token]; ok {
		delete(ts.access, token)
		return true
	}
	return false
}

// revokeAll deletes every code, access token and refresh token.
func (ts *tokenStore) revokeAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	clear(ts.codes)
	clear(ts.access)
	clear(ts.refresh)
}

// expireAccess makes every access token expired, as if its lifetime had
// passed; refresh tokens are untouched.
func (ts *tokenStore) expireAccess(now time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for k, t := range ts.access {
		c := *t
		if c.AccessExpiresIn <= 0 {
			c.AccessExpiresIn = time.Second
		}
		c.AccessCreateAt = now.Add(-c.AccessExpiresIn - time.Second)
		ts.access[k] = &c
	}
}

// sweepLocked drops entries that expired more than sweepGrace ago, at most
// once a second, so a long demo or stress test does not grow without bound.
func (ts *tokenStore) sweepLocked(now time.Time) {
	if now.Sub(ts.lastSweep) < time.Second {
		return
	}
	ts.lastSweep = now
	cutoff := now.Add(-sweepGrace)
	maps.DeleteFunc(ts.codes, func(_ string, t *models.Token) bool {
		return t.CodeCreateAt.Add(t.CodeExpiresIn).Before(cutoff)
	})
	maps.DeleteFunc(ts.access, func(_ string, t *models.Token) bool {
		return t.AccessExpiresIn > 0 && t.AccessCreateAt.Add(t.AccessExpiresIn).Before(cutoff)
	})
	maps.DeleteFunc(ts.refresh, func(_ string, t *models.Token) bool {
		return t.RefreshExpiresIn > 0 && t.RefreshCreateAt.Add(t.RefreshExpiresIn).Before(cutoff)
	})
}

// copyToken returns a deep copy of ti as the library's token model.
func copyToken(ti oauth2.TokenInfo) *models.Token {
	t := models.NewToken()
	t.SetClientID(ti.GetClientID())
	t.SetUserID(ti.GetUserID())
	t.SetRedirectURI(ti.GetRedirectURI())
	t.SetScope(ti.GetScope())
	t.SetCode(ti.GetCode())
	t.SetCodeCreateAt(ti.GetCodeCreateAt())
	t.SetCodeExpiresIn(ti.GetCodeExpiresIn())
	t.SetCodeChallenge(ti.GetCodeChallenge())
	t.SetCodeChallengeMethod(ti.GetCodeChallengeMethod())
	t.SetAccess(ti.GetAccess())
	t.SetAccessCreateAt(ti.GetAccessCreateAt())
	t.SetAccessExpiresIn(ti.GetAccessExpiresIn())
	t.SetRefresh(ti.GetRefresh())
	t.SetRefreshCreateAt(ti.GetRefreshCreateAt())
	t.SetRefreshExpiresIn(ti.GetRefreshExpiresIn())
	if e, ok := ti.(oauth2.ExtendableTokenInfo); ok && e.GetExtension() != nil {
		ext := make(url.Values, len(e.GetExtension()))
		for k, v := range e.GetExtension() {
			ext[k] = append([]string(nil), v...)
		}
		t.SetExtension(ext)
	}
	return t
}
