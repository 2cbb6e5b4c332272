package web

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
)

func (s *Server) providerSection() section {
	return section{label: "Providers", path: "/providers", routes: func(mux *http.ServeMux) {
		mux.HandleFunc("GET /providers", s.signedIn(s.providerList))
		mux.HandleFunc("GET /providers/-/new", s.signedIn(s.providerNew))
		mux.HandleFunc("POST /providers/-/new", s.signedIn(s.providerCreate))
		mux.HandleFunc("GET /providers/{name}", s.signedIn(s.providerShow))
		mux.HandleFunc("GET /providers/{name}/edit", s.signedIn(s.providerEdit))
		mux.HandleFunc("POST /providers/{name}/edit", s.signedIn(s.providerUpdate))
		mux.HandleFunc("GET /providers/{name}/delete", s.signedIn(s.providerDeleteConfirm))
		mux.HandleFunc("POST /providers/{name}/delete", s.signedIn(s.providerDelete))
	}}
}

// providerView is what pages show of a provider: the client secret only
// masked (store.Mask: at most its last four characters).
type providerView struct {
	Name, ClientID, SecretMask, GrantType string
	AuthURL, TokenURL, RevocationURL      string
	Scopes, Description, AuthStyle        string
	PKCE                                  bool
	AuthParams, TokenParams               []string // KEY=VALUE, sorted
	Rejection                             store.Rejection
	Tokens                                []string // tokens using it
	Created, Updated                      time.Time
}

// RejectedStatuses lists the answers that by themselves mean the API
// refused the access token: "401" unless the provider says otherwise.
func (v providerView) RejectedStatuses() string {
	return store.FormatStatuses(v.Rejection.EffectiveStatuses())
}

// RejectedBodyStatuses lists the statuses whose body is searched for the
// pattern, or "".
func (v providerView) RejectedBodyStatuses() string {
	return store.FormatStatuses(v.Rejection.EffectiveBodyStatuses())
}

// RejectionPeekKiB is how much of a body the pattern is searched in.
func (v providerView) RejectionPeekKiB() int { return store.RejectionPeekBytes >> 10 }

func viewProvider(p store.Provider, users []string) providerView {
	return providerView{
		Name: p.Name, ClientID: p.ClientID, SecretMask: store.Mask(p.ClientSecret), GrantType: p.GrantType,
		AuthURL: p.AuthURL, TokenURL: p.TokenURL, RevocationURL: p.RevocationURL,
		Scopes: strings.Join(p.Scopes, " "), Description: p.Description, AuthStyle: p.AuthStyle, PKCE: p.PKCE,
		AuthParams: paramLines(p.AuthParams), TokenParams: paramLines(p.TokenParams), Rejection: p.Rejection, Tokens: users,
		Created: p.Created, Updated: p.Updated,
	}
}

// AuthStyleLabel says how the client authenticates at the token endpoint.
func (v providerView) AuthStyleLabel() string { return authStyleLabels.Get()[v.AuthStyle] }

var authStyleLabels = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{
		store.AuthStyleHeader: "HTTP Basic header (client_secret_basic)",
		store.AuthStyleBody:   "In the request body (client_secret_post)",
	}
}}

