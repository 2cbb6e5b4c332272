package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
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
		mux.HandleFunc("POST /tokens/{name}/test", s.signedIn(s.tokenTest))
		mux.HandleFunc("GET /tokens/{name}/revoke", s.signedIn(s.tokenRevokeConfirm))
		mux.HandleFunc("POST /tokens/{name}/revoke", s.signedIn(s.tokenRevoke))
	}}
}

// tokenView is what pages show of a token: never its secrets, at most their
// last four characters (store.Mask).
type tokenView struct {
	Name, Type, Provider, Prompt string
	Active                       bool
	State                        string
	Expires                      time.Time
	Scopes                       string // the token's own; empty = the provider's
	ProviderScopes               string
	LastMessage                  string
	BaseURL                      string
	BoundTo                      string // where the base URL lets it go, in words (tokens.DescribeBinding)
	HasRefreshToken              bool
	RefreshFailures              int
	RefreshFailed                time.Time
	Created, Updated             time.Time
	LastRefreshed, LastUsed      time.Time
	ProviderMissing              bool
	Grant                        string // the provider's grant type, for oauth2 tokens
	RevocationURL                string // the provider's, for oauth2 tokens
	HoldsSecret                  bool   // something to revoke
	// The other types' settings, and their credentials masked.
	KeyHeader, KeyQuery, KeyPrefix string // api-key, shown as KeyIn
	Settings                       []settingPart
	Credential                     []credentialPart
	ScriptNote                     template.HTML // store.TypeSpec.ScriptNote
}

// settingPart is a setting of a static type as a page shows it.
type settingPart struct {
	Label, Value string
	Choice       bool // Value is a choice's label, not text the admin typed
}

// credentialPart is one piece of a static credential as a page shows it.
type credentialPart struct{ Label, Mask string }

// viewToken is viewTokenOf with the commands its last message suggests
// written for this console's home (Options.Command).
func (s *Server) viewToken(t store.Token, p *store.Provider) tokenView {
	v := viewTokenOf(t, p)
	v.LastMessage = s.hint(v.LastMessage)
	return v
}

// hint writes the backquoted scriptrun commands msg suggests with the
// console's command prefix (Options.Command), so they act on its home.
func (s *Server) hint(msg string) string {
	return strings.ReplaceAll(msg, "`scriptrun ", "`"+s.command+" ")
}

func viewTokenOf(t store.Token, p *store.Provider) tokenView {
	v := tokenView{
		Name: t.Name, Type: t.Type, Provider: t.Provider, Prompt: t.Prompt, Active: t.Active, State: string(t.State),
		Expires: t.Expires, Scopes: strings.Join(t.Scopes, " "), LastMessage: t.LastMessage, BaseURL: t.BaseURL, BoundTo: tokens.DescribeBinding(t.BaseURL),
		HasRefreshToken: t.Secret.RefreshToken != "", RefreshFailures: t.RefreshFailures, RefreshFailed: t.RefreshFailed,
		Created: t.Created, Updated: t.Updated, LastRefreshed: t.LastRefreshed, LastUsed: t.LastUsed,
		ProviderMissing: t.Type == store.TypeOAuth2 && p == nil, HoldsSecret: !t.Secret.IsZero(),
		KeyHeader: t.KeyHeader, KeyQuery: t.KeyQuery, KeyPrefix: t.KeyPrefix,
	}
	if p != nil {
		v.ProviderScopes = strings.Join(p.Scopes, " ")
		v.Grant, v.RevocationURL = p.GrantType, p.RevocationURL
	}
	spec := t.Spec()
	v.ScriptNote = codeSpans(spec.ScriptNote)
	for _, st := range spec.Settings {
		if st.Form == "" {
			continue
		}
		part := settingPart{Label: st.Label, Value: *st.Field(&t)}
		for _, c := range st.Choices {
			if c.Value == part.Value {
				part.Value, part.Choice = c.Label, true
			}
		}
		v.Settings = append(v.Settings, part)
	}
	for _, c := range spec.Entered() {
		mask := store.Mask(*c.Field(&t.Secret))
		if mask == "" {
			mask = "none"
		}
		v.Credential = append(v.Credential, credentialPart{c.Label, mask})
	}
	return v
}

