package tokens

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/scriptrun/scriptrun/store"
)

// Which refusals of a refresh mean the refresh token is dead: invalid_grant,
// and any 400 whose error is neither the client's nor transient (dex answers
// invalid_request for an expired, reused or restart-invalidated one).
func TestDeadRefreshToken(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   bool
	}{
		{400, "invalid_grant", true},
		{401, "invalid_grant", true},
		{400, "invalid_request", true}, // dex
		{400, "invalid_scope", true},
		{400, "unsupported_grant_type", true},
		{400, "invalid_client", false},
		{401, "invalid_client", false},
		{400, "unauthorized_client", false},
		{400, "temporarily_unavailable", false},
		{400, "server_error", false},
		{400, "slow_down", false},
		{400, "", false}, // no OAuth answer: a proxy's page
		{401, "invalid_request", false},
		{500, "invalid_request", false},
		{503, "temporarily_unavailable", false},
	}
	for _, tt := range tests {
		err := fmt.Errorf("wrapped: %w", &oauth2.RetrieveError{Response: &http.Response{StatusCode: tt.status}, ErrorCode: tt.code})
		if got := deadRefreshToken(err); got != tt.want {
			t.Errorf("HTTP %d %q: dead = %v, want %v", tt.status, tt.code, got, tt.want)
		}
	}
	if deadRefreshToken(context.DeadlineExceeded) {
		t.Error("a timeout was taken for a dead refresh token")
	}
}

// dexEndpoint makes the sandbox's token endpoint answer every refresh as dex
// does for a dead refresh token, and counts how often each refresh token was
// presented.
func dexEndpoint(e *env) (presented func(rt string) int) {
	var mu sync.Mutex
	seen := map[string]int{}
	e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
			return false
		}
		mu.Lock()
		seen[r.PostForm.Get("refresh_token")]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_request","error_description":"Refresh token is invalid or has already been claimed by another client."}`)
		return true
	})
	return func(rt string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[rt]
	}
}

// A dead refresh token as dex reports it moves the token to reauth_required
// and is sent exactly once, however many calls and processes need it.
func TestDexDeadRefreshTokenSentOnce(t *testing.T) {
	var events []Event
	var mu sync.Mutex
	e := newEnv(t, envOpts{onEvent: func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Kind != EventAuthorized {
			events = append(events, ev)
		}
	}})
	e.authorize(t, "api")
	rt := e.token(t, "api").Secret.RefreshToken
	presented := dexEndpoint(e)

	if !testing.Short() {
		// Three processes, ten callers each, all past the expiry at once.
		runHelpers(t, e, 3, 10, 2*time.Hour) // callers may be refused: their errors are expected
	}
	e.clock.Add(2 * time.Hour)
	callsRefused(t, e, 5)
	if n := presented(rt); n != 1 {
		t.Errorf("the dead refresh token was sent %d times, want 1", n)
	}
	tok := e.token(t, "api")
	if tok.State != store.StateReauthRequired || !strings.Contains(tok.LastMessage, "already been claimed") {
		t.Errorf("stored: state %s, lastMessage %q; want reauth_required with dex's reason", tok.State, tok.LastMessage)
	}
	// This process sends it only when no helper process did.
	mu.Lock()
	if testing.Short() && (len(events) != 1 || events[0].Kind != EventReauthRequired) || !testing.Short() && len(events) != 0 {
		t.Errorf("events = %+v, want one reauth_required, or none after the helper processes", events)
	}
	mu.Unlock()
	// A new authorization repairs it; its refresh token is a new one.
	if tok := e.authorize(t, "api"); tok.State != store.StateAuthorized || tok.Secret.RefreshToken == rt {
		t.Errorf("after reauthorization: state %s", tok.State)
	}
}

// callsRefused makes n calls and a forced refresh of token "api", each
// refused with REAUTH_REQUIRED naming dex's error.
func callsRefused(t *testing.T, e *env, n int) {
	t.Helper()
	for i := range n {
		req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
		err := e.m.Sign(context.Background(), "api", req)
		if CodeOf(err) != CodeReauthRequired || !strings.Contains(err.Error(), "invalid_request") {
			t.Fatalf("call %d: %v, want REAUTH_REQUIRED naming dex's invalid_request", i, err)
		}
		e.clock.Add(3 * time.Second) // past the cache: each call reads the store
	}
	if _, err := e.m.Refresh(context.Background(), "api"); CodeOf(err) != CodeReauthRequired {
		t.Errorf("token refresh: %v, want REAUTH_REQUIRED", err)
	}
}

// The failures that may pass leave the token authorized and are retried.
func TestRefreshRefusalsThatMayPass(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"invalid_client", 401, `{"error":"invalid_client"}`},
		{"unauthorized_client", 400, `{"error":"unauthorized_client"}`},
		{"temporarily_unavailable", 400, `{"error":"temporarily_unavailable"}`},
		{"slow_down", 400, `{"error":"slow_down"}`},
		{"400 without an OAuth error", 400, `<html>bad request</html>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.authorize(t, "api")
			e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
				return true
			})
			e.clock.Add(2 * time.Hour)
			for range 2 {
				if _, err := e.m.Refresh(context.Background(), "api"); CodeOf(err) != CodeRefreshFailed {
					t.Fatalf("Refresh: %v, want REFRESH_FAILED", err)
				}
			}
			if tok := e.token(t, "api"); tok.State != store.StateAuthorized || tok.RefreshFailures != 2 {
				t.Errorf("state %s, failures %d; want authorized with 2 failures", tok.State, tok.RefreshFailures)
			}
		})
	}
}
