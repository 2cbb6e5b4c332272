package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestExchangeErrors(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	tests := []struct {
		name       string
		opts       Options
		challenge  bool // send an S256 code_challenge
		exchange   func(cfg *oauth2.Config, verifier string) []oauth2.AuthCodeOption
		client     func(cfg *oauth2.Config) // what the client gets wrong
		twice      bool                     // exchange the code a second time
		wantError  string
		wantStatus int
	}{
		{
			name: "PKCE required, verifier missing", opts: Options{RequirePKCE: true}, challenge: true,
			wantError: "invalid_request", wantStatus: 400,
		},
		{
			name: "wrong verifier", opts: Options{RequirePKCE: true}, challenge: true,
			exchange: func(*oauth2.Config, string) []oauth2.AuthCodeOption {
				return []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
			},
			wantError: "invalid_grant", wantStatus: 400,
		},
		{
			name: "PKCE optional, challenge sent, verifier missing", challenge: true,
			wantError: "invalid_grant", wantStatus: 400,
		},
		{
			name: "verifier for a code issued without challenge",
			exchange: func(*oauth2.Config, string) []oauth2.AuthCodeOption {
				return []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
			},
			wantError: "invalid_grant", wantStatus: 400,
		},
		{
			name: "body auth against a header server", opts: Options{AuthStyle: AuthStyleHeader},
			client:    func(c *oauth2.Config) { c.Endpoint.AuthStyle = oauth2.AuthStyleInParams },
			wantError: "invalid_client", wantStatus: 401,
		},
		{
			name: "header auth against a body server", opts: Options{AuthStyle: AuthStyleBody},
			client:    func(c *oauth2.Config) { c.Endpoint.AuthStyle = oauth2.AuthStyleInHeader },
			wantError: "invalid_client", wantStatus: 401,
		},
		{
			name:      "wrong client secret",
			client:    func(c *oauth2.Config) { c.ClientSecret = "guess" },
			wantError: "invalid_client", wantStatus: 401,
		},
		{
			name:      "wrong client ID",
			client:    func(c *oauth2.Config) { c.ClientID = "other" },
			wantError: "invalid_client", wantStatus: 401,
		},
		{
			name:      "redirect URI differs from the authorization request",
			client:    func(c *oauth2.Config) { c.RedirectURL = cb.URL + "/elsewhere" },
			wantError: "invalid_grant", wantStatus: 400,
		},
		{
			name: "code used twice", twice: true,
			wantError: "invalid_grant", wantStatus: 400,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, tt.opts)
			cfg := config(s, cb.URI())
			verifier := oauth2.GenerateVerifier()
			var authOpts, exOpts []oauth2.AuthCodeOption
			if tt.challenge {
				authOpts = append(authOpts, oauth2.S256ChallengeOption(verifier))
			}
			c := code(t, cfg.AuthCodeURL("st", authOpts...))
			if tt.exchange != nil {
				exOpts = tt.exchange(cfg, verifier)
			} else if tt.challenge && tt.wantError == "" {
				exOpts = append(exOpts, oauth2.VerifierOption(verifier))
			}
			if tt.twice {
				if _, err := cfg.Exchange(t.Context(), c, exOpts...); err != nil {
					t.Fatalf("first exchange: %v", err)
				}
			}
			if tt.client != nil {
				tt.client(cfg)
			}
			_, err := cfg.Exchange(t.Context(), c, exOpts...)
			if code, status := oauthErr(err); code != tt.wantError || status != tt.wantStatus {
				t.Errorf("Exchange error = %v (%q, %d), want %q with status %d", err, code, status, tt.wantError, tt.wantStatus)
			}
			if st := s.Stats(); st.FailedRequests != 1 {
				t.Errorf("FailedRequests = %d, want 1", st.FailedRequests)
			}
		})
	}
}