// codeSpans is text from store.TokenTypes as HTML: escaped, with
// `backquoted` spans as code.
func codeSpans(s string) template.HTML {
	parts := strings.Split(s, "`")
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 && i < len(parts)-1 {
			b.WriteString("<code>" + template.HTMLEscapeString(p) + "</code>")
			continue
		}
		if i%2 == 1 {
			b.WriteString("`")
		}
		b.WriteString(template.HTMLEscapeString(p))
	}
	return template.HTML(b.String())
}

// StateLabel is the state in words.
func (v tokenView) StateLabel() string {
	switch store.State(v.State) {
	case store.StateAuthorized:
		if v.Static() {
			return "ready"
		}
		return "authorized"
	case store.StateUnauthorized:
		if v.Static() {
			return "no credential"
		}
		if v.ClientCredentials() {
			return "not fetched yet"
		}
		return "not authorized"
	case store.StateReauthRequired:
		return "reauth required"
	}
	return v.State
}

// TypeLabel is the type in words.
func (v tokenView) TypeLabel() string {
	spec, _ := store.TypeOf(v.Type)
	return spec.Label
}

// Authorized reports whether the token holds a token set (or, for the
// static types, a complete credential).
func (v tokenView) Authorized() bool { return store.State(v.State) == store.StateAuthorized }

// OAuth2 reports whether the token comes from a provider.
func (v tokenView) OAuth2() bool { return v.Type == store.TypeOAuth2 }

// Static reports whether the token holds a credential an admin stored as it
// is (every type but oauth2).
func (v tokenView) Static() bool { return v.Type != store.TypeOAuth2 }

// ClientCredentials reports whether the token's provider uses the
// client_credentials grant: no authorization step.
func (v tokenView) ClientCredentials() bool {
	return v.OAuth2() && v.Grant == store.GrantClientCredentials
}

// Authorizable reports whether "Get authorization token" applies: oauth2
// tokens of authorization_code providers (or whose provider is missing, when
// the button is shown disabled).
func (v tokenView) Authorizable() bool { return v.OAuth2() && !v.ClientCredentials() }

// Refreshable reports whether "Refresh now" applies.
func (v tokenView) Refreshable() bool {
	return v.OAuth2() && !v.ProviderMissing && (v.Authorized() || v.ClientCredentials())
}

// KeyIn says where an api-key token's key goes.
func (v tokenView) KeyIn() string {
	if v.KeyHeader == "" {
		return "query parameter " + v.KeyQuery
	}
	if v.KeyPrefix != "" {
		return fmt.Sprintf("header %s, after %q", v.KeyHeader, v.KeyPrefix)
	}
	return "header " + v.KeyHeader
}

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
	Damaged      []damagedView // tokens (on this page) and providers
	Query        string        // the search (?q=): part of a name
	Total        int           // tokens the search keeps
	From, To     int           // the page's place among them, from 1
	Page, Pages  int
	Prev, Next   string // links to the neighbouring pages; empty at the ends
	Search       bool   // show the search form: a search, or more than a page
}

// tokensPerPage is how many tokens a page of the console's list shows.
const tokensPerPage = 50

