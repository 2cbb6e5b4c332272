package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/templates"
	"github.com/scriptrun/scriptrun/tokens"
)

// DB is the store the console reads and writes; *store.DB implements it.
// Transactions are short: no handler waits on anything inside one.
type DB interface {
	View(fn func(*store.Tx) error) error
	Update(fn func(*store.Tx) error) error
}

// TokenManager runs the token operations the console offers; *tokens.Manager
// implements it. The console stores tokens only through it, as scripts do.
type TokenManager interface {
	// Authorize builds the provider's authorization URL for the named token.
	Authorize(name, redirectURI string) (*tokens.Authorization, error)
	// Complete finishes an authorization with the callback's query.
	Complete(ctx context.Context, a *tokens.Authorization, q url.Values) (store.Token, error)
	// Refresh refreshes the named token now.
	Refresh(ctx context.Context, name string) (store.Token, error)
	// Revoke revokes the named token at its provider (when it can) and
	// erases its stored credential.
	Revoke(ctx context.Context, name string, opts tokens.RevokeOptions) (tokens.Revocation, error)
	// Check sends one request signed with the named token and says how
	// the API answered (the Test button).
	Check(ctx context.Context, name string, cr tokens.CheckRequest) (tokens.CheckResult, error)
}

var (
	_ DB           = (*store.DB)(nil)
	_ TokenManager = (*tokens.Manager)(nil)
)

// Options configure a Server. DB, Tokens and CallbackURL are required.
type Options struct {
	DB     DB
	Tokens TokenManager
	// CallbackURL is the redirect URI registered at providers; the console
	// answers it at /oauth/callback (a proxy may map another public path there).
	CallbackURL string
	// AllowedHosts are the names the console answers to in the Host header
	// besides the callback URL's host: host or host:port entries as
	// ParseAllowedHosts reads them (serve passes its listening address's
	// names and --allowed-host). A request for any other name is refused
	// with 421 before any page, against DNS rebinding.
	AllowedHosts []string
	// SecureCookies marks cookies Secure (with the __Host- prefix): set it
	// when browsers reach the console over HTTPS, directly or through a proxy.
	SecureCookies bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives who did what; never a secret (default: discard).
	Logger *slog.Logger
	// SessionTTL bounds a session's life (default 12 h); SessionIdle ends a
	// session unused for that long (default 2 h).
	SessionTTL, SessionIdle time.Duration
	// LoginDelay is the first delay after repeated failed sign-ins from one
	// address (default 1 s); it doubles per failure up to MaxLoginDelay
	// (default 1 min).
	LoginDelay, MaxLoginDelay time.Duration
	// Cron is the scheduler behind the cron pages' Run now, Cancel and
	// edits (see Scheduler). Nil: the pages still list, edit and show jobs
	// and their runs from the store, and say that nothing runs them here.
	Cron Scheduler
	// Templates loads the provider templates that the New provider form
	// offers (templates.Load of the home's templates folder); it is called
	// for each form, so templates added meanwhile appear. Nil: none.
	Templates func() (*templates.Set, error)
	// Notify sends the Notifications page's test events (serve's delivery
	// worker). Nil: the page lists and edits notifiers but cannot test.
	Notify Notifications
	// Command is how the console writes a scriptrun command it suggests,
	// with the --home of the serve that runs it (so a copied hint acts on
	// the same home), e.g. "scriptrun --home /srv/scriptrun". Empty:
	// "scriptrun".
	Command string
}

// Server is the console. It is an http.Handler, safe for concurrent use.
type Server struct {
	db        DB
	tokens    TokenManager
	cron      Scheduler
	notify    Notifications
	templates func() (*templates.Set, error)
	command   string // Options.Command
	callback  string
	hosts     *AllowedHosts
	secure    bool
	now       func() time.Time
	log       *slog.Logger

	sessions *sessionStore
	pending  *pendingStore
	throttle *throttle
	verify   chan struct{} // slots for password hashing (64 MiB each)
	// checkHash is store.CheckAdminPassword; tests of the sign-in delays
	// swap in a fast one.
	checkHash func(hash, password string) (bool, error)

	reconnect *reconnect // reconnect links (reconnect.go)

	mu    sync.Mutex
	setup string // one-time setup token while no password is set; "" after

	pages   map[string]*template.Template
	assets  map[string]asset
	nav     []navItem
	handler http.Handler
}

