package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"
	xoauth2 "golang.org/x/oauth2"
)

// Client authentication styles accepted by the token and revocation endpoints.
const (
	AuthStyleHeader = "header" // client_secret_basic: HTTP Basic auth
	AuthStyleBody   = "body"   // client_secret_post: client_id and client_secret in the form body
)

// Defaults used by Start for zero Options fields.
const (
	DefaultClientID     = "sandbox-client"
	DefaultClientSecret = "sandbox-secret"
	DefaultAccessTTL    = time.Hour
)

// Options configures a sandbox. The zero value is usable: one client
// (DefaultClientID / DefaultClientSecret) authenticating with HTTP Basic,
// any loopback redirect URI, one-hour access tokens, non-expiring rotating
// refresh tokens, and the user "demo" with password "demo".
type Options struct {
	// Addr is the loopback address to listen on; empty means 127.0.0.1:0.
	// Start refuses any address that is not a loopback IP.
	Addr string

	// ClientID and ClientSecret identify the single registered client.
	ClientID, ClientSecret string

	// RedirectURIs are the allowed redirect URIs, matched exactly. When
	// empty, any http URI on a loopback host (127.0.0.1, ::1, localhost) is
	// allowed, with any port and path.
	RedirectURIs []string

	// AccessTTL is the access-token lifetime; zero means DefaultAccessTTL.
	// It must be at least one second because expires_in is sent in whole
	// seconds (rounded down). The library reads the wall clock; to expire
	// tokens without waiting, call Server.ExpireAccessTokens.
	AccessTTL time.Duration

	// RefreshTTL is the refresh-token lifetime; zero means refresh tokens
	// never expire (they still die on rotation or revocation).
	RefreshTTL time.Duration

	// KeepRefreshTokens turns refresh-token rotation off. By default every
	// refresh returns a new refresh token and the presented one stops
	// working (invalid_grant). With KeepRefreshTokens the same refresh token
	// stays valid and refresh responses carry no refresh_token at all (as
	// Google does), so clients must keep the one they have.
	KeepRefreshTokens bool

	// AuthStyle is the only client authentication the token and revocation
	// endpoints accept: AuthStyleHeader (default) or AuthStyleBody. Any
	// other presentation, including both at once, is invalid_client (401).
	AuthStyle string

	// RequirePKCE rejects authorization requests without an S256
	// code_challenge and code exchanges without a code_verifier. Whether or
	// not it is set, a code issued with a challenge is only exchanged with
	// the matching verifier, and the "plain" method is always refused.
	RequirePKCE bool

	// Users maps usernames to passwords for the login page; empty means
	// {"demo": "demo"}.
	Users map[string]string
}

// Stats counts what the sandbox has seen since Start. Every field only grows.
type Stats struct {
	// TokenRequests counts token-endpoint requests by grant_type
	// ("authorization_code", "refresh_token", "client_credentials", or
	// "other"), whatever their outcome, including those a fault hook answered.
	TokenRequests map[string]int
	// RefreshRequests counts refresh_token grant requests (the same number
	// as TokenRequests["refresh_token"]).
	RefreshRequests int
	// RefreshTokenReuse counts refresh requests presenting a refresh token
	// that an earlier refresh request had already redeemed successfully.
	// With rotation that is a client bug (the request fails with
	// invalid_grant, but is still counted); with KeepRefreshTokens it is
	// normal and every refresh after the first counts.
	RefreshTokenReuse int
	// FailedRequests counts token-endpoint requests the sandbox answered
	// with an OAuth error (4xx/5xx); responses from a fault hook are not
	// included.
	FailedRequests int
	// InjectedFaults counts token-endpoint requests a fault hook handled.
	InjectedFaults int
	// Authorizations counts authorization requests approved by the user
	// (each produced an authorization code).
	Authorizations int
	// Revocations counts successful RFC 7009 revocation requests.
	Revocations int
	// APICalls counts requests to /api/, authorized or not.
	APICalls int
	// APIRejected counts /api/ requests refused with 401.
	APIRejected int
	// APICancelled counts /api/slow requests whose context was cancelled
	// (the client went away) before the wait was over.
	APICancelled int
}

// Server is a running sandbox: an OAuth2 authorization server with a login
// page and a bearer-protected JSON API on a loopback port. All methods are
// safe for concurrent use.
type Server struct {
	opts     Options
	oauth    *server.Server
	tokens   *tokenStore
	handler  http.Handler
	http     *http.Server
	url      string
	served   chan struct{}
	closeErr error
	once     sync.Once

	// cookieSuffix keeps the cookies of several sandboxes on 127.0.0.1
	// apart: browsers scope cookies by host, not by port.
	cookieSuffix string

	// grantMu serializes token grants and revocations. The library loads a
	// refresh token or code and deletes it later without a lock, so two
	// concurrent requests could both redeem it; a real server must not
	// allow that, and tests rely on exactly one winner.
	grantMu  sync.Mutex
	redeemed map[string]struct{} // refresh tokens redeemed at least once; under grantMu

	mu           sync.Mutex // guards the fields below
	stats        Stats
	statsChanged chan struct{} // closed at the next change of stats, for WaitStats; nil when no one waits
	fault        func(w http.ResponseWriter, r *http.Request) bool
	sessions     map[string]*session
}