func (s *Server) tokenList(w http.ResponseWriter, r *http.Request, sess *session) error {
	d := tokenListData{Query: strings.TrimSpace(r.URL.Query().Get("q")), Page: 1}
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 {
		d.Page = n
	}
	var origins []string
	err := s.db.View(func(tx *store.Tx) error {
		ps, err := tx.Providers()
		if d.Damaged, err = splitDamaged(err); err != nil {
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
		page, err := tx.TokensPage(store.TokenQuery{Match: d.Query, Offset: (d.Page - 1) * tokensPerPage, Limit: tokensPerPage})
		for _, t := range page.Tokens {
			d.Tokens = append(d.Tokens, s.viewToken(t, byName[t.Provider]))
		}
		d.paginate(page)
		damaged, err := splitDamaged(err)
		d.Damaged = append(d.Damaged, damaged...)
		return err
	})
	if err != nil {
		return err
	}
	s.render(w, r, sess, http.StatusOK, "tokens", view{Title: "Tokens", Data: d, FormAction: origins})
	return nil
}

// paginate sets the page's place and its links to its neighbours, which
// keep the search.
func (d *tokenListData) paginate(p store.TokenPage) {
	d.Total = p.Total
	d.Pages = max(1, (p.Total+tokensPerPage-1)/tokensPerPage)
	d.Search = d.Query != "" || p.Total > tokensPerPage
	if p.Before < p.Total {
		d.From, d.To = p.Before+1, p.Total
		if p.More {
			d.To = p.Before + tokensPerPage
		}
	}
	link := func(n int) string {
		v := url.Values{}
		if d.Query != "" {
			v.Set("q", d.Query)
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return "/tokens"
		}
		return "/tokens?" + v.Encode()
	}
	if d.Page > 1 {
		d.Prev = link(min(d.Page-1, d.Pages))
	}
	if p.More {
		d.Next = link(d.Page + 1)
	}
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
		t, p, err = tx.TokenWithProvider(name)
		return err
	})
	if err != nil {
		return recordError("token", name, err)
	}
	d := tokenPageData{Token: s.viewToken(t, p), CallbackURL: s.callback}
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

// tokenForm is the create and edit form, as shown and as submitted. It
// shows the fields of one type, chosen on the New token page by links (no
// script needed) and fixed once the token exists. Credentials are
// write-only: their fields are always empty when shown, an empty field on
// edit keeps the stored one, and one typed into a refused form must be typed
// again.
type tokenForm struct {
	New                                  bool
	Name, Type, Provider, Prompt, Scopes string
	BaseURL                              string
	Active                               bool
	Error                                string // a problem with no field (the name is taken)
	formProblems                                // the fields' problems
	Providers                            []string
	ProviderScopes                       map[string]string // default scopes, as the scopes field's hint
	Prompts                              []promptOption
	Types                                []typeOption
	TypeHelp                             string
	HasProviders                         bool
	ProviderMissing                      bool
	// Static types.
	KeyIn, KeyName, KeyPrefix, Expires string            // api-key's place, in one part of the form
	Values                             map[string]string // settings with a field of their own, by field name
	Fields                             []formField       // those settings, then the credentials
	Masks                              map[string]string // stored credentials, masked (edit)
	SecretDropped                      bool              // a typed credential was not saved
	secrets                            map[string]string // typed credentials, by field name
}

// formField is a field of the type's part of the form, from its
// store.TypeSpec: a setting (text or a choice) or a write-only credential.
type formField struct {
	Name, Label, Value string
	Example            string // the placeholder
	Choices            []store.Choice
	Required           bool
	MaxLen             int
	Secret             bool
	Mask               string        // the stored credential, masked (edit)
	Help               template.HTML // a credential's first sentence
	Err                string        // its problems in a refused form
}

// typeOption is one token type on the New token page.
type typeOption struct {
	Value, Label string
	Current      bool
}

type promptOption struct{ Value, Label string }

var promptLabels = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{
		"":               "(none): the provider decides",
		"consent":        "consent: always ask for consent",
		"select_account": "select_account: let the admin pick an account",
		"login":          "login: always ask to sign in again",
		"none":           "none: fail unless already signed in and consented",
	}
}}

func prompts() []promptOption {
	out := make([]promptOption, 0, len(store.Prompts))
	for _, p := range store.Prompts {
		out = append(out, promptOption{Value: p, Label: promptLabels.Get()[p]})
	}
	return out
}

