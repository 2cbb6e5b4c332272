package tokens

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/scriptrun/scriptrun/internal/weborigin"
	"github.com/scriptrun/scriptrun/store"
)

// Options configure a Manager. DB is required.
type Options struct {
	DB *store.DB
	// Client sends token-endpoint requests (default: 30 s timeout).
	Client *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives the manager's events as log records; it never sees a
	// secret (default: discard).
	Logger *slog.Logger
	// OnEvent, when set, is told every outcome: each refresh, fetch,
	// authorization and revocation, failed or not, and each rejection an API
	// reported (see Event). It is called synchronously from the goroutine
	// that saw the outcome, possibly from several at once, sometimes while
	// the token's file lock is held: it must be quick and safe for
	// concurrent use.
	OnEvent func(Event)
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
	realClock      bool // now is time.Now: an entry's age can be read off the monotonic clock alone
	log            *slog.Logger
	onEvent        func(Event)
	cacheTTL       time.Duration
	refreshTimeout time.Duration

	mu    sync.Mutex // guards cache only; never held across a store access or a call
	cache map[string]*entry

	// flights runs store reads and refreshes once per token for every
	// caller waiting for them, and last-use records; Close waits for them.
	flights flights

	// hook, when set (by tests), is told each step of a refresh: "sending",
	// "received", "saved". The crash test kills processes between them.
	hook func(step string)
	// lockHook, when set (by tests), is given the token's lock once a flight holds it.
	lockHook func(store.Lock)
}

// entry is what signing needs of a token, as read from the store.
type entry struct {
	token         store.Token
	provider      *store.Provider // nil for the static types, and when the provider is gone
	binding       *binding        // where the token may be sent (origin, path prefix); nil = anywhere
	rejection     *rejection      // how its API refuses the access token; nil = a 401
	readAt        time.Time
	authorization []string // the Authorization header, for the types with a fixed one (authorizationOf)
	// signer signs each request, for the types without a fixed header
	// (typeSigner.sign); nil for the others.
	signer func(t *store.Token, req *http.Request, now time.Time) error
}

