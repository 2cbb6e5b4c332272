package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// start runs a sandbox for the test.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// callback is a client's redirect URI: it records the queries it receives.
type callback struct {
	*httptest.Server
	mu   sync.Mutex
	hits []url.Values
}

func newCallback(t *testing.T) *callback {
	t.Helper()
	cb := &callback{}
	cb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cb.mu.Lock()
		cb.hits = append(cb.hits, r.URL.Query())
		cb.mu.Unlock()
		io.WriteString(w, "signed in")
	}))
	t.Cleanup(cb.Close)
	return cb
}

func (cb *callback) URI() string { return cb.URL + "/callback" }

func (cb *callback) count() int {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return len(cb.hits)
}

// config is an x/oauth2 client for s, redirecting to redirectURI.
func config(s *Server, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     s.ClientID(),
		ClientSecret: s.ClientSecret(),
		Endpoint:     s.Endpoint(),
		RedirectURL:  redirectURI,
		Scopes:       []string{"read", "write"},
	}
}

// authorize runs the authorization-code flow with PKCE through the login
// page and returns the token.
func authorize(t *testing.T, s *Server, cfg *oauth2.Config) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	got, err := SignIn(t.Context(), cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "demo", "demo")
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	tok, err := cfg.Exchange(t.Context(), got.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}

// code signs in and returns the authorization code.
func code(t *testing.T, authURL string) string {
	t.Helper()
	got, err := SignIn(t.Context(), authURL, "demo", "demo")
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	c := got.Query().Get("code")
	if c == "" {
		t.Fatalf("SignIn ended at %v, want a code", got)
	}
	return c
}

// refresh asks for a new token with refreshToken.
func refresh(ctx context.Context, cfg *oauth2.Config, refreshToken string) (*oauth2.Token, error) {
	return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// call sends method to s's API path with the access token (none if "").
func call(t *testing.T, s *Server, method, path, accessToken string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// oauthErr returns err's OAuth error code and HTTP status.
func oauthErr(err error) (string, int) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return "", 0
	}
	return re.ErrorCode, re.Response.StatusCode
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get fetches u without following redirects.
func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func location(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("status %s, no Location: %v", resp.Status, err)
	}
	return loc
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
