package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// loginData is what login.html shows.
type loginData struct {
	FormToken  string
	Next       string
	Error      string
	Notice     string
	NoPassword bool
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if sess, err := s.currentSession(w, r); err == nil && sess != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	d := loginData{FormToken: s.formToken(w, r), Next: safeNext(r.URL.Query().Get("next"))}
	switch r.URL.Query().Get("m") {
	case "out":
		d.Notice = "You are signed out."
	case "set":
		d.Notice = "The admin password is set. Sign in with it."
	}
	err := s.db.View(func(tx *store.Tx) error { _, err := tx.AdminPassword(); return err })
	switch {
	case errors.Is(err, store.ErrNotFound):
		d.NoPassword = true
	case err != nil:
		s.fail(w, r, nil, err)
		return
	}
	s.render(w, r, nil, http.StatusOK, "login", view{Title: "Sign in", Data: d})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	client := clientAddr(r)
	d := loginData{FormToken: s.formToken(w, r), Next: safeNext(r.PostForm.Get("next"))}
	show := func(status int, msg string) {
		d.Error = msg
		s.render(w, r, nil, status, "login", view{Title: "Sign in", Data: d})
	}
	if !s.formTokenOK(r) {
		s.log.Warn("sign-in refused: bad form token", "remote", client)
		show(http.StatusForbidden, "The sign-in form expired. Try again.")
		return
	}
	var pw store.AdminPassword
	err := s.db.View(func(tx *store.Tx) (err error) { pw, err = tx.AdminPassword(); return err })
	switch {
	case errors.Is(err, store.ErrNotFound):
		d.NoPassword = true
		show(http.StatusConflict, "No admin password is set yet.")
		return
	case err != nil:
		s.fail(w, r, nil, err)
		return
	}
	if wait := s.throttle.wait(client, pw.Set); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.log.Warn("sign-in refused: too many wrong passwords", "remote", client, "wait_s", secs)
		show(http.StatusTooManyRequests, fmt.Sprintf("Too many wrong passwords. Wait %s and try again.", seconds(secs)))
		return
	}
	ok, err := s.checkPassword(r.Context(), pw.Hash, r.PostForm.Get("password"))
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if !ok {
		delay := s.throttle.failed(client, pw.Set)
		s.log.Warn("sign-in failed: wrong password", "remote", client, "next_wait_s", int(delay.Seconds()))
		msg := "Wrong password."
		if delay > 0 {
			msg += fmt.Sprintf(" Wait %s before the next try.", seconds(int(math.Ceil(delay.Seconds()))))
		}
		show(http.StatusUnauthorized, msg)
		return
	}
	s.throttle.succeeded(client)
	if old := s.sessionOf(r); old != nil {
		s.sessions.end(old)
	}
	sess, value, err := s.sessions.start(pw.Set, client)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	s.setCookie(w, s.sessionCookie(), value, http.SameSiteLaxMode, 0)
	s.log.Info("admin signed in", "session", sess.logID(), "remote", client)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

// checkPassword runs the slow hash in one of a few slots, so that a burst of
// sign-ins cannot take all memory (64 MiB each) or every core.
func (s *Server) checkPassword(ctx context.Context, hash, password string) (bool, error) {
	select {
	case s.verify <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("check the password: %w", ctx.Err())
	}
	defer func() { <-s.verify }()
	return s.checkHash(hash, password)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) error {
	s.sessions.end(sess)
	s.setCookie(w, s.sessionCookie(), "", http.SameSiteLaxMode, -1)
	s.log.Info("admin signed out", "session", sess.logID(), "remote", clientAddr(r))
	return seeOther(w, r, "/login?m=out")
}

// safeNext keeps a post-sign-in destination on this console: a local path,
// never another host ("//evil", "/\evil", "https://...").
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n\t\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// setupData is what setup.html shows.
type setupData struct {
	FormToken string
	Token     string
	Error     string
	Invalid   bool // the link is not (or no longer) valid
	Done      bool // a password is already set
}

// setupValid reports whether token is the current one-time setup token.
func (s *Server) setupValid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setup != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.setup)) == 1
}

