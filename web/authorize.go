package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// Pending authorizations live in the store's ephemeral state, so that the
// provider's redirect may reach any node: under "oauth/" + the SHA-256 of
// the state (hashed again by the store), sealed with the master key (the
// record holds the PKCE verifier), for pendingTTL.

// pendingTTL is how long the store keeps a pending authorization: past
// tokens.AuthorizationTTL, so that a late callback is told it came too late
// rather than that it is unknown.
const pendingTTL = tokens.AuthorizationTTL + 10*time.Minute

// pending is one "Get authorization token" waiting for its callback. It
// holds the PKCE verifier (inside auth), so it never leaves the server
// unsealed. A field added here must be added to pendingRecord too
// (TestPendingRecordCarriesEveryField checks).
type pending struct {
	auth    *tokens.Authorization
	session string // id of the session that started it
	created time.Time
}

// pendingRecord is a pending authorization as stored, sealed.
type pendingRecord struct {
	Auth    json.RawMessage `json:"auth"` // tokens.Authorization.MarshalBinary: verifier included
	Session string          `json:"session"`
	Created time.Time       `json:"created"`
}

// forgottenRecord is the mark forgetToken leaves: authorizations of the
// token created up to Before are void.
type forgottenRecord struct {
	Before time.Time `json:"before"`
}

// pendingStore keeps pending authorizations keyed by the SHA-256 of their
// state, so the state itself is kept only inside the sealed Authorization.
type pendingStore struct {
	eph ephemeralStore
	log *slog.Logger
	now func() time.Time
}

func newPendingStore(eph ephemeralStore, log *slog.Logger, now func() time.Time) *pendingStore {
	return &pendingStore{eph: eph, log: log, now: now}
}

func pendingKey(state string) string   { return "oauth/" + stateKey(state) }
func forgottenKey(token string) string { return "oauth-forgotten/" + token }

// add keeps a for its callback, on whichever node that arrives.
func (ps *pendingStore) add(a *tokens.Authorization, sessionID string, now time.Time) error {
	auth, err := a.MarshalBinary()
	if err != nil {
		return fmt.Errorf("keep the authorization of token %q: %w", a.Token, err)
	}
	b, err := json.Marshal(pendingRecord{Auth: auth, Session: sessionID, Created: now})
	if err != nil {
		return fmt.Errorf("keep the authorization of token %q: %w", a.Token, err)
	}
	if err := ps.eph.PutTTL(pendingKey(a.State), b, pendingTTL, true); err != nil {
		return fmt.Errorf("keep the authorization of token %q: %w", a.Token, err)
	}
	return nil
}

// Outcomes of take.
const (
	takeOK      = iota
	takeUnknown // never issued, already used, or dropped
	takeForeign // issued to another session: left for it
	takeExpired // issued more than tokens.AuthorizationTTL ago: dropped
	takeFailed  // the store could not be read (logged); p is nil
)

// take returns the authorization issued with state and removes it, so it is
// used at most once, even when the provider's redirect is replayed at
// several nodes at once (the store's Take). One issued to another session
// is left alone: a callback in the wrong browser must not cancel the
// admin's flow.
func (ps *pendingStore) take(state, sessionID string, now time.Time) (*pending, int) {
	k := pendingKey(state)
	p, err := ps.read(ps.eph.Get, k)
	if p == nil || err != nil {
		return nil, ps.outcome(err)
	}
	if p.session != sessionID {
		return p, takeForeign
	}
	if p, err = ps.read(ps.eph.Take, k); p == nil || err != nil {
		return nil, ps.outcome(err) // another node took it meanwhile
	}
	if ps.forgotten(p) {
		return nil, takeUnknown
	}
	if now.Sub(p.created) > tokens.AuthorizationTTL || now.Before(p.created) {
		return p, takeExpired
	}
	return p, takeOK
}

func (ps *pendingStore) outcome(err error) int {
	if err == nil {
		return takeUnknown
	}
	ps.log.Error("pending authorization not read", "err", err)
	return takeFailed
}

// read reads (or takes) the pending authorization under k: nil when there
// is none.
func (ps *pendingStore) read(get func(string) ([]byte, error), k string) (*pending, error) {
	b, err := get(k)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	var rec pendingRecord
	a := new(tokens.Authorization)
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, errors.New("a stored authorization is unreadable")
	}
	if err := a.UnmarshalBinary(rec.Auth); err != nil {
		return nil, err
	}
	return &pending{auth: a, session: rec.Session, created: rec.Created}, nil
}

// forgotten reports whether p's token was deleted after p began.
func (ps *pendingStore) forgotten(p *pending) bool {
	b, err := ps.eph.Get(forgottenKey(p.auth.Token))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			ps.log.Error("deleted-token mark not read", "token", p.auth.Token, "err", err)
		}
		return false
	}
	var rec forgottenRecord
	return json.Unmarshal(b, &rec) == nil && !p.created.After(rec.Before)
}

// forgetToken voids the pending authorizations of a deleted token, on every
// node: a token created again under the name is not authorized by them.
func (ps *pendingStore) forgetToken(name string) {
	b, _ := json.Marshal(forgottenRecord{Before: ps.now()})
	if err := ps.eph.PutTTL(forgottenKey(name), b, pendingTTL, false); err != nil {
		ps.log.Error("pending authorizations of a deleted token not voided", "token", name, "err", err)
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
	if err := s.pending.add(a, sess.id, s.now()); err != nil {
		return err
	}
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
			Msg: "This answer from the provider does not match an authorization in progress: it was already used, or it expired. Open the token and press \"Get authorization token\" again."})
		return
	case takeForeign:
		s.log.Warn("oauth callback refused: state issued to another session", "token", p.auth.Token, "session", sess.logID(), "remote", client)
		s.fail(w, r, sess, &pageError{Status: http.StatusForbidden, Title: "Authorization started elsewhere",
			Msg: "This authorization was started from another browser session, so it cannot be finished here. Press \"Get authorization token\" in this browser instead."})
		return
	case takeFailed:
		s.fail(w, r, sess, &pageError{Status: http.StatusServiceUnavailable, Title: "Store unavailable",
			Msg: "The console could not read the authorization in progress from its store. Try the provider's redirect again in a moment (reload this page), or press \"Get authorization token\" again."})
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
