package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	"github.com/scriptrun/scriptrun/store/storetest"
	"github.com/scriptrun/scriptrun/tokens"
)

// create starts a session for a test, without the password check.
func (st *sessionStore) create(pwSet time.Time, remote string) (*session, string) {
	sess, value, err := st.start(pwSet, remote)
	if err != nil {
		panic("test session not stored: " + err.Error())
	}
	return sess, value
}

// pendingCount is how many authorizations the store holds pending.
func (e *env) pendingCount() int { return pendingIn(e.t, e.db) }

// pendingIn is how many authorizations db holds pending.
func pendingIn(t testing.TB, db *store.DB) int {
	t.Helper()
	n, err := db.Ephemeral().Count("oauth")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// cluster is several consoles ("nodes"), each with its own store handle and
// token manager, on one store (a bbolt file or an etcd prefix), behind a
// load balancer that sends each request to the node the test picks. Its env
// is the load balancer's: browsers made from it keep the cookies of the
// balancer's name, as a real browser would.
type cluster struct {
	*env
	nodes []*node
	to    atomic.Int32 // the node the balancer sends requests to
	// reopen opens another handle on the same store.
	reopen func() *store.DB
	etcd   *etcdtest.Cluster // of an etcd store

	mu     sync.Mutex
	served []string // "NODE PATH" of each request through the balancer
}

type node struct {
	db  *store.DB
	srv *Server
	ts  *httptest.Server // the node's own address, past the balancer
}

// newCluster starts n nodes on a fresh store of kind "bolt" or "etcd", with
// an admin password.
func newCluster(t testing.TB, kind string, n int) *cluster {
	t.Helper()
	c := newBareCluster(t, kind, n)
	hash := passwordHash(t)
	if err := c.db.Update(func(tx *store.Tx) error { return tx.SetAdminPassword(hash) }); err != nil {
		t.Fatal(err)
	}
	return c
}

// newBareCluster starts n nodes on a fresh store with no admin password.
func newBareCluster(t testing.TB, kind string, n int) *cluster {
	t.Helper()
	c := &cluster{}
	switch kind {
	case "bolt":
		home := filepath.Join(t.TempDir(), "home")
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		c.reopen = func() *store.DB { return storetest.OpenIn(t, home, storetest.Key()) }
	case "etcd":
		c.etcd = etcdtest.New(t)
		u := "etcd://" + strings.Join(c.etcd.Endpoints(), ",") + "/console-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "/"
		c.reopen = func() *store.DB {
			db, err := store.OpenURL(context.Background(), u, storetest.Key(), store.Options{Create: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	}
	clk := &clock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lb := httptest.NewUnstartedServer(nil)
	callback := "http://" + lb.Listener.Addr().String() + "/oauth/callback"
	for range n {
		c.nodes = append(c.nodes, c.startNode(t, c.reopen(), callback, clk, logger))
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		i := c.to.Load()
		u, _ := url.Parse(c.nodes[i].ts.URL)
		r.SetURL(u)
		c.mu.Lock()
		c.served = append(c.served, fmt.Sprintf("%d %s", i, r.In.URL.Path))
		c.mu.Unlock()
		r.Out.Host = r.In.Host // the nodes see the balancer's name
	}}
	lb.Config.Handler = proxy
	lb.Start()
	t.Cleanup(lb.Close)
	a := c.nodes[0]
	c.env = &env{t: t, db: a.db, m: tokens.New(tokens.Options{DB: a.db, Now: clk.Now, Logger: logger}), srv: a.srv, ts: lb, clock: clk, log: logs, pages: &syncBuffer{}}
	t.Cleanup(func() { c.env.m.Close() })
	return c
}

// startNode starts a console on db, answering for the balancer's callback.
func (c *cluster) startNode(t testing.TB, db *store.DB, callback string, clk *clock, logger *slog.Logger) *node {
	t.Helper()
	m := tokens.New(tokens.Options{DB: db, Now: clk.Now, Logger: logger})
	t.Cleanup(func() { m.Close() })
	srv, err := New(Options{DB: db, Tokens: m, CallbackURL: callback, Now: clk.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &node{db: db, srv: srv, ts: ts}
}

// servedBy returns the node that served the last request for path
// through the balancer, -1 if none did.
func (c *cluster) servedBy(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.served) - 1; i >= 0; i-- {
		var n int
		var p string
		if _, err := fmt.Sscanf(c.served[i], "%d %s", &n, &p); err == nil && p == path {
			return n
		}
	}
	return -1
}

// via sends the balancer's next requests to node i.
func (c *cluster) via(i int) { c.to.Store(int32(i)) }

// direct sends a request straight to node i, as the balancer would for b:
// the balancer's Host and b's cookies.
func (c *cluster) direct(b *browser, i int, path string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.nodes[i].ts.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Host = c.ts.Listener.Addr().String()
	lbURL, _ := url.Parse(c.ts.URL)
	for _, ck := range b.jar.Cookies(lbURL) {
		req.AddCookie(ck)
	}
	resp, err := b.hc.Transport.(*http.Transport).RoundTrip(req)
	if err != nil {
		c.t.Errorf("GET %s at node %d: %v", path, i, err)
		return 0, ""
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// signIn signs b in with the password, through the balancer.
func (c *cluster) signIn(b *browser) {
	c.t.Helper()
	if r := b.signIn(b.signInForm(), testPassword, "/tokens"); r.status != http.StatusSeeOther || r.loc != "/tokens" {
		c.t.Fatalf("sign in: %d to %q\n%s", r.status, r.loc, text(r.body))
	}
}

func forEachStore(t *testing.T, test func(t *testing.T, kind string)) {
	for _, kind := range []string{"bolt", "etcd"} {
		t.Run(kind, func(t *testing.T) { test(t, kind) })
	}
}

// TestConsoleOnAnyNode: behind a load balancer, whichever node a request
// reaches, the browser is signed in, its forms' CSRF token holds, and "Get
// authorization token" started on one node finishes on another.
func TestConsoleOnAnyNode(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		c := newCluster(t, kind, 2)
		prov := c.withSandbox(sandbox.Options{RequirePKCE: true})
		b := c.browser()
		b.hc.Transport = &http.Transport{}

		c.via(0)
		c.signIn(b)
		c.via(1)
		if r := b.get("/tokens"); r.status != http.StatusOK {
			t.Fatalf("signed in on node A, GET /tokens on node B: %d, want 200", r.status)
		}

		// A form from node A is accepted by node B.
		c.via(0)
		form := b.form()
		c.via(1)
		r := b.post("/tokens/api/authorize", form)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.loc, prov.AuthURL()) {
			t.Fatalf("a form from node A posted to node B: %d to %q, want the provider\n%s", r.status, r.loc, text(r.body))
		}

		// Started on A, the provider's redirect reaches B.
		c.via(0)
		authURL := b.startAuthorization("api")
		if got := authURL.Query().Get("redirect_uri"); got != c.ts.URL+"/oauth/callback" {
			t.Fatalf("redirect_uri %q, want the balancer's callback", got)
		}
		callback := signInAtProvider(t, authURL)
		c.via(1)
		r = b.get(callback)
		if r.status != http.StatusSeeOther || r.loc != "/tokens/api" {
			t.Fatalf("callback on node B: %d to %q, want the token page\n%s", r.status, r.loc, text(r.body))
		}
		c.via(0) // the message written on B shows on A
		mustContain(t, "token page on node A after the callback on B", b.follow(r), "Token api is authorized")
		if tok := c.token("api"); tok.State != store.StateAuthorized || tok.Secret.RefreshToken == "" {
			t.Fatalf("token after the callback: state %s", tok.State)
		}

		// The provider's redirect replayed at both nodes at once: one
		// exchange, one success.
		before := prov.Stats().TokenRequests["authorization_code"]
		callback = signInAtProvider(t, b.startAuthorization("api"))
		cb, _ := url.Parse(callback)
		var wg sync.WaitGroup
		var won atomic.Int32
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, loc := c.direct(b, i%2, cb.RequestURI())
				switch {
				case status == http.StatusSeeOther && loc == "/tokens/api":
					won.Add(1)
				case status != http.StatusBadRequest:
					t.Errorf("a replayed callback at node %d: %d to %q, want 400", i%2, status, loc)
				}
			}()
		}
		wg.Wait()
		if n := won.Load(); n != 1 {
			t.Errorf("%d of 6 concurrent callbacks with one state finished, want 1", n)
		}
		if n := prov.Stats().TokenRequests["authorization_code"] - before; n != 1 {
			t.Errorf("%d code exchanges for one state replayed at two nodes, want 1", n)
		}

		// Signing out on B signs out on A.
		c.via(1)
		if r := b.post("/logout", b.form()); r.status != http.StatusSeeOther {
			t.Fatalf("sign out on node B: %d", r.status)
		}
		c.via(0)
		if r := b.get("/tokens"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.loc, "/login") {
			t.Errorf("signed out on node B, GET /tokens on node A: %d to %q, want the sign-in page", r.status, r.loc)
		}
	})
}

// TestConsoleExpiryAcrossNodes: a session or an authorization that expired
// is refused by every node, with a page that says what to do.
func TestConsoleExpiryAcrossNodes(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		c := newCluster(t, kind, 2)
		c.withSandbox(sandbox.Options{})
		b := c.browser()
		c.via(0)
		c.signIn(b)
		callback := signInAtProvider(t, b.startAuthorization("api"))
		c.clock.Add(tokens.AuthorizationTTL + time.Second)
		c.via(1)
		r := b.get(callback)
		if r.status != http.StatusSeeOther || r.loc != "/tokens/api" {
			t.Fatalf("late callback on node B: %d to %q", r.status, r.loc)
		}
		mustContain(t, "late callback", b.follow(r), "took longer than 10m0s", "Get authorization token")
		if c.token("api").State == store.StateAuthorized {
			t.Error("a late callback authorized the token")
		}

		form := b.form()
		callback = signInAtProvider(t, b.startAuthorization("api"))
		c.clock.Add(2 * time.Hour) // the idle limit
		c.via(0)
		if r := b.get("/tokens"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.loc, "/login") {
			t.Errorf("idle session on node A: %d to %q, want the sign-in page", r.status, r.loc)
		}
		c.via(1)
		r = b.post("/tokens/api/refresh", form)
		mustContain(t, "form of an ended session", r, "Sign in first", "Your session has ended")
		if r.status != http.StatusForbidden {
			t.Errorf("form of an ended session: %d, want 403", r.status)
		}
		r = b.get(callback)
		mustContain(t, "callback of an ended session", r, "Sign in first", "press \"Get authorization token\" again")
		if r.status != http.StatusForbidden {
			t.Errorf("callback of an ended session: %d, want 403", r.status)
		}
	})
}