// passwordIsSet reports whether an admin password exists; once one does,
// the setup link is void (it may have been set with the CLI).
func (s *Server) passwordIsSet() (bool, error) {
	err := s.db.View(func(tx *store.Tx) error { _, err := tx.AdminPassword(); return err })
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	s.mu.Lock()
	s.setup = ""
	s.mu.Unlock()
	return true, nil
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	d := setupData{FormToken: s.formToken(w, r), Token: r.URL.Query().Get("token")}
	set, err := s.passwordIsSet()
	switch {
	case err != nil:
		s.fail(w, r, nil, err)
		return
	case set:
		d.Done = true
	case !s.setupValid(d.Token):
		d.Invalid, d.Token = true, ""
		s.render(w, r, nil, http.StatusNotFound, "setup", view{Title: "Set up", Data: d})
		return
	}
	s.render(w, r, nil, http.StatusOK, "setup", view{Title: "Set up", Data: d})
}

func (s *Server) setupPassword(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	client := clientAddr(r)
	d := setupData{FormToken: s.formToken(w, r), Token: r.PostForm.Get("token")}
	show := func(status int, msg string) {
		d.Error = msg
		s.render(w, r, nil, status, "setup", view{Title: "Set up", Data: d})
	}
	set, err := s.passwordIsSet()
	switch {
	case err != nil:
		s.fail(w, r, nil, err)
		return
	case set:
		d.Done = true
		show(http.StatusConflict, "")
		return
	case !s.setupValid(d.Token):
		s.log.Warn("setup refused: invalid setup token", "remote", client)
		d.Invalid, d.Token = true, ""
		show(http.StatusNotFound, "")
		return
	case !s.formTokenOK(r):
		show(http.StatusForbidden, "The form expired. Try again.")
		return
	}
	password := r.PostForm.Get("password")
	if password != r.PostForm.Get("confirm") {
		show(http.StatusUnprocessableEntity, "The two passwords differ. Type the same password twice.")
		return
	}
	if err := store.ValidateAdminPassword(password); err != nil {
		show(http.StatusUnprocessableEntity, upperFirst(err.Error())+".")
		return
	}
	hash, err := s.hashPassword(r.Context(), password)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	var pw store.AdminPassword
	err = s.db.Update(func(tx *store.Tx) error {
		if _, err := tx.AdminPassword(); err == nil {
			return errPasswordExists
		}
		if err := tx.SetAdminPassword(hash); err != nil {
			return err
		}
		pw, err = tx.AdminPassword()
		return err
	})
	if errors.Is(err, errPasswordExists) {
		d.Done = true
		show(http.StatusConflict, "")
		return
	}
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	s.mu.Lock()
	s.setup = ""
	s.mu.Unlock()
	sess, value, err := s.sessions.start(pw.Set, client)
	if err != nil {
		s.fail(w, r, nil, fmt.Errorf("the admin password is set, but %w: sign in with it", err))
		return
	}
	s.setCookie(w, s.sessionCookie(), value, http.SameSiteLaxMode, 0)
	s.log.Info("admin password set with the setup link; admin signed in", "session", sess.logID(), "remote", client)
	s.sessions.addFlash(sess, "ok", "The admin password is set and you are signed in. Next: add a provider, then a token.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

var errPasswordExists = errors.New("an admin password is already set")

// setupTTL is how long a node starting on a store without a password
// adopts the setup token another node made: nodes started together behind
// a balancer all print, and accept, the same link.
const setupTTL = 7 * 24 * time.Hour

// sharedSetupToken returns the store's setup token, making it if no node
// has (it is kept sealed, under a hashed key, like sessions).
func sharedSetupToken(eph ephemeralStore) (string, error) {
	const key = "setup/token"
	token := randomString(32)
	var err error
	for range 2 { // the other node's token may expire in between
		if err = eph.PutTTL(key, []byte(token), setupTTL, true); !errors.Is(err, store.ErrExists) {
			break
		}
		var b []byte
		if b, err = eph.Get(key); err == nil {
			return string(b), nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("keep the setup link: %w", err)
	}
	return token, nil
}

func (s *Server) hashPassword(ctx context.Context, password string) (string, error) {
	select {
	case s.verify <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("hash the password: %w", ctx.Err())
	}
	defer func() { <-s.verify }()
	return store.HashAdminPassword(password)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
