package sandbox

import (
	"crypto/subtle"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// authParams are the authorization-request parameters the login form
// carries from the GET to its POST.
var authParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "prompt"}

// session is a browser signed in to the login page.
type session struct {
	user     string
	consents map[string]map[string]bool // client ID -> approved scopes
}

// consented reports whether the user already approved all of scopes for clientID.
func (sess *session) consented(clientID string, scopes []string) bool {
	approved, ok := sess.consents[clientID]
	if !ok {
		return false
	}
	for _, sc := range scopes {
		if !approved[sc] {
			return false
		}
	}
	return true
}

// prompts is a parsed OpenID Connect prompt parameter.
type prompts struct{ none, login, consent, selectAccount bool }

func parsePrompt(v string) (prompts, bool) {
	var p prompts
	for _, f := range strings.Fields(v) {
		switch f {
		case "none":
			p.none = true
		case "login":
			p.login = true
		case "consent":
			p.consent = true
		case "select_account":
			p.selectAccount = true
		default:
			return p, false
		}
	}
	if p.none && (p.login || p.consent || p.selectAccount) {
		return p, false
	}
	return p, true
}

// statusWriter records whether anything was written.
type statusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) { w.wrote = true; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// serveAuthorize is the authorization endpoint. It checks the client and
// redirect URI itself (errors about them must not be redirected, RFC 6749
// section 4.1.2.1), refuses what the library would accept but should not
// (implicit flow, PKCE "plain", bad prompt), then hands over to the
// library's HandleAuthorizeRequest, which calls authorizeUser.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		s.renderProblem(w, http.StatusMethodNotAllowed, "Method not allowed", "The authorization endpoint accepts GET and POST.")
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	}
	if err := r.ParseForm(); err != nil {
		s.renderProblem(w, http.StatusBadRequest, "Bad request", "The request could not be read.")
		return
	}
	if id := r.Form.Get("client_id"); id != s.opts.ClientID {
		s.renderProblem(w, http.StatusBadRequest, "Unknown client", "client_id "+quote(id)+" is not registered with this sandbox.")
		return
	}
	redirectURI := r.Form.Get("redirect_uri")
	if !s.redirectAllowed(redirectURI) {
		s.renderProblem(w, http.StatusBadRequest, "Redirect URI not allowed",
			"redirect_uri "+quote(redirectURI)+" is not registered for this client, so the sandbox will not send you there.")
		return
	}
	state := r.Form.Get("state")
	fail := func(code, desc string) { redirectError(w, r, redirectURI, state, code, desc) }
	if rt := r.Form.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	}
	if r.Form.Get("code_challenge") == "" {
		if s.opts.RequirePKCE {
			fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
			return
		}
	} else if m := r.Form.Get("code_challenge_method"); m != "S256" {
		fail("invalid_request", "code_challenge_method must be S256")
		return
	}
	if _, ok := parsePrompt(r.Form.Get("prompt")); !ok {
		fail("invalid_request", "prompt must be none, or any of login, consent and select_account")
		return
	}

	sw := &statusWriter{ResponseWriter: w}
	if err := s.oauth.HandleAuthorizeRequest(sw, r); err != nil && !sw.wrote {
		// The library returns validation errors instead of redirecting them.
		data, _, _ := s.oauth.GetErrorData(err)
		desc, _ := data["error_description"].(string)
		code, _ := data["error"].(string)
		fail(code, desc)
	}
}

