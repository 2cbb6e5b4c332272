package tokens

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
)

// ccEnv is newEnv with the sandbox registered for the client_credentials
// grant: token "api" has no authorization step.
func ccEnv(t testing.TB, o envOpts, mod func(*store.Provider)) *env {
	t.Helper()
	e := newEnv(t, o)
	e.provider(t, func(p *store.Provider) {
		p.GrantType = store.GrantClientCredentials
		p.AuthURL = ""
		if mod != nil {
			mod(p)
		}
	})
	return e
}

// provider edits the sandbox provider in the store.
func (e *env) provider(t testing.TB, mod func(*store.Provider)) {
	t.Helper()
	if err := e.db.Update(func(tx *store.Tx) error {
		p, err := tx.Provider("sandbox")
		if err != nil {
			return err
		}
		mod(&p)
		return tx.PutProvider(p)
	}); err != nil {
		t.Fatal(err)
	}
}

// get sends a signed GET to the sandbox API and returns the status and body.
func (e *env) get(t testing.TB, name, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.APIURL()+path, nil)
	if err := e.m.Sign(context.Background(), name, req); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// The first use fetches a token, which is stored and then reused; it is
// fetched again once expired, and when the API refuses it.
func TestClientCredentialsLifecycle(t *testing.T) {
	for _, style := range []string{store.AuthStyleHeader, store.AuthStyleBody} {
		t.Run(style, func(t *testing.T) {
			e := ccEnv(t, envOpts{style: style, sandbox: sandbox.Options{AuthStyle: style}}, nil)
			first := ccFirstUse(t, e)
			// Expired (our clock): fetched again, before use.
			e.clock.Add(2 * time.Hour)
			if status, _ := e.get(t, "api", "/me"); status != 200 {
				t.Fatalf("after expiry: %d", status)
			}
			e.wantFetches(t, 2, "after expiry")
			if now := e.token(t, "api"); now.Secret.AccessToken == first.Secret.AccessToken || !now.LastRefreshed.Equal(e.clock.Now().UTC()) {
				t.Error("the expired access token was not replaced in the store")
			}
			ccRejectedOnce(t, e)
			// token refresh fetches a new one on demand.
			if _, err := e.m.Refresh(context.Background(), "api"); err != nil {
				t.Errorf("Refresh: %v", err)
			}
			e.wantFetches(t, 4, "after Refresh")
			if n := e.srv.Stats().TokenRequests["authorization_code"] + e.srv.Stats().RefreshRequests; n != 0 {
				t.Errorf("%d authorization-code or refresh requests for a client-credentials token", n)
			}
		})
	}
}

// ccFirstUse: the first call fetches a token, stored without a refresh
// token, and five more calls reuse it. It returns the token as stored.
func ccFirstUse(t *testing.T, e *env) store.Token {
	t.Helper()
	status, body := e.get(t, "api", "/me")
	if status != 200 || !strings.Contains(body, `"client":"`+e.srv.ClientID()+`"`) {
		t.Fatalf("first use: %d %s", status, body)
	}
	tok := e.token(t, "api")
	if tok.State != store.StateAuthorized || tok.Secret.AccessToken == "" || tok.Secret.RefreshToken != "" || tok.Expires.IsZero() || tok.LastMessage != "" {
		t.Fatalf("stored after the first fetch: state %s, expires %v, access %v, refresh %v, message %q",
			tok.State, tok.Expires, tok.Secret.AccessToken != "", tok.Secret.RefreshToken != "", tok.LastMessage)
	}
	for range 5 {
		e.get(t, "api", "/me")
	}
	e.wantFetches(t, 1, "after six calls with a valid token")
	return tok
}

// ccRejectedOnce: a token expired at the server only is fetched once more
// after three reports of the same 401.
func ccRejectedOnce(t *testing.T, e *env) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	e.m.Sign(context.Background(), "api", req)
	e.srv.ExpireAccessTokens()
	for range 3 {
		if err := e.m.Rejected(context.Background(), "api", req); err != nil {
			t.Fatalf("Rejected: %v", err)
		}
	}
	e.wantFetches(t, 3, "after three reports of one refused token")
	if status, _ := e.get(t, "api", "/me"); status != 200 {
		t.Errorf("after the 401: %d", status)
	}
}

// wantFetches checks how many client-credentials requests the sandbox saw.
func (e *env) wantFetches(t *testing.T, want int, when string) {
	t.Helper()
	if n := e.srv.Stats().TokenRequests["client_credentials"]; n != want {
		t.Errorf("token requests %s: %d, want %d", when, n, want)
	}
}

// 100 callers of a token that has never been fetched: one token request,
// every call succeeds.
func TestClientCredentialsConcurrentFirstUse(t *testing.T) {
	e := ccEnv(t, envOpts{}, nil)
	// The fetch is held at the provider until every caller has asked to
	// sign: they pile up on the one flight.
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		<-release
		return false
	})
	var wg, asked sync.WaitGroup
	var failed atomic.Int32
	asked.Add(100)
	for range 100 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
			asked.Done()
			if err := e.m.Sign(context.Background(), "api", req); err != nil {
				t.Error(err)
				failed.Add(1)
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				failed.Add(1)
				return
			}
			resp.Body.Close()
		})
	}
	asked.Wait()
	releaseOnce()
	wg.Wait()
	if n := e.srv.Stats().TokenRequests["client_credentials"]; n != 1 || failed.Load() != 0 {
		t.Errorf("100 callers: %d token requests (want 1), %d failed calls (want 0)", n, failed.Load())
	}
	// And again once it has expired.
	e.clock.Add(2 * time.Hour)
	for range 100 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
			if err := e.m.Sign(context.Background(), "api", req); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := e.srv.Stats().TokenRequests["client_credentials"]; n != 2 || failed.Load() != 0 {
		t.Errorf("100 callers after expiry: %d token requests in all (want 2), %d failed", n, failed.Load())
	}
}

