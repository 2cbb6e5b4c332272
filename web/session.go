package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// Sessions live in the store's ephemeral state (store.Ephemeral), so that
// every node of a cluster knows every session and a restart keeps them:
// under "session/" + the SHA-256 of the cookie value (which the store hashes
// again), sealed with the master key, with a time to live that ends when the
// session would. The cookie value itself is kept nowhere.

// sessionTouch is how often a used session writes its new last-use time:
// at most every sessionTouch (or a quarter of the idle limit if shorter),
// not on every request. A session so ends up to that much sooner than the
// idle limit after its last use, never later.
const sessionTouch = 5 * time.Minute

// session is a signed-in browser. Its cookie holds a random value; the
// store keeps only that value's SHA-256 (hashed again), so a dump of the
// store or a log line cannot be replayed as a cookie.
type session struct {
	id      string    // hex SHA-256 of the cookie value
	csrf    string    // the token every form of this session carries
	created time.Time // sign-in time
	pwSet   time.Time // the admin password's Set at sign-in: a new password ends the session
	remote  string

	// guarded by sessionStore.mu
	seen    time.Time // last use, as last written (see sessionTouch)
	flashes []flash
}

// sessionRecord is a session as stored, sealed.
type sessionRecord struct {
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"`
	PwSet   time.Time `json:"pwSet"`
	Remote  string    `json:"remote"`
	Seen    time.Time `json:"seen"`
	Flashes []flash   `json:"flashes,omitempty"`
}

// logID names the session in logs: a prefix of its hash, useless as a cookie.
func (sess *session) logID() string { return sess.id[:8] }

func (sess *session) csrfOK(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.csrf)) == 1
}

// flash is a one-time message shown on the next page the session sees.
type flash struct {
	Kind string // "ok", "warn" or "error"
	Text string
}

// ephemeralStore keeps state that expires on its own, shared by every node
// using the store; *store.Ephemeral implements it.
type ephemeralStore interface {
	// PutTTL stores value under key until ttl from now; with createOnly
	// it fails with store.ErrExists while an unexpired value is there.
	PutTTL(key string, value []byte, ttl time.Duration, createOnly bool) error
	// Replace stores value under key until ttl from now only while an
	// unexpired value is there, else fails with store.ErrNotFound.
	Replace(key string, value []byte, ttl time.Duration) error
	// Get returns the value under key, or store.ErrNotFound.
	Get(key string) ([]byte, error)
	// Take removes the value under key and returns it; of concurrent
	// takers on any nodes exactly one gets it, the others store.ErrNotFound.
	Take(key string) ([]byte, error)
	// Delete removes key; a missing key is no error.
	Delete(key string) error
}

var _ ephemeralStore = (*store.Ephemeral)(nil)

type sessionStore struct {
	eph       ephemeralStore
	log       *slog.Logger
	now       func() time.Time
	ttl, idle time.Duration

	mu sync.Mutex // guards every session's seen and flashes
}

func newSessionStore(eph ephemeralStore, log *slog.Logger, now func() time.Time, ttl, idle time.Duration) *sessionStore {
	return &sessionStore{eph: eph, log: log, now: now, ttl: ttl, idle: idle}
}

func sessionKey(id string) string { return "session/" + id }

// start starts a session and returns it with the cookie value to send.
func (st *sessionStore) start(pwSet time.Time, remote string) (*session, string, error) {
	value := randomString(32)
	now := st.now()
	sess := &session{id: hashID(value), csrf: randomString(32), created: now, seen: now, pwSet: pwSet, remote: remote}
	if err := st.save(sess, now, true); err != nil {
		return nil, "", fmt.Errorf("start the session: %w", err)
	}
	return sess, value, nil
}