var _ http.Handler = (*Server)(nil)

// New builds the console. When no admin password is set yet it creates the
// one-time setup token that SetupPath returns.
func New(opts Options) (*Server, error) {
	if opts.DB == nil || opts.Tokens == nil {
		return nil, errors.New("web: Options.DB and Options.Tokens are required")
	}
	cb, err := url.Parse(opts.CallbackURL)
	if err != nil || (cb.Scheme != "http" && cb.Scheme != "https") || cb.Host == "" {
		return nil, fmt.Errorf("web: callback URL %q is not an absolute http(s) URL", opts.CallbackURL)
	}
	// The callback URL's host is always served: the provider sends the
	// admin's browser back there.
	hosts, err := ParseAllowedHosts(append([]string{cb.Host}, opts.AllowedHosts...)...)
	if err != nil {
		return nil, err
	}
	s := &Server{
		db:        opts.DB,
		tokens:    opts.Tokens,
		cron:      opts.Cron,
		notify:    opts.Notify,
		templates: opts.Templates,
		callback:  opts.CallbackURL,
		command:   cmp.Or(opts.Command, "scriptrun"),
		hosts:     hosts,
		secure:    opts.SecureCookies,
		now:       opts.Now,
		log:       opts.Logger,
		verify:    make(chan struct{}, 2),

		checkHash: store.CheckAdminPassword,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// Sessions and pending authorizations live in the store, shared by
	// every node (session.go, authorize.go).
	db, ok := opts.DB.(interface{ Ephemeral() *store.Ephemeral })
	if !ok {
		return nil, errors.New("web: Options.DB must keep ephemeral state (a *store.DB)")
	}
	eph := db.Ephemeral()
	s.pending = newPendingStore(eph, s.log, s.now)
	s.sessions = newSessionStore(eph, s.log, s.now, orDefault(opts.SessionTTL, 12*time.Hour), orDefault(opts.SessionIdle, 2*time.Hour))
	s.throttle = newThrottle(eph, s.log, s.now, orDefault(opts.LoginDelay, time.Second), orDefault(opts.MaxLoginDelay, time.Minute))

	if err := s.db.View(func(tx *store.Tx) error {
		_, err := tx.AdminPassword()
		return err
	}); errors.Is(err, store.ErrNotFound) {
		if s.setup, err = sharedSetupToken(eph); err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("web: read the admin password: %w", err)
	}

	if s.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if s.pages, err = s.loadPages(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// SetupPath returns the one-time setup link's path and query while no admin
// password has been set through it, else "". `scriptrun serve` prints it.
func (s *Server) SetupPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.setup == "" {
		return ""
	}
	return "/setup?token=" + s.setup
}

// ServeHTTP serves the console.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// section is one area of the console: its navigation entry and its routes.
type section struct {
	label  string // navigation text
	path   string // where the entry points; pages under it mark it current
	routes func(mux *http.ServeMux)
}

// sections lists the console's areas in navigation order. Adding one is a
// file with a method returning its section, and a line here.
func (s *Server) sections() []section {
	return []section{s.tokenSection(), s.providerSection(), s.cronSection(), s.notifySection()}
}

type navItem struct{ Label, Path string }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/{file}", s.serveAsset)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("file", "favicon.svg")
		s.serveAsset(w, r)
	})
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /setup", s.setupPage)
	mux.HandleFunc("POST /setup", s.setupPassword)
	mux.HandleFunc("POST /logout", s.signedIn(s.logout))
	mux.HandleFunc("GET /oauth/callback", s.oauthCallback)
	s.reconnectRoutes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	for _, sec := range s.sections() {
		s.nav = append(s.nav, navItem{Label: sec.label, Path: sec.path})
		sec.routes(mux)
	}
	first := s.nav[0].Path
	mux.HandleFunc("GET /{$}", s.signedIn(func(w http.ResponseWriter, r *http.Request, _ *session) error {
		http.Redirect(w, r, first, http.StatusSeeOther)
		return nil
	}))
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, s.sessionOf(r), &pageError{Status: http.StatusNotFound, Title: "Page not found", Msg: "There is no page at this address."})
	})

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path, "remote", clientAddr(r))
		s.fail(w, r, nil, &pageError{Status: http.StatusForbidden, Title: "Request refused", Msg: "This form was sent from another site. Open the console and submit it there."})
	}))
	// The Host check comes before any page, the callback, the static files
	// and the request log: a rebinding site gets nothing but the refusal.
	return s.recoverPanics(s.securityHeaders(s.hosts.Handler(s.logRequests(cop.Handler(mux)), s.log)))
}

