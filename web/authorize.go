package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// maxPending bounds the authorizations in progress; the oldest goes first.
const maxPending = 64

// pending is one "Get authorization token" waiting for its callback. It
// holds the PKCE verifier (inside auth), so it never leaves the server.
type pending struct {
	auth    *tokens.Authorization
	session string // id of the session that started it
	created time.Time
}

// pendingStore keeps pending authorizations keyed by the SHA-256 of their
// state, so the state itself is kept only inside the Authorization.
type pendingStore struct {
	mu sync.Mutex
	m  map[string]*pending
}

func newPendingStore() *pendingStore { return &pendingStore{m: make(map[string]*pending)} }

func (ps *pendingStore) add(a *tokens.Authorization, sessionID string, now time.Time) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for k, p := range ps.m {
		if now.Sub(p.created) > tokens.AuthorizationTTL {
			delete(ps.m, k)
		}
	}
	if len(ps.m) >= maxPending {
		var oldest string
		for k, p := range ps.m {
			if oldest == "" || p.created.Before(ps.m[oldest].created) {
				oldest = k
			}
		}
		delete(ps.m, oldest)
	}
	ps.m[stateKey(a.State)] = &pending{auth: a, session: sessionID, created: now}
}

// Outcomes of take.
const (
	takeOK      = iota
	takeUnknown // never issued, already used, or dropped
	takeForeign // issued to another session: left for it
	takeExpired // issued more than tokens.AuthorizationTTL ago: dropped
)

// take returns the authorization issued with state and removes it, so it is
// used at most once. One issued to another session is left alone: a callback
// in the wrong browser must not cancel the admin's flow.
func (ps *pendingStore) take(state, sessionID string, now time.Time) (*pending, int) {
	k := stateKey(state)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.m[k]
	switch {
	case p == nil:
		return nil, takeUnknown
	case p.session != sessionID:
		return p, takeForeign
	}
	delete(ps.m, k)
	if now.Sub(p.created) > tokens.AuthorizationTTL || now.Before(p.created) {
		return p, takeExpired
	}
	return p, takeOK
}

// forgetToken drops the pending authorizations of a deleted token.
func (ps *pendingStore) forgetToken(name string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for k, p := range ps.m {
		if p.auth.Token == name {
			delete(ps.m, k)
		}
	}
}