// save writes sess with the time it has left; one with none left is
// deleted. A new session is created; an existing one is only replaced,
// so that a session ended meanwhile on any node stays ended (an error
// wrapping store.ErrNotFound).
func (st *sessionStore) save(sess *session, now time.Time, create bool) error {
	st.mu.Lock()
	rec := sessionRecord{CSRF: sess.csrf, Created: sess.created, PwSet: sess.pwSet, Remote: sess.remote, Seen: sess.seen, Flashes: sess.flashes}
	st.mu.Unlock()
	left := min(sess.created.Add(st.ttl).Sub(now), sess.seen.Add(st.idle).Sub(now))
	if left <= 0 {
		return st.eph.Delete(sessionKey(sess.id))
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if create {
		return st.eph.PutTTL(sessionKey(sess.id), b, left, true)
	}
	return st.eph.Replace(sessionKey(sess.id), b, left)
}

// load returns the live session for a cookie value, or nil when there is
// none (never made, ended, expired). A session last written sessionTouch
// ago or more is written again with its new last use.
func (st *sessionStore) load(value string) (*session, error) {
	if value == "" || len(value) > 64 {
		return nil, nil
	}
	id := hashID(value)
	b, err := st.eph.Get(sessionKey(id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the session: %w", err)
	}
	var rec sessionRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.CSRF == "" {
		return nil, fmt.Errorf("read the session: its stored record is unreadable")
	}
	sess := &session{id: id, csrf: rec.CSRF, created: rec.Created, pwSet: rec.PwSet, remote: rec.Remote, seen: rec.Seen, flashes: rec.Flashes}
	now := st.now()
	if st.expired(sess, now) {
		st.end(sess)
		return nil, nil
	}
	if now.Sub(sess.seen) >= min(sessionTouch, st.idle/4) {
		sess.seen = now
		err := st.save(sess, now, false)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, nil // ended on another node meanwhile
		case err != nil:
			return nil, fmt.Errorf("keep the session: %w", err)
		}
	}
	return sess, nil
}

// get returns the live session for a cookie value, marking it used, or nil;
// a store failure is logged and taken as no session (currentSession, which
// reports it, is the check that guards pages).
func (st *sessionStore) get(value string) *session {
	sess, err := st.load(value)
	if err != nil {
		st.log.Error("session not read", "err", err)
	}
	return sess
}

func (st *sessionStore) expired(sess *session, now time.Time) bool {
	return now.Sub(sess.created) >= st.ttl || now.Sub(sess.seen) >= st.idle || now.Before(sess.created)
}

// end ends the session on every node.
func (st *sessionStore) end(sess *session) {
	if err := st.eph.Delete(sessionKey(sess.id)); err != nil {
		st.log.Error("session not deleted", "session", sess.logID(), "err", err)
	}
}

// addFlash adds a message for the session's next page, on whichever node
// serves it.
func (st *sessionStore) addFlash(sess *session, kind, text string) {
	st.mu.Lock()
	if len(sess.flashes) >= 10 {
		st.mu.Unlock()
		return
	}
	sess.flashes = append(sess.flashes, flash{Kind: kind, Text: text})
	st.mu.Unlock()
	if err := st.save(sess, st.now(), false); err != nil && !errors.Is(err, store.ErrNotFound) {
		st.log.Error("message for the next page not stored", "session", sess.logID(), "err", err)
	}
}

// takeFlashes returns the session's messages and clears them, in the store
// too when there were any.
func (st *sessionStore) takeFlashes(sess *session) []flash {
	st.mu.Lock()
	f := sess.flashes
	sess.flashes = nil
	st.mu.Unlock()
	if len(f) > 0 {
		if err := st.save(sess, st.now(), false); err != nil && !errors.Is(err, store.ErrNotFound) {
			st.log.Error("shown messages not cleared", "session", sess.logID(), "err", err)
		}
	}
	return f
}

func hashID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// randomString is n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // crypto/rand does not fail on supported systems
	return base64.RawURLEncoding.EncodeToString(b)
}

// Cookie names. With Secure cookies the __Host- prefix makes browsers refuse
// any copy set by another host or without Secure.
func (s *Server) sessionCookie() string { return s.cookieName("scriptrun_session") }
func (s *Server) formCookie() string    { return s.cookieName("scriptrun_form") }

func (s *Server) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// setCookie sets a host-only cookie for the whole console. Session cookies
// (no Max-Age) end with the browser; the server ends them sooner.
func (s *Server) setCookie(w http.ResponseWriter, name, value string, sameSite http.SameSite, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: sameSite, MaxAge: maxAge})
}

// sessionOf returns the request's live session, or nil. It does not check
// the admin password; signedIn's currentSession does.
func (s *Server) sessionOf(r *http.Request) *session {
	c, err := r.Cookie(s.sessionCookie())
	if err != nil {
		return nil
	}
	return s.sessions.get(c.Value)
}

// sessionOfErr is sessionOf, with a failure to read the store reported.
func (s *Server) sessionOfErr(r *http.Request) (*session, error) {
	c, err := r.Cookie(s.sessionCookie())
	if err != nil {
		return nil, nil
	}
	return s.sessions.load(c.Value)
}

// currentSession returns the request's session, or nil when there is none or
// it ended: expired, or signed in before the admin password last changed
// (`scriptrun admin password` signs every browser out).
func (s *Server) currentSession(w http.ResponseWriter, r *http.Request) (*session, error) {
	sess, err := s.sessionOfErr(r)
	if sess == nil || err != nil {
		return nil, err
	}
	var pw store.AdminPassword
	err = s.db.View(func(tx *store.Tx) (err error) { pw, err = tx.AdminPassword(); return err })
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("check the session: %w", err)
	case pw.Set.Equal(sess.pwSet):
		return sess, nil
	}
	s.sessions.end(sess)
	s.setCookie(w, s.sessionCookie(), "", http.SameSiteLaxMode, -1)
	s.log.Info("session ended: the admin password changed", "session", sess.logID(), "remote", clientAddr(r))
	return nil, nil
}

// formToken returns the double-submit token for the sign-in and setup forms,
// which have no session yet, setting its cookie when the browser has none.
func (s *Server) formToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.formCookie()); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	v := randomString(32)
	s.setCookie(w, s.formCookie(), v, http.SameSiteStrictMode, 0)
	return v
}

// formTokenOK checks a sign-in or setup form's token against its cookie.
func (s *Server) formTokenOK(r *http.Request) bool {
	c, err := r.Cookie(s.formCookie())
	if err != nil || c.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) == 1
}