// pageFunc handles a request from a signed-in admin. An error it returns is
// shown as an error page (a *pageError with its status, anything else 500).
type pageFunc func(w http.ResponseWriter, r *http.Request, sess *session) error

// maxForm bounds a form body; the largest real form is a few kilobytes,
// except the cron job form (maxJobForm).
const maxForm = 64 << 10

// signedIn wraps h so that it runs only with a valid session and, for a
// POST, a valid CSRF token. A GET without a session is sent to sign in.
func (s *Server) signedIn(h pageFunc) http.HandlerFunc { return s.signedInForm(maxForm, h) }

// signedInForm is signedIn for a form of up to limit bytes.
func (s *Server) signedInForm(limit int64, h pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.currentSession(w, r)
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		if sess == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.fail(w, r, nil, &pageError{Status: http.StatusForbidden, Title: "Sign in first", Msg: "Your session has ended. Sign in and try again."})
			return
		}
		if r.Method == http.MethodPost {
			if err := parseFormLimit(w, r, limit); err != nil {
				s.fail(w, r, sess, err)
				return
			}
			if !sess.csrfOK(r.PostForm.Get("csrf")) {
				s.log.Warn("form refused: bad CSRF token", "path", r.URL.Path, "session", sess.logID(), "remote", clientAddr(r))
				s.fail(w, r, sess, &pageError{Status: http.StatusForbidden, Title: "Form expired", Msg: "This form is out of date or was not sent from the console. Reload the page and try again."})
				return
			}
		}
		if err := h(w, r, sess); err != nil {
			s.fail(w, r, sess, err)
		}
	}
}

func parseForm(w http.ResponseWriter, r *http.Request) error { return parseFormLimit(w, r, maxForm) }

// parseFormLimit reads a form of up to limit bytes.
func parseFormLimit(w http.ResponseWriter, r *http.Request, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &pageError{Status: http.StatusRequestEntityTooLarge, Title: "Form too large", Msg: "The form was larger than the console accepts."}
		}
		return &pageError{Status: http.StatusBadRequest, Title: "Bad form", Msg: "The form could not be read."}
	}
	return nil
}

// pageError is a failure shown to the admin with its own status and words.
type pageError struct {
	Status     int
	Title, Msg string
}

func (e *pageError) Error() string { return e.Title + ": " + e.Msg }

// fail shows err as an error page. Store and token errors are written for
// people and hold no secret, so their text is shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	var pe *pageError
	if !errors.As(err, &pe) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		pe = &pageError{Status: http.StatusInternalServerError, Title: "Something went wrong", Msg: err.Error()}
	}
	s.render(w, r, sess, pe.Status, "error", view{Title: pe.Title, Data: pe})
}

func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp(nil))
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// csp is the Content-Security-Policy: nothing inline, only the console's own
// stylesheet and script. formAction adds origins a form may lead to: the
// "Get authorization token" form answers with a redirect to the provider,
// which browsers check against form-action.
func csp(formAction []string) string {
	fa := "'self'"
	for _, o := range formAction {
		fa += " " + o
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action " + fa + "; frame-ancestors 'none'; base-uri 'none'"
}

// statusRecorder remembers the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logRequests logs each request's method, path (never the query, which may
// hold a code, a state or the setup token), status and duration.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/healthz" || r.URL.Path == "/favicon.ico" {
			level = slog.LevelDebug
		}
		s.log.Log(r.Context(), level, "http", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"ms", float64(time.Since(start).Microseconds())/1000, "remote", clientAddr(r))
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// clientAddr is the client's IP address, without the port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// seeOther redirects after a POST, so reloading the page does not resend it.
func seeOther(w http.ResponseWriter, r *http.Request, path string) error {
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}