// Scopes and the provider's extra token parameters reach the token
// endpoint; a parameter cannot change the grant.
func TestClientCredentialsRequest(t *testing.T) {
	e := ccEnv(t, envOpts{tokenMod: func(tk *store.Token) { tk.Scopes = []string{"read", "write"} }}, func(p *store.Provider) {
		p.TokenParams = map[string]string{"audience": "https://api.example.com", "resource": "urn:example:api", "grant_type": "password", "scope": "ignored"}
	})
	var mu sync.Mutex
	var forms []url.Values
	e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		r.ParseForm()
		mu.Lock()
		forms = append(forms, r.PostForm)
		mu.Unlock()
		return false
	})
	status, body := e.get(t, "api", "/me")
	if status != 200 || !strings.Contains(body, `"scope":"read write"`) {
		t.Fatalf("API: %d %s; want the token's scopes granted", status, body)
	}
	f := forms[0]
	for k, want := range map[string]string{"grant_type": "client_credentials", "scope": "read write", "audience": "https://api.example.com", "resource": "urn:example:api"} {
		if got := f[k]; len(got) != 1 || got[0] != want {
			t.Errorf("token request %s = %q, want exactly %q", k, got, want)
		}
	}
	if f.Has("client_secret") {
		t.Error("the client secret was sent in the body with auth style header")
	}
}

// A refused fetch is recorded in words without secrets; the token stays
// unusable until a fetch succeeds, and a valid token survives an outage.
func TestClientCredentialsFailures(t *testing.T) {
	e := ccEnv(t, envOpts{}, func(p *store.Provider) { p.ClientSecret = "wrong-client-SECRET-value" })
	ccRefusedFetch(t, e)
	if _, err := e.m.Authorize("api", "http://127.0.0.1/cb"); CodeOf(err) != CodeUnsupportedGrant || !strings.Contains(err.Error(), "fetched on first use") {
		t.Errorf("Authorize of a client-credentials token: %v", err)
	}
	// Repaired: the next use fetches, and the message is cleared.
	e.provider(t, func(p *store.Provider) { p.ClientSecret = e.srv.ClientSecret() })
	if status, _ := e.get(t, "api", "/me"); status != 200 {
		t.Fatalf("after fixing the secret: %d", status)
	}
	if tok := e.token(t, "api"); tok.LastMessage != "" || tok.RefreshFailures != 0 {
		t.Errorf("after a successful fetch: lastMessage %q, failures %d", tok.LastMessage, tok.RefreshFailures)
	}
	// An outage inside the margin: the still-valid token keeps working.
	e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	})
	e.clock.Add(58 * time.Minute)
	if status, _ := e.get(t, "api", "/me"); status != 200 {
		t.Errorf("a valid token during an outage: %d", status)
	}
	if tok := e.token(t, "api"); !strings.Contains(tok.LastMessage, "503") {
		t.Errorf("lastMessage during the outage: %q", tok.LastMessage)
	}
}

// ccRefusedFetch: with a wrong client secret, signing fails with
// REFRESH_FAILED, records the failure in words without the secret, and
// signs nothing.
func ccRefusedFetch(t *testing.T, e *env) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	err := e.m.Sign(context.Background(), "api", req)
	tok := e.token(t, "api")
	if CodeOf(err) != CodeRefreshFailed || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "client_credentials") {
		t.Fatalf("wrong client secret: %v, want REFRESH_FAILED naming invalid_client", err)
	}
	if tok.State != store.StateUnauthorized || !strings.Contains(tok.LastMessage, "invalid_client") || tok.RefreshFailures != 1 {
		t.Errorf("after a refused fetch: state %s, lastMessage %q, failures %d", tok.State, tok.LastMessage, tok.RefreshFailures)
	}
	for _, msg := range []string{err.Error(), tok.LastMessage} {
		if strings.Contains(msg, "wrong-client-SECRET-value") {
			t.Errorf("message %q contains the client secret", msg)
		}
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("a request was signed although no token could be fetched")
	}
}

// Several OS processes sharing one home use a client-credentials token that
// was never fetched, all at once: one token request in all.
func TestProcessesShareOneFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes")
	}
	e := ccEnv(t, envOpts{}, nil)
	for _, err := range runHelpers(t, e, 3, 30, 0) {
		t.Error(err)
	}
	if n := e.srv.Stats().TokenRequests["client_credentials"]; n != 1 {
		t.Errorf("3 processes x 30 callers: %d token requests, want 1", n)
	}
}

func TestClientCredentialsConfig(t *testing.T) {
	p := store.Provider{ClientID: "id", ClientSecret: "s", TokenURL: "https://x/token", AuthStyle: store.AuthStyleBody, Scopes: []string{"a"},
		TokenParams: map[string]string{"audience": "aud", "scope": "b", "client_id": "other"}}
	cfg := clientCredentialsConfig(p, store.Token{})
	if got := fmt.Sprint(cfg.Scopes, cfg.EndpointParams); got != "[a] map[audience:[aud]]" {
		t.Errorf("with scopes: %s", got)
	}
	p.Scopes = nil
	cfg = clientCredentialsConfig(p, store.Token{})
	if got := fmt.Sprint(cfg.Scopes, cfg.EndpointParams); got != "[] map[audience:[aud] scope:[b]]" {
		t.Errorf("without scopes: %s", got)
	}
}
