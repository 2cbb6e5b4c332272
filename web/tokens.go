package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

func (s *Server) tokenSection() section {
	return section{label: "Tokens", path: "/tokens", routes: func(mux *http.ServeMux) {
		mux.HandleFunc("GET /tokens", s.signedIn(s.tokenList))
		mux.HandleFunc("GET /tokens/-/new", s.signedIn(s.tokenNew))
		mux.HandleFunc("POST /tokens/-/new", s.signedIn(s.tokenCreate))
		mux.HandleFunc("GET /tokens/{name}", s.signedIn(s.tokenShow))
		mux.HandleFunc("GET /tokens/{name}/edit", s.signedIn(s.tokenEdit))
		mux.HandleFunc("POST /tokens/{name}/edit", s.signedIn(s.tokenUpdate))
		mux.HandleFunc("GET /tokens/{name}/delete", s.signedIn(s.tokenDeleteConfirm))
		mux.HandleFunc("POST /tokens/{name}/delete", s.signedIn(s.tokenDelete))
		mux.HandleFunc("POST /tokens/{name}/authorize", s.signedIn(s.tokenAuthorize))
		mux.HandleFunc("POST /tokens/{name}/refresh", s.signedIn(s.tokenRefresh))
	}}
}

// tokenView is what pages show of a token: never its secrets.
type tokenView struct {
	Name, Type, Provider, Prompt string
	Active                       bool
	State                        string
	Expires                      time.Time
	Scopes                       string // the token's own; empty = the provider's
	ProviderScopes               string
	LastMessage                  string
	BaseURL                      string
	HasRefreshToken              bool
	RefreshFailures              int
	RefreshFailed                time.Time
	Created, Updated             time.Time
	LastRefreshed, LastUsed      time.Time
	ProviderMissing              bool
}

func viewToken(t store.Token, p *store.Provider) tokenView {
	v := tokenView{
		Name: t.Name, Type: t.Type, Provider: t.Provider, Prompt: t.Prompt, Active: t.Active, State: string(t.State),
		Expires: t.Expires, Scopes: strings.Join(t.Scopes, " "), LastMessage: t.LastMessage, BaseURL: t.BaseURL,
		HasRefreshToken: t.Secret.RefreshToken != "", RefreshFailures: t.RefreshFailures, RefreshFailed: t.RefreshFailed,
		Created: t.Created, Updated: t.Updated, LastRefreshed: t.LastRefreshed, LastUsed: t.LastUsed,
		ProviderMissing: p == nil,
	}
	if p != nil {
		v.ProviderScopes = strings.Join(p.Scopes, " ")
	}
	return v
}

// StateLabel is the state in words.
func (v tokenView) StateLabel() string {
	switch store.State(v.State) {
	case store.StateAuthorized:
		return "authorized"
	case store.StateUnauthorized:
		return "not authorized"
	case store.StateReauthRequired:
		return "reauth required"
	}
	return v.State
}

// Authorized reports whether the token holds a token set.
func (v tokenView) Authorized() bool { return store.State(v.State) == store.StateAuthorized }

// OAuth2 reports whether "Get authorization token" applies to the token.
func (v tokenView) OAuth2() bool { return v.Type == store.TypeOAuth2 }