func stateKey(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// tokenAuthorize is "Get authorization token": it builds the provider's
// authorization URL (scopes, state, PKCE, prompt, extra parameters: see
// tokens.Manager.Authorize), remembers it for the callback and sends the
// browser to the provider.
func (s *Server) tokenAuthorize(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	if err := s.db.View(func(tx *store.Tx) error { _, err := tx.Token(name); return err }); err != nil {
		return recordError("token", name, err)
	}
	a, err := s.tokens.Authorize(name, s.callback)
	if err != nil {
		s.log.Warn("token authorization not started", "token", name, "reason", err.Error(), "session", sess.logID(), "remote", clientAddr(r))
		s.sessions.addFlash(sess, "error", "Cannot start the authorization: "+err.Error())
		return seeOther(w, r, "/tokens/"+name)
	}
	s.pending.add(a, sess.id, s.now())
	s.log.Info("token authorization started", "token", name, "session", sess.logID(), "remote", clientAddr(r))
	http.Redirect(w, r, a.URL, http.StatusSeeOther)
	return nil
}

// maxCallbackQuery bounds the callback's query; real ones are well under 2 KiB.
const maxCallbackQuery = 8 << 10

// callbackParams are the parameters the callback reads; each may appear once.
var callbackParams = []string{"state", "code", "error", "error_description", "error_uri", "iss"}

// parseCallback reads the provider's redirect: a state, and a code or an
// error. It refuses a query that is too long, unreadable, or repeats a
// parameter (which one would the provider have meant?).
func parseCallback(rawQuery string) (url.Values, error) {
	if len(rawQuery) > maxCallbackQuery {
		return nil, errors.New("the callback's query is too long")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, errors.New("the callback's query cannot be read")
	}
	for _, k := range callbackParams {
		if len(q[k]) > 1 {
			return nil, fmt.Errorf("the callback repeats the parameter %q", k)
		}
	}
	state := q.Get("state")
	switch {
	case state == "":
		return nil, errors.New("the callback carries no state")
	case len(state) > 512:
		return nil, errors.New("the callback's state is too long")
	case q.Get("code") == "" && q.Get("error") == "":
		return nil, errors.New("the callback carries neither a code nor an error")
	}
	return q, nil
}

// oauthCallback finishes "Get authorization token": the state must be one
// this console issued to this very session, unused, and under
// tokens.AuthorizationTTL old. The token manager then records a provider
// error or exchanges the code and stores the token, and the admin lands on
// the token's page with the outcome.
func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request) {
	client := clientAddr(r)
	q, err := parseCallback(r.URL.RawQuery)
	if err != nil {
		s.log.Warn("oauth callback refused", "reason", err.Error(), "remote", client)
		s.fail(w, r, s.sessionOf(r), &pageError{Status: http.StatusBadRequest, Title: "Not a valid callback",
			Msg: "This address receives the provider's answer to \"Get authorization token\", and this request is not one: " + err.Error() + "."})
		return
	}
	if s.reconnectCallback(w, r, q) {
		return // started from a reconnect link (reconnect.go)
	}
	sess, err := s.currentSession(w, r)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if sess == nil {
		s.log.Warn("oauth callback refused: no session", "remote", client)
		s.fail(w, r, nil, &pageError{Status: http.StatusForbidden, Title: "Sign in first",
			Msg: "The provider sent you back, but this browser is not signed in to the console (the session may have ended). Sign in, open the token, and press \"Get authorization token\" again."})
		return
	}
	p, outcome := s.pending.take(q.Get("state"), sess.id, s.now())
	switch outcome {
	case takeUnknown:
		s.log.Warn("oauth callback refused: unknown or used state", "session", sess.logID(), "remote", client)
		s.fail(w, r, sess, &pageError{Status: http.StatusBadRequest, Title: "Unknown authorization",
			Msg: "This answer from the provider does not match an authorization in progress: it was already used, or the console restarted. Open the token and press \"Get authorization token\" again."})
		return
	case takeForeign:
		s.log.Warn("oauth callback refused: state issued to another session", "token", p.auth.Token, "session", sess.logID(), "remote", client)
		s.fail(w, r, sess, &pageError{Status: http.StatusForbidden, Title: "Authorization started elsewhere",
			Msg: "This authorization was started from another browser session, so it cannot be finished here. Press \"Get authorization token\" in this browser instead."})
		return
	case takeExpired:
		name := p.auth.Token
		s.log.Warn("oauth callback refused: authorization expired", "token", name, "session", sess.logID(), "remote", client)
		s.sessions.addFlash(sess, "error", fmt.Sprintf("The sign-in at the provider took longer than %s. Press \"Get authorization token\" again.", tokens.AuthorizationTTL))
		seeOther(w, r, "/tokens/"+name)
		return
	}
	name := p.auth.Token
	t, err := s.tokens.Complete(r.Context(), p.auth, q)
	if err != nil {
		s.log.Warn("authorization from the console failed", "token", name, "code", tokens.CodeOf(err), "reason", err.Error(), "session", sess.logID(), "remote", client)
		s.sessions.addFlash(sess, "error", upperFirst(err.Error())+".")
		seeOther(w, r, "/tokens/"+name)
		return
	}
	s.log.Info("admin authorized token", "token", name, "session", sess.logID(), "remote", client)
	msg := "Token " + name + " is authorized."
	if !t.Expires.IsZero() {
		msg += " Its access token expires " + relative(t.Expires, s.now()) + "."
	}
	var prov *store.Provider
	if t.Secret.RefreshToken == "" {
		// Only to word the warning: a missing provider was refused above.
		_ = s.db.View(func(tx *store.Tx) (err error) { _, prov, err = tx.TokenWithProvider(name); return err })
	}
	warning := tokens.NoRefreshTokenWarning(t, prov)
	if t.Secret.RefreshToken == "" && warning == "" {
		msg += " The provider issued no refresh token, so it must be authorized again when it expires (ask for offline access)."
	}
	s.sessions.addFlash(sess, "ok", msg)
	if warning != "" {
		s.log.Warn("authorization returned no refresh token although it asked for offline access", "token", name, "provider", t.Provider)
		s.sessions.addFlash(sess, "warn", upperFirst(warning)+".")
	}
	seeOther(w, r, "/tokens/"+name)
}
