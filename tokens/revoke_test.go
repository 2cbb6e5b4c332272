package tokens

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
)

// bearerStatus calls the sandbox API with a raw access token, as anyone
// holding a copy of it could.
func bearerStatus(t *testing.T, e *env, access string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// refreshWith tries a refresh token directly at the sandbox.
func refreshWith(e *env, style, refresh string) error {
	ep := e.srv.Endpoint()
	if style == store.AuthStyleBody {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	cfg := &oauth2.Config{ClientID: e.srv.ClientID(), ClientSecret: e.srv.ClientSecret(), Endpoint: ep}
	_, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: refresh}).Token()
	return err
}

// Revoking at a real RFC 7009 endpoint: afterwards the old access token is
// refused by the API, the old refresh token by the token endpoint, and the
// token holds nothing; a new authorization brings it back.
func TestRevokeAtProvider(t *testing.T) {
	for _, style := range []string{store.AuthStyleHeader, store.AuthStyleBody} {
		t.Run(style, func(t *testing.T) {
			e := newEnv(t, envOpts{style: style, sandbox: sandbox.Options{AuthStyle: style}})
			e.provider(t, func(p *store.Provider) { p.RevocationURL = e.srv.RevocationURL() })
			old := e.authorize(t, "api")
			if status := e.call(t, "api", "/me"); status != 200 {
				t.Fatalf("before revoking: %d", status)
			}
			r, err := e.m.Revoke(context.Background(), "api", RevokeOptions{})
			if err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			if r.Endpoint != e.srv.RevocationURL() || strings.Join(r.Revoked, ",") != "refresh_token,access_token" || r.NotRevoked != "" {
				t.Errorf("Revocation = %+v", r)
			}
			revokedEverywhere(t, e, style, old, r)
			req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
			if err := e.m.Sign(context.Background(), "api", req); CodeOf(err) != CodeUnauthorized {
				t.Errorf("Sign after revocation (same process, no waiting for the cache): %v, want TOKEN_UNAUTHORIZED", err)
			}
			e.authorize(t, "api")
			if status := e.call(t, "api", "/me"); status != 200 {
				t.Errorf("after a new authorization: %d", status)
			}
		})
	}
}

// revokedEverywhere: the provider counted a revocation, refuses the old
// access and refresh tokens, and the store holds nothing for the token.
func revokedEverywhere(t *testing.T, e *env, style string, old store.Token, r Revocation) {
	t.Helper()
	if n := e.srv.Stats().Revocations; n < 1 {
		t.Errorf("the sandbox counted %d revocations", n)
	}
	if status := bearerStatus(t, e, old.Secret.AccessToken); status != 401 {
		t.Errorf("the old access token after revocation: API %d, want 401", status)
	}
	if err := refreshWith(e, style, old.Secret.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("the old refresh token after revocation: %v, want invalid_grant", err)
	}
	tok := e.token(t, "api")
	if !tok.Secret.IsZero() || tok.State != store.StateUnauthorized || !tok.Expires.IsZero() || r.Token.State != store.StateUnauthorized {
		t.Errorf("stored after revocation: state %s, secret empty %v, expires %v", tok.State, tok.Secret.IsZero(), tok.Expires)
	}
}

// A provider that refuses: nothing is cleared and the error says why and
// what to do, without secrets; --local then clears here only.
func TestRevokeRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.provider(t, func(p *store.Provider) { p.RevocationURL = e.srv.RevocationURL() })
	old := e.authorize(t, "api")
	e.provider(t, func(p *store.Provider) { p.ClientSecret = "wrong-client-SECRET-value" })
	_, err := e.m.Revoke(context.Background(), "api", RevokeOptions{})
	if CodeOf(err) != CodeRevokeFailed || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "nothing was cleared") || !strings.Contains(err.Error(), "--local") {
		t.Fatalf("Revoke with a wrong client secret: %v", err)
	}
	noSecretIn(t, err.Error(), old.Secret.AccessToken, old.Secret.RefreshToken, "wrong-client-SECRET-value")
	if tok := e.token(t, "api"); tok.Secret.RefreshToken != old.Secret.RefreshToken || tok.State != store.StateAuthorized {
		t.Fatal("a refused revocation cleared the token")
	}
	r, err := e.m.Revoke(context.Background(), "api", RevokeOptions{Local: true})
	if err != nil || r.Endpoint != "" || len(r.Revoked) != 0 || !strings.Contains(r.NotRevoked, "stay valid") {
		t.Fatalf("local Revoke: %+v, %v", r, err)
	}
	if tok := e.token(t, "api"); !tok.Secret.IsZero() || tok.State != store.StateUnauthorized {
		t.Error("a local revocation did not clear the token")
	}
	if status := bearerStatus(t, e, old.Secret.AccessToken); status != 200 {
		t.Errorf("the provider was called although the revocation was local (old token: %d)", status)
	}
}

// noSecretIn fails t when msg contains one of secrets.
func noSecretIn(t *testing.T, msg string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("%q contains a secret", msg)
		}
	}
}

// Faults that are not answers: down, slow.
func TestRevokeEndpointFaults(t *testing.T) {
	for _, tt := range []struct{ name, url, want string }{
		{"down", "http://127.0.0.1:1/revoke", "cannot reach the revocation endpoint"},
		{"not RFC 7009", "", "HTTP 404"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			u := tt.url
			if u == "" {
				u = e.srv.URL() + "/no-such-endpoint"
			}
			e.provider(t, func(p *store.Provider) { p.RevocationURL = u })
			e.authorize(t, "api")
			if _, err := e.m.Revoke(context.Background(), "api", RevokeOptions{}); CodeOf(err) != CodeRevokeFailed || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Revoke: %v, want REVOKE_FAILED saying %q", err, tt.want)
			}
			if e.token(t, "api").Secret.IsZero() {
				t.Error("a failed revocation cleared the token")
			}
		})
	}
}