// fillTokenForm adds what the form's selects and hints need.
func (s *Server) fillTokenForm(f *tokenForm) error {
	f.Prompts = prompts()
	f.ProviderScopes = map[string]string{}
	spec, _ := store.TypeOf(f.Type)
	f.TypeHelp = spec.Help
	f.Types = nil
	for _, t := range store.TokenTypes {
		f.Types = append(f.Types, typeOption{Value: t.Type, Label: t.Label, Current: t.Type == f.Type})
	}
	f.Fields = nil
	for _, st := range spec.Settings {
		if st.Form == "" {
			continue
		}
		v := f.Values[st.Form]
		if v == "" {
			v = st.Default
		}
		f.Fields = append(f.Fields, formField{Name: st.Form, Label: st.Label, Value: v, Example: st.Example, Choices: st.Choices, Required: st.Required, MaxLen: st.MaxLen, Err: f.Err(st.Form)})
	}
	for _, c := range spec.Entered() {
		f.Fields = append(f.Fields, formField{Name: c.Form, Label: c.Label, Secret: true, Mask: f.Masks[c.Form], Help: codeSpans(c.Help), Err: f.Err(c.Form)})
	}
	if f.KeyIn == "" {
		f.KeyIn = "header"
	}
	return s.db.View(func(tx *store.Tx) error {
		ps, err := tx.Providers()
		for _, p := range ps {
			f.Providers = append(f.Providers, p.Name)
			f.ProviderScopes[p.Name] = strings.Join(p.Scopes, " ")
		}
		f.HasProviders = len(ps) > 0
		f.ProviderMissing = !f.New && f.Type == store.TypeOAuth2 && !slices.Contains(f.Providers, f.Provider)
		return err
	})
}

func (s *Server) tokenNew(w http.ResponseWriter, r *http.Request, sess *session) error {
	q := r.URL.Query()
	f := tokenForm{New: true, Type: store.TypeOAuth2, Active: true, Provider: q.Get("provider")}
	if t := q.Get("type"); slices.Contains(store.Types, t) {
		f.Type = t
	}
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
	f.KeyIn = pf.Get("key_in")
	f.KeyName = strings.TrimSpace(pf.Get("key_name"))
	f.KeyPrefix = pf.Get("key_prefix")
	f.Expires = strings.TrimSpace(pf.Get("expires"))
	f.Values, f.secrets = map[string]string{}, map[string]string{}
	for _, spec := range store.TokenTypes {
		for _, st := range spec.Settings {
			if st.Form != "" {
				f.Values[st.Form] = strings.TrimSpace(pf.Get(st.Form))
			}
		}
		for _, c := range spec.Entered() {
			// Like the CLI's --*-stdin: only line breaks are trimmed.
			if v := strings.Trim(pf.Get(c.Form), "\r\n"); v != "" {
				f.secrets[c.Form] = v
			}
		}
	}
}

// apply copies the form onto t: the fields of t's type, and the credentials
// that were typed. It returns the problems of what could not be read (the
// expiry); the store checks the rest.
func (f *tokenForm) apply(t *store.Token, now time.Time) store.FieldErrors {
	t.BaseURL = f.BaseURL
	t.Active = f.Active
	if t.Type == store.TypeOAuth2 {
		t.Prompt = f.Prompt
		t.Scopes = strings.Fields(f.Scopes)
		return nil
	}
	var parsed store.FieldErrors
	switch {
	case f.Expires == "":
		t.Expires = time.Time{}
	case !t.Expires.IsZero() && f.Expires == t.Expires.UTC().Format(time.RFC3339):
		// Unchanged: kept even if it has passed meanwhile.
	default:
		exp, err := store.ParseExpiry(f.Expires, now)
		if err != nil {
			parsed = append(parsed, store.FieldError{Field: "expires", Label: "expiry", Message: strings.TrimPrefix(err.Error(), "expiry ")})
		}
		t.Expires = exp
	}
	if t.Type == store.TypeAPIKey {
		t.KeyHeader, t.KeyQuery, t.KeyPrefix = "", "", ""
		if f.KeyIn == "query" {
			t.KeyQuery = f.KeyName
		} else {
			t.KeyHeader, t.KeyPrefix = f.KeyName, f.KeyPrefix
		}
	}
	spec := t.Spec()
	for _, st := range spec.Settings {
		if st.Form != "" {
			*st.Field(t) = f.Values[st.Form]
		}
	}
	for _, c := range spec.Entered() {
		if v := f.secrets[c.Form]; v != "" {
			*c.Field(&t.Secret) = v
		}
	}
	return parsed
}

