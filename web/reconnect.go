package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// Reconnect links (store/link.go): GET /reconnect?link=SECRET shows "Authorize
// TOKEN at PROVIDER" to whoever holds the link, without a session; its
// button (POST, with the sign-in form's double-submit token) starts the
// same authorization as "Get authorization token". The pending
// authorization is bound, instead of to a session, to
// "reconnect:HASH:NONCE" where HASH names the link and NONCE is the hash of
// a random cookie this browser got with the redirect; the callback finds
// it with that cookie, claims the link, completes, and shows only whether
// it worked. The cookie opens no other page: every console page still
// needs a session.

// reconnectCookieTTL bounds the binding cookie's life: the authorization's.
const reconnectCookieTTL = tokens.AuthorizationTTL

// reconnect holds what the link pages need beyond the console's own state.
type reconnect struct {
	// throttle slows down an address that opens unknown links, as the
	// sign-in form slows down wrong passwords (same delays).
	throttle *throttle
}

// reconnectRoutes adds the link holder's pages (no session) and the
// admin's link pages (session and CSRF, as every console page).
func (s *Server) reconnectRoutes(mux *http.ServeMux) {
	t := newThrottle(s.throttle.eph, s.log, s.now, s.throttle.base, s.throttle.max)
	t.kind = "reconnect" // its own records: unknown links do not delay sign-ins, nor the reverse
	s.reconnect = &reconnect{throttle: t}
	// The secret is in the query, which the request log leaves out (as it
	// does the setup link's token), and never in a path.
	mux.HandleFunc("GET /reconnect", s.reconnectPage)
	mux.HandleFunc("POST /reconnect", s.reconnectStart)
	mux.HandleFunc("GET /tokens/{name}/links", s.signedIn(s.linkList))
	mux.HandleFunc("POST /tokens/{name}/links", s.signedIn(s.linkCreate))
	mux.HandleFunc("POST /tokens/{name}/links/{id}/revoke", s.signedIn(s.linkRevoke))
}

func (s *Server) reconnectCookie() string { return s.cookieName("scriptrun_reconnect") }

// reconnectData is what reconnect.html shows the link holder: the token's
// name, its provider's name and description, and nothing else of it.
type reconnectData struct {
	FormToken, Secret string
	Token, Provider   string
	Label             string // the provider's description
	Expires           time.Time
	// A refusal or an outcome: a title and words, no token data.
	Title, Msg string
	Done       bool // authorized
	Retry      bool // the link still works: offer it again
}

// showReconnect renders the link holder's page with status.
func (s *Server) showReconnect(w http.ResponseWriter, r *http.Request, status int, d reconnectData, formAction ...string) {
	title := d.Title
	if title == "" {
		title = "Authorize " + d.Token
	}
	s.render(w, r, nil, status, "reconnect", view{Title: title, Data: d, FormAction: formAction})
}