// authorizeUser is the library's UserAuthorizationHandler. It returns the
// user ID once the user has signed in and approved; otherwise it writes the
// login/consent page and returns "", or returns an error the library sends
// to the redirect URI.
func (s *Server) authorizeUser(w http.ResponseWriter, r *http.Request) (string, error) {
	sess := s.session(r)
	clientID := r.Form.Get("client_id")
	scopes := strings.Fields(r.Form.Get("scope"))
	p, _ := parsePrompt(r.Form.Get("prompt"))

	if r.Method == http.MethodGet {
		switch {
		case p.none && sess == nil:
			return "", errLoginRequired
		case p.none && !s.consented(sess, clientID, scopes):
			return "", errConsentRequired
		case p.none:
			s.count(func(st *Stats) { st.Authorizations++ })
			return sess.user, nil
		case sess != nil && !p.login && !p.selectAccount && !p.consent && s.consented(sess, clientID, scopes):
			s.count(func(st *Stats) { st.Authorizations++ })
			return sess.user, nil // approved before: no page, like real providers
		}
		s.renderLogin(w, r, sess, sess == nil || p.login || p.selectAccount, "", http.StatusOK)
		return "", nil
	}

	// POST: the form was submitted.
	needLogin := sess == nil || r.PostForm.Get("login") == "1"
	if !s.csrfOK(r) {
		s.renderLogin(w, r, sess, needLogin, "This form has expired. Please try again.", http.StatusBadRequest)
		return "", nil
	}
	switch r.PostForm.Get("action") {
	case "deny":
		return "", oerrors.ErrAccessDenied
	case "allow":
	default:
		s.renderLogin(w, r, sess, needLogin, "Choose Allow or Deny.", http.StatusBadRequest)
		return "", nil
	}
	if needLogin {
		user := r.PostForm.Get("username")
		if !s.checkPassword(user, r.PostForm.Get("password")) {
			s.renderLogin(w, r, sess, true, "Wrong username or password.", http.StatusOK)
			return "", nil
		}
		sess = s.newSession(w, r, user)
	}
	s.mu.Lock()
	approved := sess.consents[clientID]
	if approved == nil {
		approved = make(map[string]bool)
		sess.consents[clientID] = approved
	}
	for _, sc := range scopes {
		approved[sc] = true
	}
	s.stats.Authorizations++
	s.statsChangedLocked()
	s.mu.Unlock()
	return sess.user, nil
}

func (s *Server) consented(sess *session, clientID string, scopes []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sess.consented(clientID, scopes)
}

func (s *Server) checkPassword(user, password string) bool {
	want, ok := s.opts.Users[user]
	// Compare even for unknown users so timing does not reveal which exist.
	eq := subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1
	return ok && eq
}

func (s *Server) sessionCookie() string { return "sandbox_session_" + s.cookieSuffix }
func (s *Server) csrfCookie() string    { return "sandbox_csrf_" + s.cookieSuffix }

// session returns the browser's session, or nil.
func (s *Server) session(r *http.Request) *session {
	c, err := r.Cookie(s.sessionCookie())
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[c.Value]
}

func (s *Server) newSession(w http.ResponseWriter, r *http.Request, user string) *session {
	id := randomToken(32)
	sess := &session{user: user, consents: make(map[string]map[string]bool)}
	s.mu.Lock()
	s.sessions[id] = sess
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookie(), Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	return sess
}

// csrfToken returns the browser's double-submit token, setting the cookie
// if the browser has none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.csrfCookie()); err == nil && len(c.Value) == 64 {
		return c.Value
	}
	v := randomToken(32)
	http.SetCookie(w, &http.Cookie{Name: s.csrfCookie(), Value: v, Path: "/authorize", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	return v
}

func (s *Server) csrfOK(r *http.Request) bool {
	c, err := r.Cookie(s.csrfCookie())
	if err != nil || c.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) == 1
}

type hiddenField struct{ Name, Value string }

type loginPage struct {
	ClientID     string
	Scopes       []string
	RedirectHost string
	Error        string
	NeedLogin    bool
	User         string // signed-in user, when NeedLogin is false
	Username     string // prefill after a failed attempt
	Hidden       []hiddenField
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, sess *session, needLogin bool, msg string, status int) {
	page := loginPage{
		ClientID:  r.Form.Get("client_id"),
		Scopes:    strings.Fields(r.Form.Get("scope")),
		Error:     msg,
		NeedLogin: needLogin,
		Username:  r.PostForm.Get("username"),
	}
	if u, err := url.Parse(r.Form.Get("redirect_uri")); err == nil {
		page.RedirectHost = u.Host
	}
	if sess != nil {
		page.User = sess.user
	}
	for _, k := range authParams {
		if v := r.Form.Get(k); v != "" {
			page.Hidden = append(page.Hidden, hiddenField{k, v})
		}
	}
	page.Hidden = append(page.Hidden, hiddenField{"csrf", s.csrfToken(w, r)})
	if needLogin {
		page.Hidden = append(page.Hidden, hiddenField{"login", "1"})
	}
	writeHTML(w, status, loginTemplate.Get(), page)
}