// tokenFormField maps a field of a token (store.FieldError) to the form's,
// "" for one the form has not.
func tokenFormField(field string) string {
	switch field {
	case "name", "provider", "prompt", "scopes", "expires":
		return field
	case "baseUrl":
		return "base_url"
	case "keyHeader", "keyQuery":
		return "key_name"
	case "keyPrefix":
		return "key_prefix"
	}
	for _, spec := range store.TokenTypes {
		if st, ok := spec.Setting(field); ok {
			return st.Form
		}
		for _, c := range spec.Entered() {
			if c.Key == field {
				return c.Form
			}
		}
	}
	return ""
}

// typedForeign reports a credential typed into a field of another type (a
// tampered or stale form): it is refused rather than dropped silently.
func (f *tokenForm) typedForeign(typ string) bool {
	spec, _ := store.TypeOf(typ)
	for name := range f.secrets {
		if !slices.ContainsFunc(spec.Entered(), func(c store.Credential) bool { return c.Form == name }) {
			return true
		}
	}
	return false
}

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request, sess *session) error {
	f := tokenForm{New: true}
	readTokenForm(r, &f)
	t := store.Token{Name: f.Name, Type: f.Type, State: store.StateUnauthorized}
	if f.Type == store.TypeOAuth2 {
		t.Provider = f.Provider
	}
	parsed := f.apply(&t, s.now())
	var err error
	if f.typedForeign(f.Type) {
		err = fmt.Errorf("a credential was given for another token type than %s: reload the form", f.Type)
	}
	var grant string
	var added store.Token // read back; t stays what is created, should Update run the closure again
	if err == nil {
		err = s.db.Update(func(tx *store.Tx) error {
			// With what could not be read, the store's problems with the
			// rest are shown too, and nothing is written.
			if err := store.JoinFieldErrors(parsed, tx.CreateToken(t)); err != nil {
				return err
			}
			got, p, err := tx.TokenWithProvider(t.Name)
			if store.IsProviderDamaged(err) {
				err = nil // the token page says so
			}
			added, grant = got, ""
			if p != nil {
				grant = p.GrantType
			}
			return err
		})
	}
	if err != nil {
		return s.tokenFormFailed(w, r, sess, &f, err, "New token")
	}
	t = added
	s.log.Info("token created", "token", t.Name, "type", t.Type, "provider", t.Provider, "has_credential", t.Static() && t.Complete(),
		"session", sess.logID(), "remote", clientAddr(r))
	switch {
	case t.Static() && t.Complete():
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("Token %s created. Scripts can use it with apiTokenAuth('%s').", t.Name, t.Name))
	case t.Static():
		s.sessions.addFlash(sess, "warn", fmt.Sprintf("Token %s created without its credential: edit it to store one. Until then scripts get TOKEN_UNAUTHORIZED.", t.Name))
	case grant == store.GrantClientCredentials:
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("Token %s created. %s uses client credentials: the token is fetched when a script first uses it, or now with \u201cRefresh now\u201d.", t.Name, t.Provider))
	default:
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("Token %s created. Press \"Get authorization token\" to sign in at %s.", t.Name, t.Provider))
	}
	if t.BaseURL == "" {
		s.sessions.addFlash(sess, "warn", noBaseURLWarning)
	}
	return seeOther(w, r, "/tokens/"+t.Name)
}

