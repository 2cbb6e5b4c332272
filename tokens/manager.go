package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/scriptrun/scriptrun/store"
)

// Options configure a Manager. DB is required.
type Options struct {
	DB *store.DB
	// Client sends token-endpoint requests (default: 30 s timeout).
	Client *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives refresh events; it never sees a secret (default: discard).
	Logger *slog.Logger
	// CacheTTL is how long a token read from the store is trusted before it is
	// read again, so edits such as deactivation reach running scripts
	// (default 2 s).
	CacheTTL time.Duration
	// RefreshTimeout bounds one refresh, independently of the caller's
	// context (default 30 s).
	RefreshTimeout time.Duration
}

// Manager signs requests with stored tokens and keeps them fresh. It is safe
// for concurrent use; every process sharing a home may have its own.
type Manager struct {
	db             *store.DB
	client         *http.Client
	now            func() time.Time
	log            *slog.Logger
	cacheTTL       time.Duration
	refreshTimeout time.Duration

	mu      sync.Mutex
	cache   map[string]*entry
	loads   map[string]*loading
	flights map[string]*flight
	flying  sync.WaitGroup // refreshes and last-use records in progress

	// hook, when set (by tests), is told each step of a refresh: "sending",
	// "received", "saved". The crash test kills processes between them.
	hook func(step string)
}

// entry is what signing needs of a token, as read from the store.
type entry struct {
	token         store.Token
	binding       *binding // where the token may be sent (origin, path prefix); nil = anywhere
	readAt        time.Time
	authorization string // the Authorization header value, for the types with a fixed one
	// fetch: an oauth2 token of a client_credentials provider, which has no
	// authorization step: it is fetched when it holds no access token.
	fetch bool
}