// reconnectThrottled answers 429 when the client has opened too many
// unknown links lately.
func (s *Server) reconnectThrottled(w http.ResponseWriter, r *http.Request) bool {
	wait := s.reconnect.throttle.wait(clientAddr(r), time.Time{})
	if wait <= 0 {
		return false
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.log.Warn("reconnect link refused: too many unknown links from this address", "remote", clientAddr(r), "wait_s", secs)
	s.showReconnect(w, r, http.StatusTooManyRequests, reconnectData{Title: "Too many attempts",
		Msg: fmt.Sprintf("This address opened too many links that do not exist. Wait %s and try again.", seconds(secs))})
	return true
}

// linkRefused shows why a link cannot be used. An unknown link counts
// against the client's address; a real link that ended does not.
func (s *Server) linkRefused(w http.ResponseWriter, r *http.Request, l store.ReconnectLink, err error) {
	d := reconnectData{Token: l.Token}
	status := http.StatusGone
	switch {
	case errors.Is(err, store.ErrLinkExpired):
		d.Title, d.Msg = "This link has expired", "It worked until "+l.Expires.UTC().Format("2006-01-02 15:04 UTC")+". Ask whoever sent it for a new one."
	case errors.Is(err, store.ErrLinkUsed):
		d.Title, d.Msg = "This link was already used", "It works once, and the token was authorized with it. Ask whoever sent it for a new one if it must be authorized again."
	case errors.Is(err, store.ErrLinkRevoked):
		d.Title, d.Msg = "This link was revoked", "Whoever sent it withdrew it. Ask them for a new one."
	case errors.Is(err, store.ErrLinkTokenChanged), errors.Is(err, store.ErrLinkOverused):
		status = http.StatusConflict
		d.Title, d.Msg = "This link cannot be used any more", "The token it was made for changed, or the link started too many sign-ins. Ask whoever sent it for a new one."
	case errors.Is(err, store.ErrNotFound):
		s.reconnect.throttle.failed(clientAddr(r), time.Time{})
		status, d.Token = http.StatusNotFound, ""
		d.Title, d.Msg = "Link not found", "This link does not exist: check that it was copied whole, or ask whoever sent it for a new one."
	default:
		s.log.Error("reconnect link could not be read", "link", l.ID(), "err", err, "remote", clientAddr(r))
		status = http.StatusInternalServerError
		d.Title, d.Msg = "This link cannot be used now", "The console could not read it. Tell whoever sent it."
	}
	s.log.Warn("reconnect link refused", "link", l.ID(), "token", l.Token, "reason", d.Title, "remote", clientAddr(r))
	s.showReconnect(w, r, status, d)
}

// reconnectPage shows "Authorize TOKEN at PROVIDER" with its button.
func (s *Server) reconnectPage(w http.ResponseWriter, r *http.Request) {
	if s.reconnectThrottled(w, r) {
		return
	}
	secret := r.URL.Query().Get("link")
	var l store.ReconnectLink
	var p *store.Provider
	err := s.db.View(func(tx *store.Tx) (err error) { l, p, err = tx.UsableReconnectLink(secret); return err })
	if err != nil {
		s.linkRefused(w, r, l, err)
		return
	}
	s.log.Info("reconnect link opened", "link", l.ID(), "token", l.Token, "remote", clientAddr(r))
	d := reconnectData{FormToken: s.formToken(w, r), Secret: secret, Token: l.Token, Provider: p.Name, Label: p.Description, Expires: l.Expires}
	s.showReconnect(w, r, http.StatusOK, d, authOrigin(*p))
}

// reconnectStart is the link page's button: it records the start on the
// link, builds the provider's authorization URL, binds it to this browser
// and sends the browser to the provider.
func (s *Server) reconnectStart(w http.ResponseWriter, r *http.Request) {
	if s.reconnectThrottled(w, r) {
		return
	}
	if err := parseForm(w, r); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if !s.formTokenOK(r) {
		s.log.Warn("reconnect refused: bad form token", "remote", clientAddr(r))
		s.showReconnect(w, r, http.StatusForbidden, reconnectData{Title: "The page expired", Msg: "Open the link again and press the button there."})
		return
	}
	var l store.ReconnectLink
	err := s.db.Update(func(tx *store.Tx) (err error) { l, err = tx.StartReconnect(r.PostForm.Get("link")); return err })
	if err != nil {
		s.linkRefused(w, r, l, err)
		return
	}
	a, err := s.tokens.Authorize(l.Token, s.callback)
	if err != nil {
		s.log.Warn("token authorization with a reconnect link not started", "link", l.ID(), "token", l.Token, "reason", err.Error(), "remote", clientAddr(r))
		s.showReconnect(w, r, http.StatusConflict, reconnectData{Token: l.Token, Title: "The sign-in cannot start",
			Msg: "The token is not set up for a sign-in right now. Tell whoever sent the link."})
		return
	}
	nonce := randomString(32)
	if err := s.pending.add(a, reconnectBinding(l.Hash, nonce), s.now()); err != nil {
		s.log.Error("token authorization with a reconnect link not started", "link", l.ID(), "token", l.Token, "err", err, "remote", clientAddr(r))
		s.showReconnect(w, r, http.StatusServiceUnavailable, reconnectData{Token: l.Token, Title: "The sign-in cannot start now",
			Msg: "The console could not record the sign-in in its store. Try again in a moment."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.reconnectCookie(), Value: l.Hash + "." + nonce, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(reconnectCookieTTL.Seconds())})
	s.log.Info("token authorization started with a reconnect link", "link", l.ID(), "token", l.Token, "started", l.Started, "remote", clientAddr(r))
	http.Redirect(w, r, a.URL, http.StatusSeeOther)
}

// reconnectBinding is what a pending authorization started from link hash
// is bound to in place of a session id: the link and this browser's nonce.
func reconnectBinding(hash, nonce string) string { return "reconnect:" + hash + ":" + hashID(nonce) }

// reconnectCallback finishes an authorization that a reconnect link
// started in this browser, and reports whether it did (false: the callback
// is the admin's, handled as before).
func (s *Server) reconnectCallback(w http.ResponseWriter, r *http.Request, q url.Values) bool {
	c, err := r.Cookie(s.reconnectCookie())
	if err != nil {
		return false
	}
	hash, nonce, _ := strings.Cut(c.Value, ".")
	p, outcome := s.pending.take(q.Get("state"), reconnectBinding(hash, nonce), s.now())
	switch {
	case outcome == takeForeign, outcome == takeUnknown && s.sessionOf(r) != nil:
		return false // the admin's, or another browser's
	}
	http.SetCookie(w, &http.Cookie{Name: s.reconnectCookie(), Value: "", Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	switch outcome {
	case takeUnknown:
		s.log.Warn("reconnect callback refused: unknown or used state", "remote", clientAddr(r))
		s.showReconnect(w, r, http.StatusBadRequest, reconnectData{Title: "Unknown sign-in",
			Msg: "This answer from the provider does not match a sign-in in progress: it was already used, or the console restarted. Open the link again."})
	case takeFailed:
		s.showReconnect(w, r, http.StatusServiceUnavailable, reconnectData{Title: "The console cannot finish the sign-in now",
			Msg: "It could not read the sign-in in progress from its store. Reload this page in a moment, or open the link again."})
	case takeExpired:
		s.log.Warn("reconnect callback refused: authorization expired", "token", p.auth.Token, "remote", clientAddr(r))
		s.showReconnect(w, r, http.StatusBadRequest, reconnectData{Title: "The sign-in took too long",
			Msg: fmt.Sprintf("It must be finished within %s. Open the link again.", tokens.AuthorizationTTL)})
	default:
		s.reconnectComplete(w, r, hash, p.auth, q)
	}
	return true
}

// reconnectComplete claims the link, exchanges the code and shows the
// outcome. A failure gives the link back, so the person can try again
// until it expires.
func (s *Server) reconnectComplete(w http.ResponseWriter, r *http.Request, hash string, a *tokens.Authorization, q url.Values) {
	client := clientAddr(r)
	var claimed store.ReconnectLink
	err := s.db.Update(func(tx *store.Tx) (err error) { claimed, err = tx.ClaimReconnect(hash, client); return err })
	if err != nil {
		s.linkRefused(w, r, claimed, err)
		return
	}
	d := reconnectData{Token: a.Token, Provider: claimed.ProviderRef}
	if _, err := s.tokens.Complete(r.Context(), a, q); err != nil {
		if rerr := s.db.Update(func(tx *store.Tx) error { return tx.ReleaseReconnect(claimed) }); rerr != nil {
			s.log.Error("reconnect link could not be given back after a failed sign-in", "link", claimed.ID(), "err", rerr)
		}
		s.log.Warn("authorization with a reconnect link failed", "link", claimed.ID(), "token", a.Token, "code", tokens.CodeOf(err), "reason", err.Error(), "remote", client)
		d.Title, d.Retry = "The sign-in did not work", true
		d.Msg = "The token was not authorized."
		if code := q.Get("error"); code != "" && len(code) <= 64 {
			d.Msg += " The provider answered " + strconv.Quote(code) + "."
		}
		s.showReconnect(w, r, http.StatusBadGateway, d)
		return
	}
	s.log.Info("token authorized with a reconnect link", "link", claimed.ID(), "token", a.Token, "created_by", claimed.CreatedBy, "remote", client)
	d.Title, d.Done = "Done", true
	d.Msg = "Token " + a.Token + " is authorized. You can close this page."
	s.showReconnect(w, r, http.StatusOK, d)
}