// TestTokenEndpointRaw checks the wire format x/oauth2 hides.
func TestTokenEndpointRaw(t *testing.T) {
	t.Parallel()
	s := start(t, Options{AuthStyle: AuthStyleBody})
	post := func(form url.Values, basic bool) (*http.Response, map[string]any) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("token response is not JSON: %v", err)
		}
		return resp, m
	}
	creds := func(kv ...string) url.Values {
		v := url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name       string
		form       url.Values
		basic      bool
		wantStatus int
		wantError  string
	}{
		{"client credentials", creds("grant_type", "client_credentials"), false, 200, ""},
		{"both auth styles at once", creds("grant_type", "client_credentials"), true, 401, "invalid_client"},
		{"password grant", creds("grant_type", "password", "username", "demo", "password", "demo"), false, 400, "unsupported_grant_type"},
		{"no grant type", creds(), false, 400, "unsupported_grant_type"},
		{"unknown refresh token", creds("grant_type", "refresh_token", "refresh_token", "nope"), false, 400, "invalid_grant"},
		{"missing refresh token", creds("grant_type", "refresh_token"), false, 400, "invalid_request"},
		{"unknown code", creds("grant_type", "authorization_code", "code", "nope", "redirect_uri", "http://127.0.0.1/cb"), false, 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, m := post(tt.form, tt.basic)
			if resp.StatusCode != tt.wantStatus || (tt.wantError != "" && m["error"] != tt.wantError) {
				t.Fatalf("got %s %v, want %d %q", resp.Status, m, tt.wantStatus, tt.wantError)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if tt.wantError != "" {
				return
			}
			for _, k := range []string{"access_token", "token_type", "expires_in", "instance_url"} {
				if _, ok := m[k]; !ok {
					t.Errorf("token response lacks %s: %v", k, m)
				}
			}
		})
	}
	if st := s.Stats(); st.TokenRequests["client_credentials"] != 2 || st.TokenRequests["other"] != 2 || st.TokenRequests["refresh_token"] != 2 {
		t.Errorf("TokenRequests = %v", st.TokenRequests)
	}
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	s := start(t, Options{})
	cfg := config(s, cb.URI())
	tok := authorize(t, s, cfg)

	s.ExpireAccessTokens()
	resp, body := call(t, s, http.MethodGet, "/api/me", tok.AccessToken, nil)
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) || !strings.Contains(string(body), "expired") {
		t.Fatalf("API with an expired token: %s %q %s, want 401 invalid_token, expired", resp.Status, resp.Header.Get("WWW-Authenticate"), body)
	}

	next, err := refresh(t.Context(), cfg, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Errorf("refresh returned the same tokens, want new access and refresh tokens")
	}
	if next.Extra("instance_url") != s.URL() {
		t.Errorf("refreshed instance_url = %v, want %s", next.Extra("instance_url"), s.URL())
	}
	if resp, body := call(t, s, http.MethodGet, "/api/me", next.AccessToken, nil); resp.StatusCode != 200 {
		t.Errorf("API with the refreshed token: %s %s", resp.Status, body)
	}

	_, err = refresh(t.Context(), cfg, tok.RefreshToken)
	if code, status := oauthErr(err); code != "invalid_grant" || status != 400 {
		t.Errorf("refresh with the rotated-out token: %v, want invalid_grant 400", err)
	}
	st := s.Stats()
	if st.RefreshTokenReuse != 1 || st.RefreshRequests != 2 || st.APIRejected != 1 {
		t.Errorf("stats = %+v, want RefreshTokenReuse 1, RefreshRequests 2, APIRejected 1", st)
	}

	// The chain goes on from the newest token.
	if _, err := refresh(t.Context(), cfg, next.RefreshToken); err != nil {
		t.Errorf("refresh with the newest token: %v", err)
	}
}