// tokenFormFailed shows a refused form again with the reason; credentials
// typed into it are not sent back.
func (s *Server) tokenFormFailed(w http.ResponseWriter, r *http.Request, sess *session, f *tokenForm, err error, title string) error {
	if rest := f.set(err, tokenFormField); rest != nil {
		f.Error = formError("token", f.Name, rest)
	}
	f.SecretDropped = len(f.secrets) > 0
	f.secrets = nil
	if ferr := s.fillTokenForm(f); ferr != nil {
		return ferr
	}
	s.render(w, r, sess, http.StatusUnprocessableEntity, "token_form", view{Title: title, Data: f})
	return nil
}

const noBaseURLWarning = "This token has no base URL, so scripts may send it to any host. Set the base URL of the API it is for."

func (s *Server) tokenEdit(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	var t store.Token
	if err := s.db.View(func(tx *store.Tx) (err error) { t, err = tx.Token(name); return err }); err != nil {
		return recordError("token", name, err)
	}
	f := editForm(t)
	if err := s.fillTokenForm(&f); err != nil {
		return err
	}
	s.render(w, r, sess, http.StatusOK, "token_form", view{Title: "Edit token " + name, Data: f})
	return nil
}

// editForm is the edit form of a stored token.
func editForm(t store.Token) tokenForm {
	f := tokenForm{Name: t.Name, Type: t.Type, Provider: t.Provider, Prompt: t.Prompt, Scopes: strings.Join(t.Scopes, " "),
		BaseURL: t.BaseURL, Active: t.Active, KeyPrefix: t.KeyPrefix, Values: map[string]string{}}
	for _, st := range t.Spec().Settings {
		if st.Form != "" {
			f.Values[st.Form] = *st.Field(&t)
		}
	}
	f.KeyIn, f.KeyName = "header", t.KeyHeader
	if t.KeyQuery != "" {
		f.KeyIn, f.KeyName = "query", t.KeyQuery
	}
	if !t.Expires.IsZero() {
		f.Expires = t.Expires.UTC().Format(time.RFC3339)
	}
	f.fillMasks(t)
	return f
}