func paramLines(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

// tokensByProvider maps each provider name to the tokens that use it.
func tokensByProvider(tx *store.Tx) (map[string][]string, error) {
	ts, err := tx.Tokens()
	users := make(map[string][]string)
	for _, t := range ts {
		users[t.Provider] = append(users[t.Provider], t.Name)
	}
	_, err = store.DamagedRecords(err) // a damaged token uses nothing; the tokens page shows it
	return users, err
}

func (s *Server) providerList(w http.ResponseWriter, r *http.Request, sess *session) error {
	var views []providerView
	var damaged []damagedView
	err := s.db.View(func(tx *store.Tx) error {
		ps, err := tx.Providers()
		if damaged, err = splitDamaged(err); err != nil {
			return err
		}
		users, err := tokensByProvider(tx)
		for _, p := range ps {
			views = append(views, viewProvider(p, users[p.Name]))
		}
		return err
	})
	if err != nil {
		return err
	}
	s.render(w, r, sess, http.StatusOK, "providers", view{Title: "Providers", Data: struct {
		Providers   []providerView
		CallbackURL string
		Damaged     []damagedView
	}{views, s.callback, damaged}})
	return nil
}

func (s *Server) providerShow(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	var v providerView
	err := s.db.View(func(tx *store.Tx) error {
		p, err := tx.Provider(name)
		if err != nil {
			return err
		}
		users, err := tokensByProvider(tx)
		v = viewProvider(p, users[name])
		return err
	})
	if err != nil {
		return recordError("provider", name, err)
	}
	s.render(w, r, sess, http.StatusOK, "provider", view{Title: "Provider " + name, Data: struct {
		Provider    providerView
		CallbackURL string
	}{v, s.callback}})
	return nil
}

// providerForm is the create and edit form, as shown and as submitted. It
// never holds the client secret: the secret field is always empty when
// shown, and a secret typed into a refused form must be typed again.
type providerForm struct {
	New                              bool
	Name, ClientID, GrantType        string
	AuthURL, TokenURL, RevocationURL string
	Scopes, Description, AuthStyle   string
	PKCE                             bool
	AuthParams, TokenParams          string // KEY=VALUE lines
	SecretMask                       string // the stored secret, masked (edit)
	ClearSecret                      bool
	SecretDropped                    bool   // a typed secret was not saved
	Error                            string // a problem with no field (the name is taken)
	formProblems                            // the fields' problems
	CallbackURL                      string
	AuthStyles                       []promptOption
	GrantTypes                       []string
	// Provider templates (new providers only): the choice offered, and the
	// one the form was filled from.
	Templates               []templateCard
	TemplatesError          string
	Template                *templateCard
	TemplateError           string
	authParams, tokenParams map[string]string
	parsed                  store.FieldErrors // what could not be read
	secret                  string

	// How the provider's APIs refuse an access token, as typed: status
	// lists ("401,403") and a pattern. Empty lists are the defaults.
	RejectedStatus, RejectedBody, RejectedBodyStatus string
}

func (s *Server) newProviderForm() providerForm {
	return providerForm{
		New: true, GrantType: store.GrantAuthorizationCode, AuthStyle: store.AuthStyleHeader, PKCE: true,
	}
}

func (s *Server) fillProviderForm(f *providerForm) {
	if f.New {
		s.offerTemplates(f)
	}
	f.CallbackURL = s.callback
	f.GrantTypes = store.GrantTypes
	f.AuthStyles = []promptOption{
		{store.AuthStyleHeader, authStyleLabels.Get()[store.AuthStyleHeader]},
		{store.AuthStyleBody, authStyleLabels.Get()[store.AuthStyleBody]},
	}
}

func (s *Server) providerNew(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := s.newProviderForm()
	status := http.StatusOK
	if q := r.URL.Query(); q.Get("template") != "" {
		if err := s.fillFromTemplate(&f, q.Get("template"), templateParams(q)); err != nil {
			f.TemplateError = upperFirst(err.Error()) + "."
			status = http.StatusUnprocessableEntity
		}
	}
	s.fillProviderForm(&f)
	s.render(w, r, sess, status, "provider_form", view{Title: "New provider", Data: f})
	return nil
}

// readProviderForm reads the submitted fields. Validation is the store's;
// only the KEY=VALUE lines, a form format, are parsed here.
func readProviderForm(r *http.Request, f *providerForm) {
	pf := r.PostForm
	if f.New {
		f.Name = strings.TrimSpace(pf.Get("name"))
	}
	f.ClientID = strings.TrimSpace(pf.Get("client_id"))
	f.GrantType = strings.TrimSpace(pf.Get("grant_type"))
	f.AuthURL = strings.TrimSpace(pf.Get("auth_url"))
	f.TokenURL = strings.TrimSpace(pf.Get("token_url"))
	f.RevocationURL = strings.TrimSpace(pf.Get("revocation_url"))
	f.Scopes = strings.Join(strings.Fields(pf.Get("scopes")), " ")
	f.Description = strings.TrimSpace(pf.Get("description"))
	f.AuthStyle = pf.Get("auth_style")
	f.PKCE = pf.Get("pkce") == "on"
	f.AuthParams = strings.TrimSpace(pf.Get("auth_params"))
	f.TokenParams = strings.TrimSpace(pf.Get("token_params"))
	f.RejectedStatus = strings.TrimSpace(pf.Get("rejected_status"))
	f.RejectedBody = pf.Get("rejected_body") // a pattern: spaces may matter
	f.RejectedBodyStatus = strings.TrimSpace(pf.Get("rejected_body_status"))
	f.ClearSecret = pf.Get("clear_secret") == "on"
	if name := pf.Get("template"); f.New && name != "" {
		f.Template = &templateCard{Name: name, Values: templateParams(pf)}
	}
	// Like the CLI's --client-secret-stdin: only line breaks are trimmed.
	f.secret = strings.Trim(pf.Get("client_secret"), "\r\n")
	var err error
	if f.authParams, err = parseParamLines(f.AuthParams); err != nil {
		f.parsed = append(f.parsed, store.FieldError{Field: "authParams", Label: "extra authorization parameters", Message: err.Error()})
	}
	if f.tokenParams, err = parseParamLines(f.TokenParams); err != nil {
		f.parsed = append(f.parsed, store.FieldError{Field: "tokenParams", Label: "extra token parameters", Message: err.Error()})
	}
}

// providerFormFields maps the fields of a provider (store.FieldError) to
// the form's.
var providerFormFields = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{
		"name": "name", "clientId": "client_id", "grantType": "grant_type", "authorizationUrl": "auth_url",
		"tokenUrl": "token_url", "revocationUrl": "revocation_url", "scopes": "scopes", "authStyle": "auth_style",
		"authParams": "auth_params", "tokenParams": "token_params",
		"rejection." + store.RejectionStatuses:     "rejected_status",
		"rejection." + store.RejectionBodyPattern:  "rejected_body",
		"rejection." + store.RejectionBodyStatuses: "rejected_body_status",
	}
}}