// Start validates opts, builds the authorization server and serves it on
// a loopback port until Close.
func Start(opts Options) (*Server, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	addr := s.opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("sandbox: address %q is not a loopback IP; the sandbox only listens on loopback", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // nothing is logged, secrets included
	}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return s, nil
}

func newServer(opts Options) (*Server, error) {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.AuthStyle == "" {
		opts.AuthStyle = AuthStyleHeader
	}
	if opts.AuthStyle != AuthStyleHeader && opts.AuthStyle != AuthStyleBody {
		return nil, fmt.Errorf("sandbox: AuthStyle %q: want %q or %q", opts.AuthStyle, AuthStyleHeader, AuthStyleBody)
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = DefaultAccessTTL
	}
	if opts.AccessTTL < time.Second {
		return nil, fmt.Errorf("sandbox: AccessTTL %v: must be at least 1s (expires_in is in whole seconds)", opts.AccessTTL)
	}
	if opts.RefreshTTL < 0 {
		return nil, fmt.Errorf("sandbox: RefreshTTL %v is negative", opts.RefreshTTL)
	}
	if len(opts.Users) == 0 {
		opts.Users = map[string]string{"demo": "demo"}
	} else {
		opts.Users = maps.Clone(opts.Users)
	}
	opts.RedirectURIs = append([]string(nil), opts.RedirectURIs...)

	s := &Server{
		opts:         opts,
		tokens:       newTokenStore(),
		cookieSuffix: randomToken(4),
		redeemed:     make(map[string]struct{}),
		sessions:     make(map[string]*session),
		stats:        Stats{TokenRequests: make(map[string]int)},
	}

	rotate := !opts.KeepRefreshTokens
	m := manage.NewDefaultManager()
	m.SetAuthorizeCodeTokenCfg(&manage.Config{AccessTokenExp: opts.AccessTTL, RefreshTokenExp: opts.RefreshTTL, IsGenerateRefresh: true})
	m.SetClientTokenCfg(&manage.Config{AccessTokenExp: opts.AccessTTL})
	m.SetRefreshTokenCfg(&manage.RefreshingConfig{
		AccessTokenExp:     opts.AccessTTL,
		RefreshTokenExp:    opts.RefreshTTL,
		IsGenerateRefresh:  rotate, // a new refresh token on every refresh...
		IsRemoveRefreshing: rotate, // ...and the old one deleted
		IsResetRefreshTime: rotate, // a rotated token gets a full RefreshTTL
		IsRemoveAccess:     true,   // the previous access token dies on refresh
	})
	m.SetValidateURIHandler(func(_, redirectURI string) error {
		if !s.redirectAllowed(redirectURI) {
			return oerrors.ErrInvalidRedirectURI
		}
		return nil
	})
	m.MapTokenStorage(s.tokens)
	clients := store.NewClientStore()
	domain := "http://127.0.0.1"
	if len(opts.RedirectURIs) > 0 {
		domain = opts.RedirectURIs[0]
	}
	_ = clients.Set(opts.ClientID, &client{models.Client{ID: opts.ClientID, Secret: opts.ClientSecret, Domain: domain}})
	m.MapClientStorage(clients)

	srv := server.NewServer(&server.Config{
		TokenType:            "Bearer",
		AllowedResponseTypes: []oauth2.ResponseType{oauth2.Code},
		AllowedGrantTypes:    []oauth2.GrantType{oauth2.AuthorizationCode, oauth2.Refreshing, oauth2.ClientCredentials},
		// "plain" must stay allowed here: the library defaults a missing
		// method to plain even when no challenge is sent. serveAuthorize
		// refuses plain itself.
		AllowedCodeChallengeMethods: []oauth2.CodeChallengeMethod{oauth2.CodeChallengeS256, oauth2.CodeChallengePlain},
		ForcePKCE:                   opts.RequirePKCE,
	}, m)
	srv.ClientInfoHandler = s.authenticateClient
	srv.UserAuthorizationHandler = s.authorizeUser
	srv.PasswordAuthorizationHandler = func(context.Context, string, string, string) (string, error) {
		return "", oerrors.ErrUnsupportedGrantType
	}
	srv.RefreshingScopeHandler = func(tgr *oauth2.TokenGenerateRequest, oldScope string) (bool, error) {
		return scopeSubset(tgr.Scope, oldScope), nil
	}
	srv.AccessTokenResolveHandler = bearerToken
	srv.InternalErrorHandler = internalError
	srv.ResponseErrorHandler = fixErrorStatus
	srv.ResponseTokenHandler = writeTokenResponse
	s.oauth = srv
	s.handler = s.routes()
	return s, nil
}

// Close stops the listener and closes all connections, which cancels the
// requests in flight. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		err := s.http.Close()
		<-s.served
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.closeErr = fmt.Errorf("sandbox: close: %w", err)
		}
		s.tokens.revokeAll()
	})
	return s.closeErr
}

