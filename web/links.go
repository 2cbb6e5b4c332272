package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// ReconnectURL is the address of the reconnect link with secret, on the
// console whose callback URL is callbackURL: the callback's origin and the
// path before /oauth/callback (a proxy may serve the console under a
// prefix). The link must be on the callback's host: the browser that opens
// it comes back there from the provider, with the cookie the link page set.
// A callback URL that does not end in /oauth/callback gives an error: the
// console's address cannot be told from it.
func ReconnectURL(callbackURL, secret string) (string, error) {
	u, err := url.Parse(callbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("callback URL %q is not an absolute http(s) URL", callbackURL)
	}
	prefix, ok := strings.CutSuffix(u.EscapedPath(), "/oauth/callback")
	if !ok {
		return "", fmt.Errorf("callback URL %s does not end in /oauth/callback, so the console's address cannot be told from it", callbackURL)
	}
	return u.Scheme + "://" + u.Host + prefix + "/reconnect?link=" + url.QueryEscape(secret), nil
}

// reconnectURL is ReconnectURL on this console; when the callback URL does
// not tell the console's address, the address the admin uses.
func (s *Server) reconnectURL(r *http.Request, secret string) string {
	if u, err := ReconnectURL(s.callback, secret); err == nil {
		return u
	}
	scheme := "http"
	if r.TLS != nil || s.secure {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/reconnect?link=" + url.QueryEscape(secret)
}

// linkView is a reconnect link as the admin's page shows it.
type linkView struct {
	ID, State, CreatedBy, UsedFrom string
	Created, Expires, Used         time.Time
	Started                        int
	Usable                         bool
}

// linksData is what token_links.html shows.
type linksData struct {
	Token   tokenView
	Links   []linkView
	NewURL  string // the link just made: shown once
	Expiry  []expiryOption
	Error   string
	Damaged []damagedView
}

type expiryOption struct {
	Value, Label string
	Default      bool
}

// linkExpiries are the lifetimes the form offers.
var linkExpiries = []expiryOption{{"1h", "1 hour", false}, {"24h", "24 hours", true}, {"72h", "3 days", false}, {"168h", "7 days", false}}

func (s *Server) linksPage(w http.ResponseWriter, r *http.Request, sess *session, status int, d linksData) error {
	name := r.PathValue("name")
	v, err := s.readTokenView(name)
	if err != nil {
		return err
	}
	d.Token, d.Expiry = v, linkExpiries
	var links []store.ReconnectLink
	err = s.db.View(func(tx *store.Tx) (err error) { links, err = tx.ReconnectLinks(name); return err })
	if d.Damaged, err = splitDamaged(err); err != nil {
		return err
	}
	now := s.now()
	for _, l := range links {
		d.Links = append(d.Links, linkView{ID: l.ID(), State: l.State(now), CreatedBy: l.CreatedBy, UsedFrom: l.UsedFrom,
			Created: l.Created, Expires: l.Expires, Used: l.Used, Started: l.Started, Usable: l.Check(now) == nil})
	}
	s.render(w, r, sess, status, "token_links", view{Title: "Reconnect links of " + name, Data: d})
	return nil
}

func (s *Server) linkList(w http.ResponseWriter, r *http.Request, sess *session) error {
	return s.linksPage(w, r, sess, http.StatusOK, linksData{})
}

// linkCreate makes a link and shows it once, on the page the POST answers
// (not after a redirect: the secret is kept nowhere to show it again).
func (s *Server) linkCreate(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	ttl, err := time.ParseDuration(r.PostForm.Get("expires"))
	if err != nil {
		ttl = -1 // refused below, with the range
	}
	var secret string
	var l store.ReconnectLink
	err = s.db.Update(func(tx *store.Tx) (err error) {
		secret, l, err = tx.CreateReconnectLink(name, ttl, "console session "+sess.logID())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return recordError("token", name, err)
	}
	if err != nil {
		return s.linksPage(w, r, sess, http.StatusUnprocessableEntity, linksData{Error: upperFirst(s.hint(err.Error())) + "."})
	}
	s.log.Info("reconnect link created", "link", l.ID(), "token", name, "expires", l.Expires, "session", sess.logID(), "remote", clientAddr(r))
	return s.linksPage(w, r, sess, http.StatusOK, linksData{NewURL: s.reconnectURL(r, secret)})
}

func (s *Server) linkRevoke(w http.ResponseWriter, r *http.Request, sess *session) error {
	name, id := r.PathValue("name"), r.PathValue("id")
	var done []store.ReconnectLink
	err := s.db.Update(func(tx *store.Tx) (err error) {
		done, err = tx.RevokeReconnectLinks(name, id, "console session "+sess.logID())
		return err
	})
	if err != nil {
		s.sessions.addFlash(sess, "error", upperFirst(s.hint(err.Error()))+".")
		return seeOther(w, r, "/tokens/"+name+"/links")
	}
	for _, l := range done {
		s.log.Info("reconnect link revoked", "link", l.ID(), "token", name, "session", sess.logID(), "remote", clientAddr(r))
	}
	s.sessions.addFlash(sess, "ok", fmt.Sprintf("Reconnect link %s revoked: it no longer opens anything.", strings.Join(linkIDs(done), ", ")))
	return seeOther(w, r, "/tokens/"+name+"/links")
}

func linkIDs(ls []store.ReconnectLink) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID()
	}
	return out
}