func (s *Server) renderProblem(w http.ResponseWriter, status int, title, detail string) {
	writeHTML(w, status, problemTemplate.Get(), struct{ Title, Detail string }{title, detail})
}

func writeHTML(w http.ResponseWriter, status int, t *template.Template, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	// No form-action: browsers apply it to the redirect to the client.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = t.Execute(w, data)
}

// redirectError sends an authorization error to the (already validated)
// redirect URI, with the state.
func redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string) {
	u, _ := url.Parse(redirectURI) // validated by redirectAllowed
	q := u.Query()
	q.Set("error", code)
	if desc != "" {
		q.Set("error_description", desc)
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// isLoopbackHTTP reports whether uri is an http URI on a loopback host.
func isLoopbackHTTP(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.Fragment != "" || u.User != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return `"` + s + `"`
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	writeHTML(w, http.StatusOK, indexTemplate.Get(), struct{ Base, ClientID string }{baseURL(r), s.opts.ClientID})
}

const pageStyle = `<style>
body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1d2330}
main{max-width:26rem;margin:3rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin-top:0}.note{color:#6b7280;font-size:.85rem}
.error{background:#fde8e8;color:#9b1c1c;padding:.5rem .75rem;border-radius:4px}
label{display:block;margin:.75rem 0}input[type=text],input[type=password]{display:block;width:100%;box-sizing:border-box;padding:.4rem}
button{padding:.45rem 1.2rem;margin-right:.5rem;font-size:1rem}code{background:#f0f1f3;padding:0 .2rem}
</style>`

var loginTemplate = lazy.Value[*template.Template]{New: func() *template.Template {
	return template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in · scriptrun sandbox</title>` + pageStyle + `</head>
<body><main>
<h1>scriptrun sandbox</h1>
<p class="note">A test authorization server. Do not enter real credentials.</p>
<form id="authorize" method="post" action="/authorize">
<p><strong>{{.ClientID}}</strong> wants to access your account{{if .Scopes}} with these permissions:{{else}}.{{end}}</p>
{{if .Scopes}}<ul>{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if .NeedLogin}}<label>Username <input type="text" name="username" value="{{.Username}}" autocomplete="username" autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
{{else}}<p>Signed in as <strong>{{.User}}</strong>.</p>
{{end}}{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<p class="note">Either way you will be sent back to {{.RedirectHost}}.</p>
<button type="submit" name="action" value="allow">Allow</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>
</main></body></html>
`))
}}

var problemTemplate = lazy.Value[*template.Template]{New: func() *template.Template {
	return template.Must(template.New("problem").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · scriptrun sandbox</title>` + pageStyle + `</head>
<body><main><h1>{{.Title}}</h1><p class="error" role="alert">{{.Detail}}</p></main></body></html>
`))
}}

var indexTemplate = lazy.Value[*template.Template]{New: func() *template.Template {
	return template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>scriptrun sandbox</title>` + pageStyle + `</head>
<body><main><h1>scriptrun sandbox</h1>
<p>A test OAuth2 authorization server and JSON API for scriptrun. Not for production use.</p>
<ul>
<li>Authorization: <code>{{.Base}}/authorize</code></li>
<li>Token: <code>{{.Base}}/token</code></li>
<li>Revocation: <code>{{.Base}}/revoke</code></li>
<li>API: <code>{{.Base}}/api/me</code>, <code>/api/items?n=3</code>, <code>/api/echo</code>, <code>/api/slow?ms=500</code></li>
<li>Client ID: <code>{{.ClientID}}</code></li>
</ul></main></body></html>
`))
}}