// New returns a Manager over opts.DB.
func New(opts Options) *Manager {
	m := &Manager{
		db:             opts.DB,
		client:         opts.Client,
		now:            opts.Now,
		log:            opts.Logger,
		onEvent:        opts.OnEvent,
		cacheTTL:       opts.CacheTTL,
		refreshTimeout: opts.RefreshTimeout,
		cache:          make(map[string]*entry),
	}
	if m.client == nil {
		m.client = &http.Client{Timeout: 30 * time.Second}
	}
	if m.now == nil {
		m.now, m.realClock = time.Now, true
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
// client_credentials grant and it holds no access token yet (decide). Sign
// refuses (with an *Error) a token that is missing, inactive, not
// authorized, bound to another host or path than req's, or a static
// credential past its expiry, and a request whose Host header is not its
// URL's host.
func (m *Manager) Sign(ctx context.Context, name string, req *http.Request) error {
	now := m.now() // one reading of the clock while the cached copy serves
	e := m.cached(name, now)
	if e == nil {
		var err error
		if e, err = m.lookup(name); err != nil {
			return err
		}
		now = m.now()
	}
	if err := refusal(&e.token, e.provider); err != nil {
		return err // before the request's checks: the token is not usable anywhere
	}
	if err := checkHost(e, req.URL); err != nil {
		return err
	}
	if err := checkHostHeader(name, req); err != nil {
		return err
	}
	if d := decide(&e.token, e.provider, due, now); d.action == refuse {
		return d.err
	} else if !d.signs() {
		var err error
		if e, err = m.renew(ctx, name, due); err != nil {
			return err
		}
		now = m.now()
	}
	return e.sign(req, now)
}

// Rejected reports that an API refused req, which Sign signed with the named
// token (Rejects said its answer means so). Unless the token has changed since (another caller already renewed
// it), an oauth2 token is refreshed (or fetched again) now. A static
// credential has nothing to refresh: its cached copy is dropped, so the retry
// uses what is stored now (an admin may just have replaced it). The caller
// signs again and retries once.
func (m *Manager) Rejected(ctx context.Context, name string, req *http.Request) error {
	e, err := m.lookup(name)
	if err != nil {
		return err
	}
	_, access, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	r := rejectedWith(access)
	d := decide(&e.token, e.provider, r, m.now())
	if d.action != refuse {
		m.emit(Event{Kind: EventRejected, Token: name, Type: e.token.Type, Provider: e.token.Provider})
	}
	switch {
	case d.action == reload:
		m.forget(name)
		return nil
	case d.action == refuse:
		return d.err
	case d.signs():
		return nil // renewed since req was signed: the retry signs with the new one
	}
	_, err = m.renew(ctx, name, r)
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
	if d := decide(&e.token, e.provider, forced, m.now()); d.action == refuse {
		return store.Token{}, d.err
	}
	e, err = m.renew(ctx, name, forced)
	if err != nil {
		return store.Token{}, err
	}
	return e.token, nil
}

// lookup returns the token from the cache, or from the store when the cached
// copy is older than CacheTTL. Callers that miss the cache together share one
// store read. It refuses nothing but a token that cannot be read: decide does.
func (m *Manager) lookup(name string) (*entry, error) {
	if e := m.cachedNow(name); e != nil {
		return e, nil
	}
	return m.flights.do(context.Background(), "load\x00"+name, func() (*entry, error) { return m.load(name) })
}

// cached returns the cached entry of name unless it is older than CacheTTL
// at now. It takes m.mu.
func (m *Manager) cached(name string, now time.Time) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.cache[name]; e != nil && now.Sub(e.readAt) < m.cacheTTL && !now.Before(e.readAt) {
		return e
	}
	return nil
}

// cachedNow is cached(name, m.now()). With the real clock it measures the
// entry's age with time.Since, which reads only the monotonic clock (every
// readAt then carries a monotonic reading, which Sub and Before would use
// too): reading the wall clock as well doubled the cost of Rejects, which
// runs after every signed call.
func (m *Manager) cachedNow(name string) *entry {
	if !m.realClock {
		return m.cached(name, m.now())
	}
	m.mu.Lock()
	e := m.cache[name]
	m.mu.Unlock()
	if e != nil {
		if age := time.Since(e.readAt); age >= 0 && age < m.cacheTTL {
			return e
		}
	}
	return nil
}

// remember caches e for name, or drops the cached entry when e is nil. It
// takes m.mu.
func (m *Manager) remember(name string, e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e != nil {
		m.cache[name] = e
	} else {
		delete(m.cache, name)
	}
}

// forget drops the cached entry of name. It takes m.mu.
func (m *Manager) forget(name string) { m.remember(name, nil) }

// Invalidate drops the cached copy of token name, or of every token when
// name is "", so that the next use reads the store: serve calls it when it
// hears (by watch, on a clustered store) that another host changed a token
// or a provider, instead of waiting out CacheTTL. It takes m.mu.
func (m *Manager) Invalidate(name string) {
	if name != "" {
		m.forget(name)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.cache)
}

// load reads the token and its provider from the store and caches them. It
// also records, at most once a minute, that the token was used.
func (m *Manager) load(name string) (*entry, error) {
	t, p, err := m.readForSigning(name)
	var e *entry
	if err == nil {
		e, err = newEntry(t, p, m.now())
	}
	m.remember(name, e)
	if err != nil {
		return nil, err
	}
	if now := m.now(); now.Sub(t.LastUsed) > time.Minute && refusal(&t, p) == nil {
		// In the background: a durable write must not delay the request.
		m.flights.goBackground(func() { m.touch(name, now) })
	}
	return e, nil
}

// readForSigning is read for the hot path: a provider that cannot be read
// is noticed when a refresh needs it (renewWithTokenLock reads it again);
// a valid access token still signs meanwhile.
func (m *Manager) readForSigning(name string) (store.Token, *store.Provider, error) {
	var t store.Token
	var p *store.Provider
	err := m.db.View(func(tx *store.Tx) (err error) {
		t, p, err = tx.TokenWithProvider(name)
		if store.IsProviderDamaged(err) {
			return nil
		}
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return t, nil, newError(CodeNotFound, name, err, "token %q does not exist: create it with `scriptrun token add %s --provider NAME`, or check the name (`scriptrun token list`)", name, name)
	case err != nil:
		return t, nil, newError(CodeStore, name, err, "token %q: %v", name, err)
	}
	return t, p, nil
}

func newEntry(t store.Token, p *store.Provider, now time.Time) (*entry, error) {
	e := &entry{token: t, provider: p, readAt: now, authorization: authorizationOf(t), signer: signerOf(t.Type).sign}
	if t.BaseURL != "" {
		b, err := newBinding(t.BaseURL)
		if err != nil {
			return nil, newError(CodeStore, t.Name, err, "token %q has an unreadable base URL: fix it with `scriptrun token update %s --base-url URL`", t.Name, t.Name)
		}
		e.binding = b
	}
	r, err := newRejection(p)
	if err != nil {
		return nil, newError(CodeStore, t.Name, err, "token %q: %v: fix it with `scriptrun provider update %s --rejected-body PATTERN`", t.Name, err, t.Provider)
	}
	e.rejection = r
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
		m.emit(Event{Kind: EventUseNotRecorded, Token: name, Message: err.Error()})
	}
}

// checkHost enforces token binding: a token with a base URL is only sent to
// that scheme, host and port, and when the base URL has a path, to paths
// under it (binding.go).
func checkHost(e *entry, u *url.URL) error {
	if e.binding == nil || e.binding.permits(u) {
		return nil
	}
	if !weborigin.Same(e.binding.origin, u) {
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

// sameAuthority is weborigin.SameAuthority(host, u) without working out
// both origins when host is spelt exactly as u's (as http.NewRequest sets
// it): they are then equal, and the answer is whether u names a host.
func sameAuthority(host string, u *url.URL) bool {
	if host == u.Host {
		return u.Hostname() != ""
	}
	return weborigin.SameAuthority(host, u)
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
	if err != nil || refusal(&e.token, e.provider) != nil {
		return false
	}
	return checkHost(e, u) == nil
}

func origin(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + u.Host
}