func TestKeepRefreshTokens(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	s := start(t, Options{KeepRefreshTokens: true, AuthStyle: AuthStyleBody})
	cfg := config(s, cb.URI())
	tok := authorize(t, s, cfg)

	// Raw, to see that the response has no refresh_token.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
	resp, err := http.PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if _, ok := m["refresh_token"]; resp.StatusCode != 200 || ok {
		t.Errorf("refresh without rotation: %s %v, want 200 without refresh_token", resp.Status, m)
	}
	if r, _ := call(t, s, http.MethodGet, "/api/me", tok.AccessToken, nil); r.StatusCode != 401 {
		t.Errorf("previous access token after refresh: %s, want 401", r.Status)
	}
	for i := range 3 {
		next, err := refresh(t.Context(), cfg, tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh %d with the same token: %v", i+2, err)
		}
		if next.RefreshToken != tok.RefreshToken {
			t.Errorf("x/oauth2 should keep the refresh token it had")
		}
	}
	if st := s.Stats(); st.RefreshTokenReuse != 3 || st.FailedRequests != 0 {
		t.Errorf("stats = %+v, want RefreshTokenReuse 3 (every refresh after the first), no failures", st)
	}
}

func TestAccessTokenLifetime(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	s := start(t, Options{AccessTTL: time.Second})
	cfg := config(s, cb.URI())
	before := time.Now()
	tok := authorize(t, s, cfg)
	if r, body := call(t, s, http.MethodGet, "/api/me", tok.AccessToken, nil); r.StatusCode != 200 {
		t.Fatalf("fresh token: %s %s", r.Status, body)
	}
	// expires_in is AccessTTL; the library's wall clock cannot be set, so
	// the lifetime is made to pass with ExpireAccessTokens, which dates the
	// token back by that expires_in.
	if tok.Expiry.Before(before.Add(time.Second)) || tok.Expiry.After(time.Now().Add(time.Second)) {
		t.Errorf("token expiry %v, want AccessTTL (1s) after it was issued at %v", tok.Expiry, before)
	}
	s.ExpireAccessTokens()
	if r, body := call(t, s, http.MethodGet, "/api/me", tok.AccessToken, nil); r.StatusCode != 401 || !strings.Contains(string(body), "expired") {
		t.Errorf("token after its lifetime: %s %s, want 401 expired", r.Status, body)
	}
	// x/oauth2 sees the expiry too and refreshes by itself.
	res, err := cfg.Client(t.Context(), tok).Get(s.APIURL() + "/me")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || s.Stats().RefreshRequests != 1 {
		t.Errorf("x/oauth2 client: %s after %d refreshes, want 200 after 1", res.Status, s.Stats().RefreshRequests)
	}
}