// Without a revocation URL, or for the static types, revoking clears the
// stored credential and says what it did not do.
func TestRevokeLocal(t *testing.T) {
	e := newEnv(t, envOpts{})
	old := e.authorize(t, "api")
	r, err := e.m.Revoke(context.Background(), "api", RevokeOptions{})
	if err != nil || r.Endpoint != "" || !strings.Contains(r.NotRevoked, "no revocation URL") {
		t.Fatalf("Revoke without a revocation URL: %+v, %v", r, err)
	}
	if tok := e.token(t, "api"); !tok.Secret.IsZero() || tok.State != store.StateUnauthorized {
		t.Error("not cleared")
	}
	if status := bearerStatus(t, e, old.Secret.AccessToken); status != 200 {
		t.Errorf("a local revocation reached the provider (%d)", status)
	}
	if _, err := e.m.Revoke(context.Background(), "nope", RevokeOptions{}); CodeOf(err) != CodeNotFound {
		t.Errorf("Revoke of a missing token: %v", err)
	}
	rv := newReceiver(t)
	for _, typ := range []string{store.TypeBasic, store.TypeAPIKey, store.TypeBearer, store.TypeHMACBody} {
		revokeStatic(t, e, rv, typ)
	}
}

// revokeStatic revokes a signing static token of type typ: nothing is
// called, the credential and expiry are erased (a basic token keeps its
// user name) and the token no longer signs.
func revokeStatic(t *testing.T, e *env, rv *receiver, typ string) {
	t.Helper()
	tok := staticToken(typ, typ, rv.URL)
	tok.Expires = e.clock.Now().Add(time.Hour)
	e.put(t, tok)
	req, _ := http.NewRequest("GET", rv.URL, nil)
	if err := e.m.Sign(context.Background(), typ, req); err != nil {
		t.Fatal(err)
	}
	r, err := e.m.Revoke(context.Background(), typ, RevokeOptions{})
	if err != nil || r.Endpoint != "" {
		t.Fatalf("%s: Revoke: %+v, %v", typ, r, err)
	}
	got := e.token(t, typ)
	if !got.Secret.IsZero() || got.State != store.StateUnauthorized || !got.Expires.IsZero() {
		t.Errorf("%s after revocation: state %s, secret empty %v, expires %v", typ, got.State, got.Secret.IsZero(), got.Expires)
	}
	if typ == store.TypeBasic && got.Username != "svc-user" {
		t.Error("revoking a basic token dropped its user name")
	}
	if err := e.m.Sign(context.Background(), typ, req); CodeOf(err) != CodeUnauthorized {
		t.Errorf("%s: Sign after revocation: %v, want TOKEN_UNAUTHORIZED", typ, err)
	}
}

// A client-credentials token's access token is revoked; the next use
// fetches a new one (deactivate the token to stop it).
func TestRevokeClientCredentials(t *testing.T) {
	e := ccEnv(t, envOpts{}, func(p *store.Provider) { p.RevocationURL = "" })
	e.provider(t, func(p *store.Provider) { p.RevocationURL = e.srv.RevocationURL() })
	e.get(t, "api", "/me")
	old := e.token(t, "api")
	r, err := e.m.Revoke(context.Background(), "api", RevokeOptions{})
	if err != nil || strings.Join(r.Revoked, ",") != "access_token" {
		t.Fatalf("Revoke: %+v, %v", r, err)
	}
	if status := bearerStatus(t, e, old.Secret.AccessToken); status != 401 {
		t.Errorf("old client-credentials token after revocation: %d, want 401", status)
	}
	if status, _ := e.get(t, "api", "/me"); status != 200 || e.srv.Stats().TokenRequests["client_credentials"] != 2 {
		t.Errorf("next use after revocation: %d, %d fetches", status, e.srv.Stats().TokenRequests["client_credentials"])
	}
}

// Revoke waits for a refresh in flight and revokes what it stored: the
// rotated refresh token does not survive.
func TestRevokeDuringRefresh(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.provider(t, func(p *store.Provider) { p.RevocationURL = e.srv.RevocationURL() })
	e.authorize(t, "api")
	// The refresh is held at the provider (with the token's lock) until
	// Revoke has been called.
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		once.Do(func() { close(entered) })
		<-release
		return false
	})
	e.clock.Add(2 * time.Hour)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
		done <- e.m.Sign(context.Background(), "api", req)
	}()
	<-entered
	revoked, calling := make(chan error, 1), make(chan struct{})
	go func() {
		close(calling)
		_, err := e.m.Revoke(context.Background(), "api", RevokeOptions{})
		revoked <- err
	}()
	<-calling
	select {
	case err := <-revoked:
		t.Fatalf("Revoke returned (%v) while a refresh held the token's lock", err)
	default:
	}
	// Revoke reaches the token's lock long before the released refresh
	// has stored its answer (an HTTP round trip and an fsync); should it
	// come later, it still revokes what the refresh stored.
	releaseOnce()
	if err := <-revoked; err != nil {
		t.Fatalf("Revoke during a refresh: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the refresh: %v", err)
	}
	if tok := e.token(t, "api"); !tok.Secret.IsZero() {
		t.Fatal("the refresh stored its token set after the revocation")
	}
	// The sandbox counts only revocations of tokens it knows: had Revoke
	// sent the token set from before the refresh (rotated away by then),
	// it would count none.
	if st := e.srv.Stats(); st.RefreshRequests != 1 || st.Revocations != 1 {
		t.Errorf("refreshes %d (want 1), revocations of live tokens %d (want 1: the refresh token the refresh stored)", st.RefreshRequests, st.Revocations)
	}
}