// TestSessionSurvivesRestart: a new console on the same store (the node
// restarted) knows the sessions of the old one.
func TestSessionSurvivesRestart(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		c := newCluster(t, kind, 1)
		b := c.browser()
		c.signIn(b)
		csrf := b.csrf()
		old := c.nodes[0]
		old.ts.Close()
		if kind == "etcd" {
			old.db.Close()
		}
		c.nodes[0] = c.startNode(t, c.reopen(), old.srv.callback, c.clock, old.srv.log)
		if r := b.get("/tokens"); r.status != http.StatusOK {
			t.Fatalf("after the restart, GET /tokens: %d, want 200 (still signed in)", r.status)
		}
		if got := b.csrf(); got != csrf {
			t.Error("the session's CSRF token changed over the restart")
		}
	})
}

// countingEph counts the writes of ephemeral state.
type countingEph struct {
	ephemeralStore
	puts atomic.Int32
}

func (c *countingEph) PutTTL(key string, value []byte, ttl time.Duration, createOnly bool) error {
	c.puts.Add(1)
	return c.ephemeralStore.PutTTL(key, value, ttl, createOnly)
}

func (c *countingEph) Replace(key string, value []byte, ttl time.Duration) error {
	c.puts.Add(1)
	return c.ephemeralStore.Replace(key, value, ttl)
}