// parseParamLines reads KEY=VALUE lines; blank lines are skipped.
func parseParamLines(text string) (map[string]string, error) {
	var out map[string]string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d (%q): write one KEY=VALUE per line, e.g. access_type=offline", i+1, line)
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// check copies the form, except the secret, onto p and checks the result:
// the problems of what could not be read, then the store's validation of
// the rest, every problem at once (store.FieldErrors).
func (f *providerForm) check(p *store.Provider) error {
	p.ClientID, p.GrantType = f.ClientID, f.GrantType
	p.AuthURL, p.TokenURL, p.RevocationURL = f.AuthURL, f.TokenURL, f.RevocationURL
	p.Scopes = strings.Fields(f.Scopes)
	p.Description, p.AuthStyle, p.PKCE = f.Description, f.AuthStyle, f.PKCE
	p.AuthParams, p.TokenParams = f.authParams, f.tokenParams
	parsed := f.parsed
	var r store.Rejection
	var fe *store.FieldError
	if r.Statuses, fe = store.ParseProviderStatuses(store.RejectionStatuses, f.RejectedStatus); fe != nil {
		parsed = append(parsed, *fe)
	}
	r.BodyPattern = f.RejectedBody
	if r.BodyStatuses, fe = store.ParseProviderStatuses(store.RejectionBodyStatuses, f.RejectedBodyStatus); fe != nil {
		parsed = append(parsed, *fe)
	}
	p.Rejection = r
	return store.JoinFieldErrors(parsed, p.Validate())
}

// rejectionFields fills the rejection fields of the form from r, leaving
// the defaults empty.
func (f *providerForm) rejectionFields(r store.Rejection) {
	f.RejectedStatus = store.FormatStatuses(r.Statuses)
	f.RejectedBody = r.BodyPattern
	f.RejectedBodyStatus = store.FormatStatuses(r.BodyStatuses)
}

func (s *Server) providerCreate(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := providerForm{New: true}
	readProviderForm(r, &f)
	p := store.Provider{Name: f.Name, ClientSecret: f.secret}
	err := f.check(&p)
	if err == nil {
		err = s.db.Update(func(tx *store.Tx) error { return tx.CreateProvider(p) })
	}
	if err != nil {
		return s.providerFormFailed(w, r, sess, &f, err, "New provider")
	}
	s.log.Info("provider created", "provider", p.Name, "client_id", p.ClientID, "has_secret", p.ClientSecret != "",
		"session", sess.logID(), "remote", clientAddr(r))
	s.sessions.addFlash(sess, "ok", "Provider "+p.Name+" created. Next: create a token that uses it.")
	if p.ClientSecret == "" {
		s.sessions.addFlash(sess, "warn", "Provider "+p.Name+" has no client secret (a public client). Edit it to add one if the provider issued one.")
	}
	return seeOther(w, r, "/providers/"+p.Name)
}

func (s *Server) providerFormFailed(w http.ResponseWriter, r *http.Request, sess *session, f *providerForm, err error, title string) error {
	if rest := f.set(err, func(field string) string { return providerFormFields.Get()[field] }); rest != nil {
		f.Error = formError("provider", f.Name, rest)
	}
	f.SecretDropped = f.secret != ""
	f.secret = ""
	s.fillProviderForm(f)
	s.render(w, r, sess, http.StatusUnprocessableEntity, "provider_form", view{Title: title, Data: f})
	return nil
}

func (s *Server) providerEdit(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	var p store.Provider
	if err := s.db.View(func(tx *store.Tx) (err error) { p, err = tx.Provider(name); return err }); err != nil {
		return recordError("provider", name, err)
	}
	v := viewProvider(p, nil)
	f := providerForm{
		Name: p.Name, ClientID: p.ClientID, GrantType: p.GrantType, AuthURL: p.AuthURL, TokenURL: p.TokenURL,
		RevocationURL: p.RevocationURL, Scopes: v.Scopes, Description: p.Description, AuthStyle: p.AuthStyle, PKCE: p.PKCE,
		AuthParams: strings.Join(v.AuthParams, "\n"), TokenParams: strings.Join(v.TokenParams, "\n"), SecretMask: v.SecretMask,
	}
	f.rejectionFields(p.Rejection)
	s.fillProviderForm(&f)
	s.render(w, r, sess, http.StatusOK, "provider_form", view{Title: "Edit provider " + name, Data: f})
	return nil
}

func (s *Server) providerUpdate(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	f := providerForm{Name: name}
	readProviderForm(r, &f)
	var saved store.Provider
	err := s.db.Update(func(tx *store.Tx) error {
		p, err := tx.Provider(name)
		if err != nil {
			return err
		}
		f.SecretMask = store.Mask(p.ClientSecret)
		if err := f.check(&p); err != nil {
			return err
		}
		switch {
		case f.secret != "":
			p.ClientSecret = f.secret
		case f.ClearSecret:
			p.ClientSecret = ""
		}
		saved = p
		return tx.PutProvider(p)
	})
	if errors.Is(err, store.ErrNotFound) {
		return recordError("provider", name, err)
	}
	if err != nil {
		return s.providerFormFailed(w, r, sess, &f, err, "Edit provider "+name)
	}
	s.log.Info("provider updated", "provider", name, "client_id", saved.ClientID, "secret_changed", f.secret != "" || f.ClearSecret,
		"session", sess.logID(), "remote", clientAddr(r))
	s.sessions.addFlash(sess, "ok", "Provider "+name+" saved.")
	return seeOther(w, r, "/providers/"+name)
}

func (s *Server) providerDeleteConfirm(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	var users []string
	var damaged *store.RecordError
	err := s.db.View(func(tx *store.Tx) error {
		if _, err := tx.Provider(name); err != nil {
			if damaged = damagedRecord(err); damaged == nil {
				return err
			}
		}
		all, err := tokensByProvider(tx)
		users = all[name]
		return err
	})
	if err != nil {
		return recordError("provider", name, err)
	}
	d := confirmData{Kind: "provider", Name: name, Action: "/providers/" + name + "/delete", Cancel: "/providers/" + name,
		Blocked: users, Note: "Its client id and secret are erased from this console."}
	if damaged != nil {
		// Deleting a damaged record is how it is re-created.
		d.Cancel, d.Note = "/providers", "It is damaged (it "+damaged.Reason+") and refused until re-created."
	}
	s.render(w, r, sess, http.StatusOK, "confirm_delete", view{Title: "Delete provider " + name, Data: d})
	return nil
}

func (s *Server) providerDelete(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	var users []string
	err := s.db.Update(func(tx *store.Tx) error {
		err := tx.DeleteProvider(name, false)
		if errors.Is(err, store.ErrInUse) {
			all, lerr := tokensByProvider(tx)
			users = all[name]
			return errors.Join(err, lerr)
		}
		return err
	})
	if errors.Is(err, store.ErrInUse) {
		s.sessions.addFlash(sess, "error", fmt.Sprintf("Provider %s was not deleted: token(s) %s use it. Delete those tokens first.", name, strings.Join(users, ", ")))
		return seeOther(w, r, "/providers/"+name)
	}
	if err != nil {
		return recordError("provider", name, err)
	}
	s.log.Info("provider deleted", "provider", name, "session", sess.logID(), "remote", clientAddr(r))
	s.sessions.addFlash(sess, "ok", "Provider "+name+" deleted.")
	return seeOther(w, r, "/providers")
}

// templateCard is a provider template as the New provider form offers it.
type templateCard struct {
	Name, Title, Quirk, Source string
	Params                     []templateParam
	Values                     map[string]string // the parameters given, by name
	BaseURL                    string            // what tokens of it are usually bound to
	Error                      string            // why it could not fill the form
}

// templateParam is one of a template's parameters, with its value in the form.
type templateParam struct{ Name, Value, Help string }

// templateParams reads template parameters from a query or form: param.NAME=VALUE.
func templateParams(v url.Values) map[string]string {
	out := map[string]string{}
	for k, vals := range v {
		if name, ok := strings.CutPrefix(k, "param."); ok && len(vals) > 0 && strings.TrimSpace(vals[0]) != "" {
			out[name] = strings.TrimSpace(vals[0])
		}
	}
	return out
}

// offerTemplates lists the templates in the form, marking the one it was
// filled from.
func (s *Server) offerTemplates(f *providerForm) {
	if s.templates == nil {
		return
	}
	set, err := s.templates()
	if err != nil {
		f.TemplatesError = upperFirst(err.Error()) + "."
		if f.TemplatesError == f.TemplateError {
			f.TemplateError = "" // said once is enough
		}
		return
	}
	for _, t := range set.All() {
		c := templateCard{Name: t.Name, Title: t.Title, Quirk: t.Quirk, Source: t.Source}
		chosen := f.Template != nil && f.Template.Name == t.Name
		for _, k := range slices.Sorted(maps.Keys(t.Params)) {
			p := templateParam{Name: k, Value: t.Params[k].Default, Help: t.Params[k].Help}
			if v := f.Template; chosen && v.Values[k] != "" {
				p.Value = v.Values[k]
			}
			c.Params = append(c.Params, p)
		}
		if chosen {
			c.Values, c.Error = f.Template.Values, f.TemplateError
			if c.Error == "" {
				c.BaseURL = t.TokenBaseURL(c.Values)
			}
			*f.Template = c
		}
		f.Templates = append(f.Templates, c)
	}
}

// fillFromTemplate fills the form from the named template with its
// parameters, as `provider add --template` does; the admin adds the client
// id and secret.
func (s *Server) fillFromTemplate(f *providerForm, name string, params map[string]string) error {
	f.Template = &templateCard{Name: name, Values: params}
	if s.templates == nil {
		return errors.New("this console has no provider templates")
	}
	set, err := s.templates()
	if err != nil {
		return err
	}
	t, err := set.Find(name)
	if err != nil {
		return fmt.Errorf("there is no provider template %q: choose one of the list", name)
	}
	given := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(t.Params)) {
		p := t.Params[k]
		switch v := params[k]; {
		case v != "":
			given[k] = v
		case p.Default == "":
			return fmt.Errorf("%s needs its %s: %s", t.Title, k, p.Help)
		}
	}
	p, err := t.Provider(t.Name, given)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), fmt.Sprintf("template %q: ", t.Name)))
	}
	v := viewProvider(p, nil)
	f.Name, f.GrantType, f.AuthURL, f.TokenURL, f.RevocationURL = p.Name, p.GrantType, p.AuthURL, p.TokenURL, p.RevocationURL
	f.Scopes, f.Description, f.AuthStyle, f.PKCE = v.Scopes, p.Description, p.AuthStyle, p.PKCE
	f.AuthParams, f.TokenParams = strings.Join(v.AuthParams, "\n"), strings.Join(v.TokenParams, "\n")
	f.rejectionFields(p.Rejection)
	f.Template.Values = given
	return nil
}