// fillMasks sets the masks of the stored credentials, the placeholders of
// the write-only fields.
func (f *tokenForm) fillMasks(t store.Token) {
	f.Masks = map[string]string{}
	for _, c := range t.Spec().Entered() {
		f.Masks[c.Form] = store.Mask(*c.Field(&t.Secret))
	}
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
		f.Type, f.Provider = t.Type, t.Provider
		f.fillMasks(t)
		if f.typedForeign(t.Type) {
			return fmt.Errorf("a credential was given for another token type than %s: reload the form", t.Type)
		}
		parsed := f.apply(&t, s.now())
		if err := store.JoinFieldErrors(parsed, tx.PutToken(t)); err != nil {
			return err
		}
		saved, err = tx.Token(name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return recordError("token", name, err)
	}
	if err != nil {
		return s.tokenFormFailed(w, r, sess, &f, err, "Edit token "+name)
	}
	s.log.Info("token updated", "token", name, "type", saved.Type, "active", saved.Active, "prompt", saved.Prompt, "base_url", saved.BaseURL,
		"credential_changed", len(f.secrets) > 0, "session", sess.logID(), "remote", clientAddr(r))
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
	err := s.db.View(func(tx *store.Tx) (err error) { t, err = tx.Token(name); return err })
	if re := damagedRecord(err); re != nil {
		// Deleting a damaged record is how it is re-created.
		s.render(w, r, sess, http.StatusOK, "confirm_delete", view{Title: "Delete token " + name, Data: confirmData{Kind: "token", Name: name,
			Action: "/tokens/" + name + "/delete", Cancel: "/tokens", Note: "It is damaged (it " + re.Reason + ") and refused until re-created."}})
		return nil
	}
	if err != nil {
		return recordError("token", name, err)
	}
	d := confirmData{Kind: "token", Name: name, Action: "/tokens/" + name + "/delete", Cancel: "/tokens/" + name,
		Note: "Scripts that use it will fail with TOKEN_NOT_FOUND."}
	switch {
	case t.Secret.IsZero():
	case t.Static():
		d.Note += " Its credential is erased here; it still works where it was issued."
	default:
		d.Note += " Its access and refresh tokens are erased here; they stay valid at the provider until they expire. To end them there too, revoke the token first."
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

// revokeData is what token_revoke.html shows.
type revokeData struct {
	Token tokenView
}

func (s *Server) tokenRevokeConfirm(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	v, err := s.readTokenView(name)
	if err != nil {
		return err
	}
	s.render(w, r, sess, http.StatusOK, "token_revoke", view{Title: "Revoke token " + name, Data: revokeData{Token: v}})
	return nil
}

// readTokenView reads a token with its provider, for a page.
func (s *Server) readTokenView(name string) (tokenView, error) {
	var t store.Token
	var p *store.Provider
	err := s.db.View(func(tx *store.Tx) (err error) {
		t, p, err = tx.TokenWithProvider(name)
		return err
	})
	if err != nil {
		return tokenView{}, recordError("token", name, err)
	}
	return s.viewToken(t, p), nil
}

// tokenRevoke revokes the token at its provider (unless "Erase here only"
// was pressed) and erases its credential; a refusal leaves it untouched and
// says so.
func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	if err := s.db.View(func(tx *store.Tx) error { _, err := tx.Token(name); return err }); err != nil {
		return recordError("token", name, err)
	}
	local := r.PostForm.Get("local") == "on"
	rv, err := s.tokens.Revoke(r.Context(), name, tokens.RevokeOptions{Local: local})
	if err != nil {
		s.log.Warn("token revocation from the console failed", "token", name, "code", tokens.CodeOf(err), "reason", err.Error(),
			"session", sess.logID(), "remote", clientAddr(r))
		msg := upperFirst(err.Error()) + "."
		if tokens.CodeOf(err) == tokens.CodeRevokeFailed {
			msg = "Revocation failed: " + err.Error() + "."
		}
		s.sessions.addFlash(sess, "error", msg)
		return seeOther(w, r, "/tokens/"+name+"/revoke")
	}
	s.log.Info("token revoked from the console", "token", name, "at_provider", len(rv.Revoked) > 0, "local", local,
		"session", sess.logID(), "remote", clientAddr(r))
	t := rv.Token
	switch {
	case len(rv.Revoked) > 0:
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("Token %s revoked at the provider (%s) and erased here.", name, strings.ReplaceAll(strings.Join(rv.Revoked, ", "), "_", " ")))
	case t.Static():
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("The credential of token %s is erased. Scripts get TOKEN_UNAUTHORIZED until a new one is stored.", name))
		s.sessions.addFlash(sess, "warn", "It was issued elsewhere and still works there: revoke it at its issuer too if it may have leaked.")
	default:
		s.sessions.addFlash(sess, "ok", fmt.Sprintf("The tokens of %s are erased here.", name))
	}
	if rv.NotRevoked != "" {
		s.sessions.addFlash(sess, "warn", "Not revoked at the provider: "+rv.NotRevoked+".")
	}
	return seeOther(w, r, "/tokens/"+name)
}

// recordError turns a store failure about one record into a page error: a
// missing record is a 404 in the console's words; others keep their text.
func recordError(kind, name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &pageError{Status: http.StatusNotFound, Title: upperFirst(kind) + " not found",
			Msg: fmt.Sprintf("There is no %s named %q. It may have been deleted.", kind, name)}
	}
	var re *store.RecordError
	if errors.As(err, &re) {
		return &pageError{Status: http.StatusInternalServerError, Title: upperFirst(re.Kind) + " damaged", Msg: re.Error()}
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