func TestTokenFault(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	s := start(t, Options{})
	cfg := config(s, cb.URI())
	tok := authorize(t, s, cfg)

	var seen []string
	var mu sync.Mutex
	s.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		_ = r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.PostForm.Get("grant_type"))
		if len(seen) > 1 {
			return false
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "<html>maintenance</html>")
		return true
	})
	_, err := refresh(t.Context(), cfg, tok.RefreshToken)
	if _, status := oauthErr(err); status != 503 {
		t.Fatalf("refresh during the fault: %v, want a 503", err)
	}
	if _, err := refresh(t.Context(), cfg, tok.RefreshToken); err != nil {
		t.Fatalf("refresh after the fault (the hook passed it on, body intact): %v", err)
	}
	s.SetTokenFault(nil)
	if fmt.Sprint(seen) != "[refresh_token refresh_token]" {
		t.Errorf("hook saw grant types %v, want two refresh_token", seen)
	}
	if st := s.Stats(); st.InjectedFaults != 1 || st.RefreshRequests != 2 || st.FailedRequests != 0 || st.RefreshTokenReuse != 0 {
		t.Errorf("stats = %+v, want 1 fault, 2 refresh requests, no failures, no reuse", st)
	}
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	tests := []struct {
		name   string
		revoke func(t *testing.T, s *Server, tok *oauth2.Token)
	}{
		{"RevokeAll", func(_ *testing.T, s *Server, _ *oauth2.Token) { s.RevokeAll() }},
		{"RevokeToken", func(t *testing.T, s *Server, tok *oauth2.Token) {
			if !s.RevokeToken(tok.RefreshToken) {
				t.Error("RevokeToken did not know the refresh token")
			}
		}},
		{"revocation endpoint", func(t *testing.T, s *Server, tok *oauth2.Token) {
			for _, token := range []string{tok.RefreshToken, "unknown"} {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.RevocationURL(), strings.NewReader(url.Values{"token": {token}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("revoking %s: %s, want 200", token, resp.Status)
				}
			}
			if n := s.Stats().Revocations; n != 1 {
				t.Errorf("Revocations = %d, want 1", n)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, Options{})
			cfg := config(s, cb.URI())
			tok := authorize(t, s, cfg)
			tt.revoke(t, s, tok)
			_, err := refresh(t.Context(), cfg, tok.RefreshToken)
			if code, _ := oauthErr(err); code != "invalid_grant" {
				t.Errorf("refresh after revocation: %v, want invalid_grant", err)
			}
			if r, _ := call(t, s, http.MethodGet, "/api/me", tok.AccessToken, nil); r.StatusCode != 401 {
				t.Errorf("API after revocation: %s, want 401", r.Status)
			}
		})
	}
	t.Run("revocation needs client auth", func(t *testing.T) {
		s := start(t, Options{})
		resp, err := http.PostForm(s.RevocationURL(), url.Values{"token": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("unauthenticated revocation: %s, want 401", resp.Status)
		}
	})
}

// TestConcurrentRefreshOneWinner: 100 clients present the same refresh
// token at once; exactly one may win and the rest count as reuse.
func TestConcurrentRefreshOneWinner(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	s := start(t, Options{})
	cfg := config(s, cb.URI())
	tok := authorize(t, s, cfg)

	const n = 100
	// Hold every request at the token endpoint until all have arrived, so
	// they reach the authorization server together.
	var arrived sync.WaitGroup
	arrived.Add(n)
	s.SetTokenFault(func(http.ResponseWriter, *http.Request) bool {
		arrived.Done()
		arrived.Wait()
		return false
	})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = refresh(t.Context(), cfg, tok.RefreshToken) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if code, _ := oauthErr(err); code != "invalid_grant" {
			t.Errorf("losing refresh: %v, want invalid_grant", err)
		}
	}
	st := s.Stats()
	if won != 1 || st.RefreshTokenReuse != n-1 || st.RefreshRequests != n {
		t.Errorf("%d refreshes won, stats %+v; want 1 winner, %d reuses, %d requests", won, st, n-1, n)
	}
}

// TestConcurrentClients: 100 independent clients sign in, exchange, and
// alternate refreshes with API calls at the same time.
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	cb := newCallback(t)
	s := start(t, Options{RequirePKCE: true})
	const clients, rounds = 100, 3
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			if err := runClient(ctx, s, config(s, cb.URI()), i, rounds); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := s.Stats()
	if st.Authorizations != clients || st.RefreshRequests != clients*rounds || st.RefreshTokenReuse != 0 || st.FailedRequests != 0 || st.APIRejected != 0 || st.APICalls != clients*(rounds+1) {
		t.Errorf("stats = %+v", st)
	}
}

func runClient(ctx context.Context, s *Server, cfg *oauth2.Config, i, rounds int) error {
	verifier := oauth2.GenerateVerifier()
	state := fmt.Sprint("client-", i)
	got, err := SignIn(ctx, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), "demo", "demo")
	if err != nil {
		return err
	}
	if got.Query().Get("state") != state {
		return fmt.Errorf("state %q, want %q", got.Query().Get("state"), state)
	}
	tok, err := cfg.Exchange(ctx, got.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return err
	}
	for r := 0; ; r++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.APIURL()+"/me", nil)
		tok.SetAuthHeader(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("API: %s", resp.Status)
		}
		if r == rounds {
			return nil
		}
		if tok, err = refresh(ctx, cfg, tok.RefreshToken); err != nil {
			return err
		}
	}
}