// TestSessionWritesAreRare: using a session writes its last use at most
// every sessionTouch, not on every request.
func TestSessionWritesAreRare(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	ce := &countingEph{ephemeralStore: e.srv.sessions.eph}
	e.srv.sessions.eph = ce
	for range 20 {
		e.clock.Add(10 * time.Second)
		if r := b.get("/tokens"); r.status != http.StatusOK {
			t.Fatalf("GET /tokens: %d", r.status)
		}
	}
	if n := ce.puts.Load(); n != 0 {
		t.Errorf("20 pages in 200 s wrote the session %d times, want 0", n)
	}
	e.clock.Add(sessionTouch)
	b.get("/tokens")
	b.get("/tokens")
	if n := ce.puts.Load(); n != 1 {
		t.Errorf("pages after %s wrote the session %d times, want 1", sessionTouch, n)
	}
	// The last use written keeps the session: 1 h 50 after sign-in plus
	// the touch, it still lives although the idle limit is 2 h.
	e.clock.Add(110 * time.Minute)
	if r := b.get("/tokens"); r.status != http.StatusOK {
		t.Errorf("after the written last use and 110 min: %d, want 200", r.status)
	}
}

// TestPendingStore: the outcomes of take, on a store.
func TestPendingStore(t *testing.T) {
	e := newEnv(t, envOpts{})
	ps := e.srv.pending
	now := e.clock.Now()
	add := func(state, sess string, at time.Time) {
		t.Helper()
		a := &tokens.Authorization{Token: "api", State: state, RedirectURI: e.srv.callback, Created: at}
		if err := ps.add(a, sess, at); err != nil {
			t.Fatal(err)
		}
	}
	add("s1", "sess-a", now)
	add("s2", "sess-a", now.Add(-tokens.AuthorizationTTL-time.Second))
	add("s3", "sess-a", now.Add(-time.Minute))
	e.clock.Add(time.Second)
	ps.forgetToken("api")
	add("s4", "sess-a", now.Add(time.Minute))
	for _, tt := range []struct {
		state, sess string
		want        int
	}{
		{"s0", "sess-a", takeUnknown},
		{"s1", "sess-b", takeForeign},
		{"s1", "sess-a", takeUnknown}, // voided by forgetToken
		{"s2", "sess-a", takeUnknown},
		{"s4", "sess-a", takeOK},
		{"s4", "sess-a", takeUnknown}, // used
	} {
		p, got := ps.take(tt.state, tt.sess, now.Add(time.Minute))
		if got != tt.want {
			t.Errorf("take(%s, %s) = %d, want %d", tt.state, tt.sess, got, tt.want)
		}
		if got == takeOK && (p.auth.State != tt.state || p.session != tt.sess) {
			t.Errorf("take(%s) returned %+v", tt.state, p)
		}
	}
	// Without forgetToken, a stale one is takeExpired.
	add("s5", "sess-a", now.Add(time.Hour))
	if _, got := ps.take("s5", "sess-a", now.Add(time.Hour+tokens.AuthorizationTTL+time.Second)); got != takeExpired {
		t.Errorf("take of a stale authorization = %d, want takeExpired", got)
	}
	if err := ps.add(&tokens.Authorization{Token: "api", State: "s4"}, "sess-a", now); err != nil {
		t.Errorf("a used state added again: %v", err)
	}
	if err := ps.add(&tokens.Authorization{Token: "api", State: "s4"}, "sess-a", now); err == nil {
		t.Error("a pending state added twice: no error")
	}
}