// authOrigin is the origin of a provider's authorization URL, for the CSP's
// form-action, or "" when it cannot be read.
func authOrigin(p store.Provider) string {
	u, err := url.Parse(p.AuthURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

type tokenListData struct {
	Tokens       []tokenView
	HasProviders bool
}

func (s *Server) tokenList(w http.ResponseWriter, r *http.Request, sess *session) error {
	var d tokenListData
	var origins []string
	err := s.db.View(func(tx *store.Tx) error {
		ps, err := tx.Providers()
		if err != nil {
			return err
		}
		byName := make(map[string]*store.Provider, len(ps))
		for i := range ps {
			byName[ps[i].Name] = &ps[i]
			if o := authOrigin(ps[i]); o != "" && !slices.Contains(origins, o) {
				origins = append(origins, o)
			}
		}
		d.HasProviders = len(ps) > 0
		ts, err := tx.Tokens()
		for _, t := range ts {
			d.Tokens = append(d.Tokens, viewToken(t, byName[t.Provider]))
		}
		return err
	})
	if err != nil {
		return err
	}
	s.render(w, r, sess, http.StatusOK, "tokens", view{Title: "Tokens", Data: d, FormAction: origins})
	return nil
}

type tokenPageData struct {
	Token       tokenView
	Provider    *providerView
	CallbackURL string
}

func (s *Server) tokenShow(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	var t store.Token
	var p *store.Provider
	err := s.db.View(func(tx *store.Tx) (err error) {
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
	if err != nil {
		return recordError("token", name, err)
	}
	d := tokenPageData{Token: viewToken(t, p), CallbackURL: s.callback}
	var origins []string
	if p != nil {
		pv := viewProvider(*p, nil)
		d.Provider = &pv
		if o := authOrigin(*p); o != "" {
			origins = append(origins, o)
		}
	}
	s.render(w, r, sess, http.StatusOK, "token", view{Title: "Token " + name, Data: d, FormAction: origins})
	return nil
}

// tokenForm is the create and edit form, as shown and as submitted.
type tokenForm struct {
	New                                  bool
	Name, Type, Provider, Prompt, Scopes string
	BaseURL                              string
	Active                               bool
	Error                                string
	Providers                            []string
	ProviderScopes                       map[string]string // default scopes, as the scopes field's hint
	Prompts                              []promptOption
	HasProviders                         bool
	ProviderMissing                      bool
}

type promptOption struct{ Value, Label string }

var promptLabels = map[string]string{
	"":               "(none): the provider decides",
	"consent":        "consent: always ask for consent",
	"select_account": "select_account: let the admin pick an account",
	"login":          "login: always ask to sign in again",
	"none":           "none: fail unless already signed in and consented",
}

func prompts() []promptOption {
	out := make([]promptOption, 0, len(store.Prompts))
	for _, p := range store.Prompts {
		out = append(out, promptOption{Value: p, Label: promptLabels[p]})
	}
	return out
}

// fill adds what the form's selects need.
func (s *Server) fillTokenForm(f *tokenForm) error {
	f.Prompts = prompts()
	f.ProviderScopes = map[string]string{}
	return s.db.View(func(tx *store.Tx) error {
		ps, err := tx.Providers()
		for _, p := range ps {
			f.Providers = append(f.Providers, p.Name)
			f.ProviderScopes[p.Name] = strings.Join(p.Scopes, " ")
		}
		f.HasProviders = len(ps) > 0
		f.ProviderMissing = !f.New && !slices.Contains(f.Providers, f.Provider)
		return err
	})
}

func (s *Server) tokenNew(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := tokenForm{New: true, Type: store.TypeOAuth2, Active: true, Provider: r.URL.Query().Get("provider")}
	if err := s.fillTokenForm(&f); err != nil {
		return err
	}
	if f.Provider == "" && len(f.Providers) == 1 {
		f.Provider = f.Providers[0]
	}
	s.render(w, r, sess, http.StatusOK, "token_form", view{Title: "New token", Data: f})
	return nil
}

// readTokenForm reads the submitted fields. Validation is the store's.
func readTokenForm(r *http.Request, f *tokenForm) {
	pf := r.PostForm
	if f.New {
		f.Name = strings.TrimSpace(pf.Get("name"))
		f.Type = strings.TrimSpace(pf.Get("type"))
		f.Provider = strings.TrimSpace(pf.Get("provider"))
	}
	f.Prompt = pf.Get("prompt")
	f.Scopes = strings.Join(strings.Fields(pf.Get("scopes")), " ")
	f.BaseURL = strings.TrimSpace(pf.Get("base_url"))
	f.Active = pf.Get("active") == "on"
}

// apply copies the form onto t.
func (f *tokenForm) apply(t *store.Token) {
	t.Prompt = f.Prompt
	t.Scopes = strings.Fields(f.Scopes)
	t.BaseURL = f.BaseURL
	t.Active = f.Active
}

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := tokenForm{New: true}
	readTokenForm(r, &f)
	t := store.Token{Name: f.Name, Type: f.Type, Provider: f.Provider, State: store.StateUnauthorized}
	f.apply(&t)
	err := s.db.Update(func(tx *store.Tx) error { return tx.CreateToken(t) })
	if err != nil {
		f.Error = formError("token", f.Name, err)
		if ferr := s.fillTokenForm(&f); ferr != nil {
			return ferr
		}
		s.render(w, r, sess, http.StatusUnprocessableEntity, "token_form", view{Title: "New token", Data: f})
		return nil
	}
	s.log.Info("token created", "token", t.Name, "provider", t.Provider, "session", sess.logID(), "remote", clientAddr(r))
	s.sessions.addFlash(sess, "ok", fmt.Sprintf("Token %s created. Press \"Get authorization token\" to sign in at %s.", t.Name, t.Provider))
	if t.BaseURL == "" {
		s.sessions.addFlash(sess, "warn", noBaseURLWarning)
	}
	return seeOther(w, r, "/tokens/"+t.Name)
}

const noBaseURLWarning = "This token has no base URL, so scripts may send it to any host. Set the base URL of the API it is for."

func (s *Server) tokenEdit(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	var t store.Token
	if err := s.db.View(func(tx *store.Tx) (err error) { t, err = tx.Token(name); return err }); err != nil {
		return recordError("token", name, err)
	}
	f := tokenForm{Name: t.Name, Type: t.Type, Provider: t.Provider, Prompt: t.Prompt, Scopes: strings.Join(t.Scopes, " "),
		BaseURL: t.BaseURL, Active: t.Active}
	if err := s.fillTokenForm(&f); err != nil {
		return err
	}
	s.render(w, r, sess, http.StatusOK, "token_form", view{Title: "Edit token " + name, Data: f})
	return nil
}

func (s *Server) tokenUpdate(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	f := tokenForm{Name: name}
	readTokenForm(r, &f)
	var saved store.Token
	// Read and write in one transaction, so a refresh stored meanwhile by a
	// script or the REPL is kept.
	err := s.db.Update(func(tx *store.Tx) error {
		t, err := tx.Token(name)
		if err != nil {
			return err
		}
		f.apply(&t)
		saved = t
		return tx.PutToken(t)
	})
	if errors.Is(err, store.ErrNotFound) {
		return recordError("token", name, err)
	}
	if err != nil {
		f.Error = formError("token", name, err)
		f.Type, f.Provider = saved.Type, saved.Provider
		if ferr := s.fillTokenForm(&f); ferr != nil {
			return ferr
		}
		s.render(w, r, sess, http.StatusUnprocessableEntity, "token_form", view{Title: "Edit token " + name, Data: f})
		return nil
	}
	s.log.Info("token updated", "token", name, "active", saved.Active, "prompt", saved.Prompt, "base_url", saved.BaseURL,
		"session", sess.logID(), "remote", clientAddr(r))
	s.sessions.addFlash(sess, "ok", "Token "+name+" saved.")
	if saved.BaseURL == "" {
		s.sessions.addFlash(sess, "warn", noBaseURLWarning)
	}
	return seeOther(w, r, "/tokens/"+name)
}

// confirmData is what confirm_delete.html shows.
type confirmData struct {
	Kind, Name, Action, Cancel, Note string
	Blocked                          []string // records that prevent the delete
}

func (s *Server) tokenDeleteConfirm(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	var t store.Token
	if err := s.db.View(func(tx *store.Tx) (err error) { t, err = tx.Token(name); return err }); err != nil {
		return recordError("token", name, err)
	}
	d := confirmData{Kind: "token", Name: name, Action: "/tokens/" + name + "/delete", Cancel: "/tokens/" + name,
		Note: "Scripts that use it will fail with TOKEN_NOT_FOUND. Its access and refresh tokens are erased; they stay valid at the provider until they expire or are revoked there."}
	if t.State != store.StateAuthorized {
		d.Note = "Scripts that use it will fail with TOKEN_NOT_FOUND."
	}
	s.render(w, r, sess, http.StatusOK, "confirm_delete", view{Title: "Delete token " + name, Data: d})
	return nil
}

func (s *Server) tokenDelete(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	if err := s.db.Update(func(tx *store.Tx) error { return tx.DeleteToken(name) }); err != nil {
		return recordError("token", name, err)
	}
	s.pending.forgetToken(name)
	s.log.Info("token deleted", "token", name, "session", sess.logID(), "remote", clientAddr(r))
	s.sessions.addFlash(sess, "ok", "Token "+name+" deleted.")
	return seeOther(w, r, "/tokens")
}

func (s *Server) tokenRefresh(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	if err := s.db.View(func(tx *store.Tx) error { _, err := tx.Token(name); return err }); err != nil {
		return recordError("token", name, err)
	}
	t, err := s.tokens.Refresh(r.Context(), name)
	if err != nil {
		s.log.Warn("token refresh from the console failed", "token", name, "reason", err.Error(), "session", sess.logID(), "remote", clientAddr(r))
		s.sessions.addFlash(sess, "error", "Refresh failed: "+err.Error())
		return seeOther(w, r, "/tokens/"+name)
	}
	s.log.Info("token refreshed from the console", "token", name, "session", sess.logID(), "remote", clientAddr(r))
	msg := "Token " + name + " refreshed."
	if !t.Expires.IsZero() {
		msg += " The new access token expires " + relative(t.Expires, s.now()) + "."
	}
	s.sessions.addFlash(sess, "ok", msg)
	return seeOther(w, r, "/tokens/"+name)
}

// recordError turns a store failure about one record into a page error: a
// missing record is a 404 in the console's words; others keep their text.
func recordError(kind, name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &pageError{Status: http.StatusNotFound, Title: upperFirst(kind) + " not found",
			Msg: fmt.Sprintf("There is no %s named %q. It may have been deleted.", kind, name)}
	}
	return err
}

// formError words a refused create or update for the form: the store's
// validation message, with the command-line advice of ErrExists replaced.
func formError(kind, name string, err error) string {
	if errors.Is(err, store.ErrExists) {
		return fmt.Sprintf("A %s named %q already exists: choose another name, or edit that one.", kind, name)
	}
	return upperFirst(err.Error()) + "."
}
