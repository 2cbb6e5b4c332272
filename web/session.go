package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// maxSessions bounds the sessions kept; the oldest goes first. One admin
// rarely has more than a few browsers.
const maxSessions = 256

// session is a signed-in browser. Its cookie holds a random value; the
// server keeps only that value's SHA-256, so a memory dump or a log line
// cannot be replayed as a cookie.
type session struct {
	id      string    // hex SHA-256 of the cookie value
	csrf    string    // the token every form of this session carries
	created time.Time // sign-in time
	pwSet   time.Time // the admin password's Set at sign-in: a new password ends the session
	remote  string

	// guarded by sessionStore.mu
	seen    time.Time
	flashes []flash
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

type sessionStore struct {
	now       func() time.Time
	ttl, idle time.Duration

	mu sync.Mutex
	m  map[string]*session
}

func newSessionStore(now func() time.Time, ttl, idle time.Duration) *sessionStore {
	return &sessionStore{now: now, ttl: ttl, idle: idle, m: make(map[string]*session)}
}

// create starts a session and returns it with the cookie value to send.
func (st *sessionStore) create(pwSet time.Time, remote string) (*session, string) {
	value := randomString(32)
	now := st.now()
	sess := &session{id: hashID(value), csrf: randomString(32), created: now, seen: now, pwSet: pwSet, remote: remote}
	st.mu.Lock()
	defer st.mu.Unlock()
	for id, old := range st.m {
		if st.expired(old, now) {
			delete(st.m, id)
		}
	}
	if len(st.m) >= maxSessions {
		var oldest *session
		for _, old := range st.m {
			if oldest == nil || old.seen.Before(oldest.seen) {
				oldest = old
			}
		}
		delete(st.m, oldest.id)
	}
	st.m[sess.id] = sess
	return sess, value
}

// get returns the live session for a cookie value, marking it used, or nil.
func (st *sessionStore) get(value string) *session {
	if value == "" {
		return nil
	}
	id := hashID(value)
	now := st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	sess := st.m[id]
	if sess == nil {
		return nil
	}
	if st.expired(sess, now) {
		delete(st.m, id)
		return nil
	}
	sess.seen = now
	return sess
}

func (st *sessionStore) expired(sess *session, now time.Time) bool {
	return now.Sub(sess.created) >= st.ttl || now.Sub(sess.seen) >= st.idle || now.Before(sess.created)
}

func (st *sessionStore) end(sess *session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, sess.id)
}

func (st *sessionStore) addFlash(sess *session, kind, text string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(sess.flashes) < 10 {
		sess.flashes = append(sess.flashes, flash{Kind: kind, Text: text})
	}
}

func (st *sessionStore) takeFlashes(sess *session) []flash {
	st.mu.Lock()
	defer st.mu.Unlock()
	f := sess.flashes
	sess.flashes = nil
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

// currentSession returns the request's session, or nil when there is none or
// it ended: expired, or signed in before the admin password last changed
// (`scriptrun admin password` signs every browser out).
func (s *Server) currentSession(w http.ResponseWriter, r *http.Request) (*session, error) {
	sess := s.sessionOf(r)
	if sess == nil {
		return nil, nil
	}
	var pw store.AdminPassword
	err := s.db.View(func(tx *store.Tx) (err error) { pw, err = tx.AdminPassword(); return err })
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