// URL returns the base URL, http://127.0.0.1:PORT, without a trailing slash.
// Token responses carry it as "instance_url".
func (s *Server) URL() string { return s.url }

// AuthURL returns the authorization endpoint (the login page).
func (s *Server) AuthURL() string { return s.url + "/authorize" }

// TokenURL returns the token endpoint.
func (s *Server) TokenURL() string { return s.url + "/token" }

// RevocationURL returns the RFC 7009 revocation endpoint.
func (s *Server) RevocationURL() string { return s.url + "/revoke" }

// APIURL returns the base of the JSON API, ending in "/api".
func (s *Server) APIURL() string { return s.url + "/api" }

// Endpoint returns the endpoints and the AuthStyle matching Options.AuthStyle,
// ready for an oauth2.Config.
func (s *Server) Endpoint() xoauth2.Endpoint {
	style := xoauth2.AuthStyleInHeader
	if s.opts.AuthStyle == AuthStyleBody {
		style = xoauth2.AuthStyleInParams
	}
	return xoauth2.Endpoint{AuthURL: s.AuthURL(), TokenURL: s.TokenURL(), AuthStyle: style}
}

// ClientID returns the registered client's ID.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret returns the registered client's secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Handler returns the sandbox's routes, the same ones served at URL(), for
// putting the sandbox behind another listener (httptest.NewTLSServer, a
// middleware). Paths: /authorize, /token, /revoke, /api/...,
// /.well-known/oauth-authorization-server. URLs in responses, such as
// instance_url, follow the request's Host.
func (s *Server) Handler() http.Handler { return s.handler }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.TokenRequests = maps.Clone(s.stats.TokenRequests)
	return st
}

// WaitStats waits until cond holds for the server's counters and returns
// them; it is woken by each change, so tests need not poll or sleep. It
// gives up with ctx's error, returning the counters as they last were.
func (s *Server) WaitStats(ctx context.Context, cond func(Stats) bool) (Stats, error) {
	for {
		st := s.Stats()
		if cond(st) {
			return st, nil
		}
		s.mu.Lock()
		if s.statsChanged == nil {
			s.statsChanged = make(chan struct{})
		}
		changed := s.statsChanged
		s.mu.Unlock()
		// A change between Stats and here closed no channel yet seen, so
		// look once more before waiting.
		if st2 := s.Stats(); cond(st2) {
			return st2, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return s.Stats(), ctx.Err()
		}
	}
}

// statsChangedLocked wakes WaitStats. Called with s.mu held, after a
// change of s.stats.
func (s *Server) statsChangedLocked() {
	if s.statsChanged != nil {
		close(s.statsChanged)
		s.statsChanged = nil
	}
}

// SetTokenFault installs a hook that sees every token-endpoint request
// before the authorization server does; nil removes it. If the hook returns
// true it has answered the request (a 503, an HTML page, truncated JSON, a
// slow response...) and the server does nothing more. The hook may read
// r.Body or call r.ParseForm: it gets its own copy of the body. It runs
// concurrently for concurrent requests.
func (s *Server) SetTokenFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// RevokeAll revokes every authorization code, access token and refresh
// token, and forgets every consent (users stay signed in to the login
// page). The next refresh fails with invalid_grant and the API answers 401.
func (s *Server) RevokeAll() {
	s.grantMu.Lock()
	defer s.grantMu.Unlock()
	s.tokens.revokeAll()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		clear(sess.consents)
	}
}

// RevokeToken revokes one refresh token (with the access token issued
// alongside it) or one access token, as the revocation endpoint does. It
// reports whether the token was known.
func (s *Server) RevokeToken(token string) bool {
	s.grantMu.Lock()
	defer s.grantMu.Unlock()
	return s.tokens.revoke(token)
}

// ExpireAccessTokens makes every access token issued so far expired, as if
// AccessTTL had passed, so tests need not sleep. Refresh tokens keep
// working. Clients still believe their tokens valid until expires_in
// passes: the API answers 401 invalid_token.
func (s *Server) ExpireAccessTokens() {
	s.tokens.expireAccess(time.Now())
}

func (s *Server) count(f func(st *Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
	s.statsChangedLocked()
}

// client is the registered client; it compares secrets in constant time
// (the library's models.Client would use !=).
type client struct{ models.Client }

// VerifyPassword implements oauth2.ClientPasswordVerifier.
func (c *client) VerifyPassword(secret string) bool {
	return subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) == 1
}

// redirectAllowed reports whether uri may receive authorization responses.
func (s *Server) redirectAllowed(uri string) bool {
	if uri == "" {
		return false
	}
	if len(s.opts.RedirectURIs) > 0 {
		for _, u := range s.opts.RedirectURIs {
			if u == uri {
				return true
			}
		}
		return false
	}
	return isLoopbackHTTP(uri)
}

func scopeSubset(requested, granted string) bool {
	have := strings.Fields(granted)
	for _, sc := range strings.Fields(requested) {
		found := false
		for _, g := range have {
			if g == sc {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// randomToken returns n random bytes, hex-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