// TestPendingRecordCarriesEveryField: what add stores holds every field of
// pending, so a field added to pending is not silently lost between nodes.
func TestPendingRecordCarriesEveryField(t *testing.T) {
	rec := reflect.TypeFor[pendingRecord]()
	p := reflect.TypeFor[pending]()
	for i := range p.NumField() {
		name := p.Field(i).Name
		if _, ok := rec.FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, name) }); !ok {
			t.Errorf("pending.%s is not stored: add it to pendingRecord, add and read", name)
		}
	}
}

// TestSignInDelayAcrossNodes: wrong passwords sent to one node slow the
// address down on every node, and a restart does not clear the delay.
func TestSignInDelayAcrossNodes(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		c := newCluster(t, kind, 2)
		const attacker = "192.0.2.66:4000"
		at := func(i int, password string) *httptest.ResponseRecorder {
			e := *c.env
			e.srv = c.nodes[i].srv
			return signInFrom(&e, attacker, password)
		}
		for i := range freeFailures + 1 {
			at(i%2, "guess")
		}
		for i := range 2 {
			if rec := at(i, testPassword); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
				t.Errorf("right password at node %d during the wait earned on both: %d, Retry-After %q; want 429 and 1", i, rec.Code, rec.Header().Get("Retry-After"))
			}
		}
		c.nodes[1] = c.startNode(t, c.reopen(), c.nodes[1].srv.callback, c.clock, c.nodes[1].srv.log)
		if rec := at(1, testPassword); rec.Code != http.StatusTooManyRequests {
			t.Errorf("after node B restarted: %d, want the delay kept (429)", rec.Code)
		}
		c.clock.Add(time.Second)
		if rec := at(1, testPassword); rec.Code != http.StatusSeeOther {
			t.Errorf("after the wait: %d, want 303", rec.Code)
		}
		if rec := at(0, "guess"); strings.Contains(rec.Body.String(), "Wait") {
			t.Error("a success on node B did not clear the failures on node A")
		}
	})
}

