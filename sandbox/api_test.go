package sandbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// clientToken gets an access token with the client_credentials grant, the
// quickest way to a valid token.
func clientToken(t *testing.T, s *Server) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.TokenURL(), strings.NewReader("grant_type=client_credentials&scope=read"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := decode[struct {
		AccessToken string `json:"access_token"`
	}](t, b)
	if m.AccessToken == "" {
		t.Fatalf("client_credentials: %s %s", resp.Status, b)
	}
	return m.AccessToken
}

func TestAPI(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	tok := clientToken(t, s)
	tests := []struct {
		name, method, path, token, body string
		header                          map[string]string
		wantStatus                      int
		want                            []string // substrings of the response body
		wantAuth                        string   // substring of WWW-Authenticate
	}{
		{name: "me", method: "GET", path: "/api/me", token: tok, wantStatus: 200, want: []string{`"client":"sandbox-client"`, `"scope":"read"`}},
		{name: "items", method: "GET", path: "/api/items?n=2", token: tok, wantStatus: 200, want: []string{`[{"id":1,"name":"Item 1","done":false},{"id":2,"name":"Item 2","done":true}]`}},
		{name: "items default", method: "GET", path: "/api/items", token: tok, wantStatus: 200, want: []string{`"id":3`}},
		{name: "items zero", method: "GET", path: "/api/items?n=0", token: tok, wantStatus: 200, want: []string{`[]`}},
		{name: "items bad n", method: "GET", path: "/api/items?n=-1", token: tok, wantStatus: 400, want: []string{`"error":"invalid_request"`}},
		{
			name: "echo", method: "PATCH", path: "/api/echo?a=1&b=two", token: tok, body: `{"x":1}`,
			header:     map[string]string{"Content-Type": "application/json", "X-Trace": "t1", "Cookie": "c=secret"},
			wantStatus: 200,
			want:       []string{`"method":"PATCH"`, `"content_type":"application/json"`, `"body":"{\"x\":1}"`, `"query":{"a":"1","b":"two"}`, `"raw_query":"a=1\u0026b=two"`, `"x-trace":"t1"`},
		},
		{name: "slow", method: "GET", path: "/api/slow?ms=10", token: tok, wantStatus: 200, want: []string{`"waited_ms":10`}},
		{name: "unknown endpoint", method: "GET", path: "/api/nope", token: tok, wantStatus: 404, want: []string{`"error":"not_found"`}},
		{name: "wrong method", method: "POST", path: "/api/me", token: tok, wantStatus: 405},
		{name: "no token", method: "GET", path: "/api/me", wantStatus: 401, want: []string{`"error":"unauthorized"`}, wantAuth: `Bearer realm="sandbox"`},
		{name: "bad token", method: "GET", path: "/api/me", token: "forged", wantStatus: 401, want: []string{`"error":"invalid_token"`}, wantAuth: `error="invalid_token"`},
		{name: "basic auth is not a token", method: "GET", path: "/api/me", header: map[string]string{"Authorization": "Basic eDp5"}, wantStatus: 401},
		{name: "scheme is case-insensitive", method: "GET", path: "/api/me", header: map[string]string{"Authorization": "bearer " + tok}, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, s.URL()+tt.path, strings.NewReader(tt.body))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != tt.wantStatus || !contains(body, tt.want...) {
				t.Errorf("%s %s: %s %s\nwant %d with %q", tt.method, tt.path, resp.Status, body, tt.wantStatus, tt.want)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			if !strings.Contains(resp.Header.Get("WWW-Authenticate"), tt.wantAuth) {
				t.Errorf("WWW-Authenticate = %q, want %q", resp.Header.Get("WWW-Authenticate"), tt.wantAuth)
			}
			if strings.Contains(body, tok) || strings.Contains(body, "secret") {
				t.Errorf("response leaks a credential: %s", body)
			}
		})
	}
}

func TestSlowRecordsCancellation(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	tok := clientToken(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.APIURL()+"/slow?ms=5000", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow call: %v, want the context deadline", err)
	}
	wait, cancelWait := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancelWait()
	if _, err := s.WaitStats(wait, func(st Stats) bool { return st.APICancelled > 0 }); err != nil {
		t.Fatalf("the server did not record the cancelled call: %v", err)
	}
}

func TestHandlerBehindAnotherListener(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	ts := httptest.NewTLSServer(s.Handler())
	defer ts.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := decode[map[string]any](t, b)
	if m["instance_url"] != ts.URL {
		t.Errorf("instance_url = %v, want the TLS server's %s", m["instance_url"], ts.URL)
	}

	resp, body := get(t, s.URL()+"/.well-known/oauth-authorization-server")
	if resp.StatusCode != 200 || !contains(body, `"token_endpoint":"`+s.TokenURL()+`"`, `"code_challenge_methods_supported":["S256"]`, `"client_secret_basic"`) {
		t.Errorf("metadata: %s %s", resp.Status, body)
	}
}

func TestStartValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"auth style", Options{AuthStyle: "basic"}, "AuthStyle"},
		{"sub-second TTL", Options{AccessTTL: 500 * time.Millisecond}, "AccessTTL"},
		{"negative refresh TTL", Options{RefreshTTL: -time.Second}, "RefreshTTL"},
		{"not loopback", Options{Addr: "0.0.0.0:0"}, "loopback"},
		{"host name", Options{Addr: "localhost:0"}, "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(tt.opts)
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "sandbox: ") {
				t.Errorf("Start error = %v, want one about %s", err, tt.want)
			}
		})
	}
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get(s.URL()); err == nil {
		t.Error("still serving after Close")
	}
}

// TestCloseLeavesNoGoroutines runs sequentially (before the parallel tests
// resume), so the goroutine count is stable.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 5 {
		s, err := Start(Options{})
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{}
		resp, err := (&http.Client{Transport: tr}).Get(s.APIURL() + "/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		tr.CloseIdleConnections()
		s.Close()
	}
	// Goroutines end with no event to wait for: poll, with a deadline.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Start/Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitStats returns as soon as a request changes the counters it waits on,
// and gives up with the context when they never do.
func TestWaitStats(t *testing.T) {
	t.Parallel()
	s := start(t, Options{})
	got := make(chan Stats, 1)
	go func() {
		st, err := s.WaitStats(t.Context(), func(st Stats) bool { return st.TokenRequests["client_credentials"] > 0 })
		if err != nil {
			t.Errorf("WaitStats: %v", err)
		}
		got <- st
	}()
	clientToken(t, s)
	if st := <-got; st.TokenRequests["client_credentials"] != 1 {
		t.Errorf("WaitStats returned %+v, want one client_credentials request", st)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.WaitStats(ctx, func(st Stats) bool { return st.Revocations > 0 }); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitStats on counters that never change: %v, want context.Canceled", err)
	}
}