// New returns a Manager over opts.DB.
func New(opts Options) *Manager {
	m := &Manager{
		db:             opts.DB,
		client:         opts.Client,
		now:            opts.Now,
		log:            opts.Logger,
		cacheTTL:       opts.CacheTTL,
		refreshTimeout: opts.RefreshTimeout,
		cache:          make(map[string]*entry),
		loads:          make(map[string]*loading),
		flights:        make(map[string]*flight),
	}
	if m.client == nil {
		m.client = &http.Client{Timeout: 30 * time.Second}
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.cacheTTL <= 0 {
		m.cacheTTL = 2 * time.Second
	}
	if m.refreshTimeout <= 0 {
		m.refreshTimeout = 30 * time.Second
	}
	return m
}

// Sign puts the named token's credential on req (see types.go for how each
// type does it). An oauth2 token is refreshed first when it has expired or is
// inside the refresh margin, or fetched when its provider uses the
// client_credentials grant and it holds no access token yet. Sign refuses
// (with an *Error) a token that is missing, inactive, not authorized, bound
// to another host or path than req's, or a static credential past its
// expiry, and a request whose Host header is not its URL's host.
func (m *Manager) Sign(ctx context.Context, name string, req *http.Request) error {
	e, err := m.lookup(name)
	if err != nil {
		return err
	}
	if err := checkHost(e, req.URL); err != nil {
		return err
	}
	if err := checkHostHeader(name, req); err != nil {
		return err
	}
	if e.token.Static() {
		if err := m.unexpired(e.token); err != nil {
			return err
		}
		return e.sign(req, m.now())
	}
	if (e.fetch && e.token.Secret.AccessToken == "") || (m.needsRefresh(e.token) && !m.coolingDown(e.token)) {
		if e, err = m.refresh(ctx, name, false, ""); err != nil {
			return err
		}
	}
	return e.sign(req, m.now())
}

// Rejected reports that the API answered 401 to req, which Sign signed with
// the named token. Unless the token has changed since (another caller already
// refreshed it), an oauth2 token is refreshed (or fetched again) now. A static
// credential has nothing to refresh: its cached copy is dropped, so the retry
// uses what is stored now (an admin may just have replaced it). The caller
// signs again and retries once.
func (m *Manager) Rejected(ctx context.Context, name string, req *http.Request) error {
	if e, err := m.lookup(name); err != nil {
		return err
	} else if e.token.Static() {
		m.forget(name)
		return nil
	}
	used := req.Header.Get("Authorization")
	_, access, _ := strings.Cut(used, " ")
	if access == "" {
		return newError(CodeRefreshFailed, name, nil, "token %q: the rejected request carried no credential", name)
	}
	_, err := m.refresh(ctx, name, false, access)
	return err
}

// Refresh refreshes the named token now, whatever its expiry, and returns it
// as stored: an authorization-code token with its refresh token, a
// client-credentials token by fetching a new one. Static credentials are
// refused with CodeUnsupportedGrant. It is what `scriptrun token refresh` runs.
func (m *Manager) Refresh(ctx context.Context, name string) (store.Token, error) {
	e, err := m.lookup(name)
	if err != nil {
		return store.Token{}, err
	}
	if e.token.Static() {
		return store.Token{}, notRefreshable(e.token)
	}
	e, err = m.refresh(ctx, name, true, "")
	if err != nil {
		return store.Token{}, err
	}
	return e.token, nil
}

// lookup returns the token from the cache, or from the store when the cached
// copy is older than CacheTTL, refusing tokens that cannot be used. Callers
// that miss the cache together share one store read.
func (m *Manager) lookup(name string) (*entry, error) {
	now := m.now()
	m.mu.Lock()
	if e := m.cache[name]; e != nil && now.Sub(e.readAt) < m.cacheTTL && !now.Before(e.readAt) {
		m.mu.Unlock()
		return e, usable(e.token, e.fetch)
	}
	l := m.loads[name]
	if l == nil {
		l = &loading{done: make(chan struct{})}
		m.loads[name] = l
		m.mu.Unlock()
		l.e, l.err = m.load(name)
		m.mu.Lock()
		delete(m.loads, name)
		m.mu.Unlock()
		close(l.done)
	} else {
		m.mu.Unlock()
		<-l.done
	}
	if l.err != nil {
		return nil, l.err
	}
	return l.e, usable(l.e.token, l.e.fetch)
}

// loading is one store read of a token that concurrent callers share.
type loading struct {
	done chan struct{}
	e    *entry
	err  error
}

// load reads the token from the store and caches it. It also records, at most
// once a minute, that the token was used.
func (m *Manager) load(name string) (*entry, error) {
	var e *entry
	err := m.db.View(func(tx *store.Tx) error {
		t, err := tx.Token(name)
		if err != nil {
			return err
		}
		fetch := false
		if t.Type == store.TypeOAuth2 {
			// The grant decides whether an empty token is fetched. A
			// provider that cannot be read is noticed when a refresh needs
			// it; a valid access token still signs meanwhile.
			if p, err := tx.Provider(t.Provider); err == nil {
				fetch = p.GrantType == store.GrantClientCredentials
			}
		}
		e, err = newEntry(t, fetch, m.now())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		m.forget(name)
		return nil, newError(CodeNotFound, name, err, "token %q does not exist: create it with `scriptrun token add %s --provider NAME`, or check the name (`scriptrun token list`)", name, name)
	}
	if err != nil {
		m.forget(name)
		var te *Error
		if errors.As(err, &te) {
			return nil, te
		}
		return nil, newError(CodeStore, name, err, "token %q: %v", name, err)
	}
	m.mu.Lock()
	m.cache[name] = e
	m.mu.Unlock()
	if now := m.now(); now.Sub(e.token.LastUsed) > time.Minute && usable(e.token, e.fetch) == nil {
		// In the background: a durable write must not delay the request.
		m.flying.Add(1)
		go func() {
			defer m.flying.Done()
			m.touch(name, now)
		}()
	}
	return e, nil
}

func newEntry(t store.Token, fetch bool, now time.Time) (*entry, error) {
	e := &entry{token: t, readAt: now, authorization: authorizationOf(t), fetch: fetch}
	if t.BaseURL != "" {
		b, err := newBinding(t.BaseURL)
		if err != nil {
			return nil, newError(CodeStore, t.Name, err, "token %q has an unreadable base URL: fix it with `scriptrun token update %s --base-url URL`", t.Name, t.Name)
		}
		e.binding = b
	}
	return e, nil
}

// touch records the last use; a failure only costs the timestamp.
func (m *Manager) touch(name string, now time.Time) {
	err := m.db.Update(func(tx *store.Tx) error {
		t, err := tx.Token(name)
		if err != nil {
			return err
		}
		t.LastUsed = now.UTC()
		return tx.PutToken(t)
	})
	if err != nil {
		m.log.Warn("record token use", "token", name, "err", err)
	}
}

func (m *Manager) forget(name string) {
	m.mu.Lock()
	delete(m.cache, name)
	m.mu.Unlock()
}

// usable refuses tokens that must not sign anything. fetch marks a token of
// a client_credentials provider: it has no authorization step, so without an
// access token it is fetched rather than refused.
func usable(t store.Token, fetch bool) error {
	switch {
	case !t.Active:
		return newError(CodeInactive, t.Name, nil, "token %q is inactive: activate it with `scriptrun token update %s --active true`", t.Name, t.Name)
	case t.Static():
		if t.State != store.StateAuthorized || !t.Complete() {
			return noCredential(t)
		}
		return nil
	case fetch:
		return nil
	case t.State == store.StateReauthRequired:
		msg := fmt.Sprintf("token %q needs a new authorization", t.Name)
		if t.LastMessage != "" {
			msg += " (" + t.LastMessage + ")"
		}
		return newError(CodeReauthRequired, t.Name, nil, "%s: an admin must press \"Get authorization token\" again or run `scriptrun token authorize %s`", msg, t.Name)
	case t.State != store.StateAuthorized || t.Secret.AccessToken == "":
		return newError(CodeUnauthorized, t.Name, nil, "token %q has not been authorized yet: press \"Get authorization token\" in the console or run `scriptrun token authorize %s`", t.Name, t.Name)
	}
	return nil
}

// checkHost enforces token binding: a token with a base URL is only sent to
// that scheme, host and port, and when the base URL has a path, to paths
// under it (binding.go).
func checkHost(e *entry, u *url.URL) error {
	if e.binding == nil || e.binding.permits(u) {
		return nil
	}
	if !sameOrigin(e.binding.origin, u) {
		return newError(CodeHostMismatch, e.token.Name, nil, "token %q is for %s and will not be sent to %s: call its own host, or change the token's base URL", e.token.Name, origin(e.binding.origin), origin(u))
	}
	return newError(CodeHostMismatch, e.token.Name, nil, "token %q is for paths under %s and will not be sent to %s: call a path under its base URL (without \"..\", encoded slashes or other ambiguous forms), or change the token's base URL",
		e.token.Name, e.binding, quotePath(u))
}

// checkHostHeader refuses a request whose Host header names another host
// than its URL: a front that routes by Host (a shared ingress, a CDN) would
// deliver the credential to whichever tenant that header names.
func checkHostHeader(name string, req *http.Request) error {
	if req.Host == "" || sameAuthority(req.Host, req.URL) {
		return nil
	}
	return newError(CodeHostHeader, name, nil, "token %q: the request sets its Host header to %s, which is not the host of its URL (%s); a signed request goes to its URL's own host: remove the Host header",
		name, strconv.Quote(shorten(req.Host, 80)), origin(req.URL))
}

// sameAuthority reports whether a Host header value names u's host and port
// (the scheme's default port when it gives none).
func sameAuthority(host string, u *url.URL) bool {
	h := &url.URL{Scheme: u.Scheme, Host: host}
	return strings.EqualFold(h.Hostname(), u.Hostname()) && port(h) == port(u)
}

// quotePath renders u's origin and path for a message, without its query,
// which may carry secrets, and cut to a readable length.
func quotePath(u *url.URL) string {
	return origin(u) + shorten(u.EscapedPath(), 120)
}

// shorten cuts s to at most n bytes (on a rune boundary), marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.RuneStart(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	if len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// Permits reports whether the named token's credential may be sent to u:
// true for a token without a base URL, else only inside its binding. It
// refuses (false) a token that cannot be used at all. Bindings ask it on each
// redirect of a request Sign signed.
func (m *Manager) Permits(name string, u *url.URL) bool {
	e, err := m.lookup(name)
	if err != nil {
		return false
	}
	return checkHost(e, u) == nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

func origin(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + u.Host
}

// Margin is how long before expiry a token is refreshed: the smaller of five
// minutes and a tenth of its lifetime, so short-lived tokens are not
// refreshed on every call.
func Margin(t store.Token) time.Duration {
	margin := 5 * time.Minute
	if !t.LastRefreshed.IsZero() {
		if life := t.Expires.Sub(t.LastRefreshed); life > 0 && life/10 < margin {
			margin = life / 10
		}
	}
	return margin
}

// coolingDown reports whether a recent failed refresh should not be retried
// yet: while the access token still works, failures back off exponentially
// (1 s, 2 s, 4 s ... up to 5 min, with jitter) instead of hitting the
// provider on every call.
func (m *Manager) coolingDown(t store.Token) bool {
	if t.RefreshFailures == 0 || t.RefreshFailed.IsZero() {
		return false
	}
	now := m.now()
	if !now.Before(t.Expires) {
		return false // expired: only a refresh helps, try it
	}
	return now.Sub(t.RefreshFailed) < coolDown(t.Name, t.RefreshFailures)
}

// coolDown is 2^(failures-1) seconds, at most 5 minutes, stretched by up to
// 25 % of jitter derived from the token's name so that processes sharing a
// token agree and different tokens spread out.
func coolDown(name string, failures int) time.Duration {
	d := 5 * time.Minute
	if failures < 10 {
		d = min(d, time.Second<<(failures-1))
	}
	var h uint32 = 2166136261
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return d + d*time.Duration(h%256)/1024
}

func (m *Manager) needsRefresh(t store.Token) bool {
	if t.Expires.IsZero() {
		return false // no lifetime given: use it until the API says 401
	}
	return !m.now().Before(t.Expires.Add(-Margin(t)))
}