// BenchmarkSessionCheck measures what every signed-in page pays for its
// session: one read of the store (no write: the clock stands still).
func BenchmarkSessionCheck(b *testing.B) {
	for _, kind := range []string{"bolt", "etcd"} {
		b.Run(kind, func(b *testing.B) {
			c := newCluster(b, kind, 1)
			_, cookie := c.srv.sessions.create(c.adminSet(), "127.0.0.1")
			for b.Loop() {
				if sess, err := c.srv.sessions.load(cookie); sess == nil || err != nil {
					b.Fatalf("session: %v", err)
				}
			}
		})
	}
}

// TestConsoleStoreUnavailable: with the cluster gone, a signed-in page is an
// error page that says the store cannot be reached, not a sign-in loop,
// and it shows no secret.
func TestConsoleStoreUnavailable(t *testing.T) {
	c := newCluster(t, "etcd", 1)
	if c.etcd.External() {
		t.Skip("stops the cluster: needs an embedded one")
	}
	b := c.browser()
	c.signIn(b)
	c.etcd.Stop(0)
	r := b.get("/tokens")
	mustContain(t, "a page with the store gone", r, "Something went wrong", "read the session", "etcd cluster unavailable")
	if r.status != http.StatusInternalServerError {
		t.Errorf("a page with the store gone: %d, want 500", r.status)
	}
	lb, _ := url.Parse(c.ts.URL)
	for _, ck := range b.jar.Cookies(lb) {
		if strings.Contains(r.body, ck.Value) || strings.Contains(c.log.String(), ck.Value) {
			t.Errorf("cookie %s shown on the page or in the log", ck.Name)
		}
	}
}

// TestSetupLinkOnAnyNode: nodes started on a store without a password print
// the same setup link, which works whichever node the balancer picks; the
// password set through one node voids it on the other.
func TestSetupLinkOnAnyNode(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		c := newBareCluster(t, kind, 2)
		setup := c.nodes[0].srv.SetupPath()
		if setup == "" || c.nodes[1].srv.SetupPath() != setup {
			t.Fatalf("setup links %q and %q, want one link for both nodes", setup, c.nodes[1].srv.SetupPath())
		}
		late := c.startNode(t, c.reopen(), c.nodes[0].srv.callback, c.clock, c.nodes[0].srv.log)
		if late.srv.SetupPath() != setup {
			t.Error("a node started later prints another setup link")
		}
		b := c.browser()
		c.via(0)
		r := b.get(setup)
		csrf := csrfRE.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || csrf == nil {
			t.Fatalf("the setup link on node A: %d", r.status)
		}
		c.via(1)
		token := strings.TrimPrefix(setup, "/setup?token=")
		r = b.post("/setup", url.Values{"csrf": {csrf[1]}, "token": {token}, "password": {testPassword}, "confirm": {testPassword}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("the setup form of node A sent to node B: %d\n%s", r.status, text(r.body))
		}
		c.via(0)
		mustContain(t, "node A after the password was set on B", b.follow(b.follow(r)), "The admin password is set and you are signed in")
		mustContain(t, "the setup link on node A after", b.get(setup), "already set")
		if c.nodes[0].srv.SetupPath() != "" {
			t.Error("node A still offers the setup link")
		}
	})
}

// TestSignOutStaysSignedOut: a request in flight on node A when the browser
// signs out on node B (it read the session before) cannot bring the
// session back by writing it (a message, its last use).
func TestSignOutStaysSignedOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		c := newCluster(t, kind, 2)
		b := c.browser()
		c.signIn(b)
		lb, _ := url.Parse(c.ts.URL)
		var cookie string
		for _, ck := range b.jar.Cookies(lb) {
			if ck.Name == c.srv.sessionCookie() {
				cookie = ck.Value
			}
		}
		a := c.nodes[0].srv.sessions
		inFlight, err := a.load(cookie)
		if err != nil || inFlight == nil {
			t.Fatalf("load the session on node A: %v", err)
		}
		c.via(1)
		if r := b.post("/logout", b.form()); r.status != http.StatusSeeOther {
			t.Fatalf("sign out on node B: %d", r.status)
		}
		a.addFlash(inFlight, "ok", "late message")
		a.takeFlashes(inFlight)
		c.clock.Add(sessionTouch)
		if sess, err := a.load(cookie); sess != nil || err != nil {
			t.Errorf("after signing out on B, node A loads the session: %v, %v; want none", sess, err)
		}
		c.via(0)
		if r := b.get("/tokens"); r.status != http.StatusSeeOther {
			t.Errorf("after signing out on B and late writes on A, GET /tokens on A: %d, want the sign-in page", r.status)
		}
	})
}
