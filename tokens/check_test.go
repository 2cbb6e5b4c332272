package tokens

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// recordingAPI answers every request with status and remembers the
// Authorization headers it got.
type recordingAPI struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newRecordingAPI(t *testing.T, status int) *recordingAPI {
	api := &recordingAPI{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.mu.Lock()
		api.auth = append(api.auth, r.Header.Get("Authorization")+r.URL.RawQuery)
		api.mu.Unlock()
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "/login?key=echoed")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(api.Close)
	return api
}

func (a *recordingAPI) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auth...)
}

// addToken stores another token of the sandbox provider, bound to base.
func (e *env) addToken(t *testing.T, tok store.Token) {
	t.Helper()
	if tok.Type == "" {
		tok.Type, tok.Provider, tok.State = store.TypeOAuth2, "sandbox", store.StateUnauthorized
	}
	tok.Active = true
	if err := e.db.Update(func(tx *store.Tx) error { return tx.CreateToken(tok) }); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	refused, missing, redirect := newRecordingAPI(t, 401), newRecordingAPI(t, 404), newRecordingAPI(t, 302)
	for name, base := range map[string]string{"refused": refused.URL, "missing": missing.URL, "redirect": redirect.URL} {
		e.addToken(t, store.Token{Name: name, BaseURL: base})
	}
	e.addToken(t, store.Token{Name: "new", BaseURL: e.srv.URL()})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	e.addToken(t, store.Token{Name: "gone", BaseURL: closed})
	// Authorized after the clock moves, so that they are not due for a refresh.
	authorizeOthers := func() {
		for _, name := range []string{"refused", "missing", "redirect", "gone"} {
			e.authorize(t, name)
		}
	}
	e.addToken(t, store.Token{Name: "querykey", Type: store.TypeAPIKey, KeyQuery: "api_key", BaseURL: closed, Secret: store.Secret{APIKey: "query-key-SECRET-1234"}})

	tests := []struct {
		name, token, url string
		before           func()
		outcome          string
		status           int
		refreshed        bool
		retried          bool
		problem          string
	}{
		{name: "works", token: "api", url: e.srv.APIURL() + "/me", outcome: CheckOK, status: 200},
		{name: "expired: refreshed first", token: "api", url: e.srv.APIURL() + "/me", before: func() { e.clock.Add(2 * time.Hour) },
			outcome: CheckOK, status: 200, refreshed: true},
		{name: "revoked at the server: renewed and retried", token: "api", url: e.srv.APIURL() + "/me", before: e.srv.ExpireAccessTokens,
			outcome: CheckOK, status: 200, refreshed: true, retried: true},
		{name: "401 even after a refresh", token: "refused", before: authorizeOthers, outcome: CheckRefused, status: 401, refreshed: true, retried: true, problem: "the API refused the credential"},
		{name: "404 at the base URL", token: "missing", outcome: CheckAnswered, status: 404, problem: "this URL tells no more"},
		{name: "a redirect is not followed", token: "redirect", outcome: CheckAnswered, status: 302, problem: "a redirect to " + redirect.URL + "/login, not followed"},
		{name: "not authorized", token: "new", outcome: CheckFailed, problem: "has not been authorized"},
		{name: "unreachable", token: "gone", outcome: CheckFailed, problem: "could not be reached"},
		{name: "unreachable with a query key", token: "querykey", outcome: CheckFailed, problem: "could not be reached"},
	}
	for _, tt := range tests {
		if tt.before != nil {
			tt.before()
		}
		got, err := e.m.Check(context.Background(), tt.token, CheckRequest{URL: tt.url})
		if err != nil {
			t.Errorf("%s: Check: %v", tt.name, err)
			continue
		}
		if got.Outcome != tt.outcome || got.Status != tt.status || got.Refreshed != tt.refreshed || got.Retried != tt.retried ||
			!strings.Contains(got.Problem, tt.problem) || got.Failed() != (tt.outcome == CheckRefused || tt.outcome == CheckFailed) {
			t.Errorf("%s: got %+v\nwant outcome %s, status %d, refreshed %v, retried %v, problem with %q", tt.name, got, tt.outcome, tt.status, tt.refreshed, tt.retried, tt.problem)
		}
		if strings.Contains(got.URL+got.Problem, "SECRET") || strings.Contains(got.Problem, "echoed") {
			t.Errorf("%s: the result shows a credential or the query of a redirect: %+v", tt.name, got)
		}
	}
	// The 401 API saw two different credentials: the first and the renewed one.
	if r := refused.requests(); len(r) != 2 || r[0] == r[1] || !strings.HasPrefix(r[0], "Bearer ") {
		t.Errorf("the refusing API got %d requests, want 2 with different tokens", len(r))
	}
	if missing.requests()[0] == "" {
		t.Error("the check's request was not signed")
	}
}

func TestCheckRefusesBeforeSending(t *testing.T) {
	e := newEnv(t, envOpts{tokenMod: func(tok *store.Token) { tok.BaseURL = "" }})
	api := newRecordingAPI(t, 200)
	e.addToken(t, store.Token{Name: "bound", BaseURL: api.URL + "/v1/"})
	e.authorize(t, "bound")
	e.clock.Add(2 * time.Hour) // due for a refresh: none may happen
	for _, tt := range []struct{ name, token, url, want string }{
		{"another host", "bound", e.srv.APIURL() + "/me", "will not be sent to"},
		{"outside the path", "bound", api.URL + "/v2/users", "is for paths under"},
		{"dot segments", "bound", api.URL + "/v1/../v2", "is for paths under"},
		{"no base URL, no URL", "api", "", "has no base URL"},
		{"not a URL", "bound", "api.example.com/v1", "not an absolute http(s) URL"},
		{"no such token", "nope", "", "does not exist"},
	} {
		_, err := e.m.Check(context.Background(), tt.token, CheckRequest{URL: tt.url})
		var te *Error
		if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an *Error saying %q", tt.name, err, tt.want)
		}
	}
	if n := len(api.requests()); n != 0 {
		t.Errorf("the API got %d requests", n)
	}
	if n := e.srv.Stats().RefreshRequests; n != 0 {
		t.Errorf("refused checks refreshed the token %d times", n)
	}
}
