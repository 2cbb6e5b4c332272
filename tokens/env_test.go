package tokens

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// clock is a settable time source, so tests expire tokens without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a real sandbox authorization server, a real bbolt home and a
// manager over it, with provider "sandbox" and token "api" registered.
type env struct {
	srv      *sandbox.Server
	db       *store.DB
	m        *Manager
	clock    *clock
	callback *httptest.Server
}

type envOpts struct {
	sandbox  sandbox.Options
	style    string
	noPKCE   bool
	tokenMod func(*store.Token)
	onEvent  func(Event)
	db       *store.DB // the store to use (default: a new bbolt home)
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	srv, err := sandbox.Start(o.sandbox)
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	db := o.db
	if db == nil {
		db = storetest.Open(t)
	}
	style := o.style
	if style == "" {
		style = store.AuthStyleHeader
	}
	if o.sandbox.AuthStyle == "" {
		o.sandbox.AuthStyle = style
	}
	p := store.Provider{
		Name: "sandbox", ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		GrantType: store.GrantAuthorizationCode, AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL(),
		Scopes: []string{"read"}, AuthStyle: style, PKCE: !o.noPKCE,
	}
	tok := store.Token{Name: "api", Type: store.TypeOAuth2, Provider: "sandbox", Active: true,
		State: store.StateUnauthorized, BaseURL: srv.URL()}
	if o.tokenMod != nil {
		o.tokenMod(&tok)
	}
	if err := db.Update(func(tx *store.Tx) error {
		if err := tx.CreateProvider(p); err != nil {
			return err
		}
		return tx.CreateToken(tok)
	}); err != nil {
		t.Fatal(err)
	}
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(cb.Close)
	c := &clock{t: time.Now()}
	m := New(Options{DB: db, Now: c.Now, OnEvent: o.onEvent})
	t.Cleanup(func() { m.Close() })
	return &env{srv: srv, db: db, m: m, clock: c, callback: cb}
}

// authorize runs "Get authorization token" through the sandbox's real login
// page and returns the query the provider sent to the callback.
func (e *env) authorize(t testing.TB, name string) store.Token {
	t.Helper()
	tok, err := e.tryAuthorize(name)
	if err != nil {
		t.Fatalf("authorize %s: %v", name, err)
	}
	return tok
}

func (e *env) tryAuthorize(name string) (store.Token, error) {
	a, err := e.m.Authorize(name, e.callback.URL+"/oauth/callback")
	if err != nil {
		return store.Token{}, err
	}
	u, err := sandbox.SignIn(context.Background(), a.URL, "demo", "demo")
	if err != nil {
		return store.Token{}, err
	}
	return e.m.Complete(context.Background(), a, u.Query())
}

func (e *env) token(t testing.TB, name string) store.Token {
	t.Helper()
	var tok store.Token
	if err := e.db.View(func(tx *store.Tx) (err error) { tok, err = tx.Token(name); return err }); err != nil {
		t.Fatal(err)
	}
	return tok
}

// call signs a GET to the sandbox API with token name and returns the status.
func (e *env) call(t testing.TB, name, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.APIURL()+path, nil)
	if err := e.m.Sign(context.Background(), name, req); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
