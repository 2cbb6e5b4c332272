package tokens

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
)

func TestAuthorizeThenSign(t *testing.T) {
	e := newEnv(t, envOpts{sandbox: sandbox.Options{RequirePKCE: true}})
	tok := e.authorize(t, "api")
	if tok.State != store.StateAuthorized || tok.Secret.AccessToken == "" || tok.Secret.RefreshToken == "" || tok.Expires.IsZero() {
		t.Fatalf("after authorize: state %s, expires %v, has access %v, has refresh %v; want authorized with both tokens and an expiry",
			tok.State, tok.Expires, tok.Secret.AccessToken != "", tok.Secret.RefreshToken != "")
	}
	if got := string(tok.Secret.Extra["instance_url"]); got != fmt.Sprintf("%q", e.srv.URL()) {
		t.Errorf("extra field instance_url = %s, want the provider's value kept", got)
	}
	if status := e.call(t, "api", "/me"); status != 200 {
		t.Errorf("API with the signed request: %d, want 200", status)
	}
	if n := e.srv.Stats().TokenRequests["authorization_code"]; n != 1 {
		t.Errorf("code exchanges = %d, want 1", n)
	}
}

// The token is refreshed across many expiries; each rotated refresh token is
// stored before use, so the provider never sees one twice.
func TestRefreshAcrossExpiriesPersistsRotation(t *testing.T) {
	e := newEnv(t, envOpts{})
	first := e.authorize(t, "api")
	prev := first.Secret.RefreshToken
	for i := 1; i <= 5; i++ {
		e.clock.Add(2 * time.Hour)
		if status := e.call(t, "api", "/me"); status != 200 {
			t.Fatalf("round %d: API status %d, want 200", i, status)
		}
		tok := e.token(t, "api")
		if tok.Secret.RefreshToken == prev || tok.Secret.RefreshToken == "" {
			t.Fatalf("round %d: stored refresh token did not rotate", i)
		}
		if tok.LastMessage != "" || tok.State != store.StateAuthorized || !tok.LastRefreshed.Equal(e.clock.Now().UTC()) {
			t.Errorf("round %d: token after refresh: state %s, lastMessage %q, lastRefreshed %v", i, tok.State, tok.LastMessage, tok.LastRefreshed)
		}
		prev = tok.Secret.RefreshToken
	}
	st := e.srv.Stats()
	if st.RefreshRequests != 5 || st.RefreshTokenReuse != 0 {
		t.Errorf("refresh requests %d (want 5), refresh tokens reused %d (want 0)", st.RefreshRequests, st.RefreshTokenReuse)
	}
	// A valid token is not refreshed again.
	e.call(t, "api", "/me")
	if n := e.srv.Stats().RefreshRequests; n != 5 {
		t.Errorf("a call with a valid token caused a refresh (%d requests)", n)
	}
}

func TestMargin(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		life, want time.Duration
	}{
		{time.Hour, 5 * time.Minute},
		{10 * time.Minute, time.Minute},
		{60 * time.Second, 6 * time.Second},
		{2 * time.Second, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		tok := store.Token{LastRefreshed: base, Expires: base.Add(tt.life)}
		if got := Margin(tok); got != tt.want {
			t.Errorf("Margin for a %v token = %v, want %v", tt.life, got, tt.want)
		}
	}
	if got := Margin(store.Token{Expires: base}); got != 5*time.Minute {
		t.Errorf("Margin without a refresh time = %v, want 5m", got)
	}
}

// A 2-second token is not refreshed on every call (x/oauth2's Valid would).
func TestShortLivedTokenNotRefreshedEveryCall(t *testing.T) {
	e := newEnv(t, envOpts{sandbox: sandbox.Options{AccessTTL: 2 * time.Second}})
	e.authorize(t, "api")
	for range 10 {
		e.call(t, "api", "/me")
		e.clock.Add(100 * time.Millisecond) // 1 s in all: inside the lifetime, outside the 0.2 s margin
	}
	if n := e.srv.Stats().RefreshRequests; n != 0 {
		t.Errorf("refreshes during the first second of a 2 s token = %d, want 0", n)
	}
	e.clock.Add(900 * time.Millisecond) // 1.9 s: inside the margin
	e.call(t, "api", "/me")
	if n := e.srv.Stats().RefreshRequests; n != 1 {
		t.Errorf("refreshes inside the margin = %d, want 1", n)
	}
}

func TestInvalidGrantNeedsReauth(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	rt := e.token(t, "api").Secret.RefreshToken
	e.srv.RevokeAll()
	e.clock.Add(2 * time.Hour)
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	err := e.m.Sign(context.Background(), "api", req)
	if CodeOf(err) != CodeReauthRequired || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "Get authorization token") {
		t.Fatalf("Sign after revocation: %v (code %s), want REAUTH_REQUIRED naming invalid_grant and what to do", err, CodeOf(err))
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("a refused request was signed anyway")
	}
	tok := e.token(t, "api")
	if tok.State != store.StateReauthRequired || !strings.Contains(tok.LastMessage, "invalid_grant") || tok.Secret.RefreshToken != rt {
		t.Errorf("stored token: state %s, lastMessage %q, refresh token kept %v", tok.State, tok.LastMessage, tok.Secret.RefreshToken == rt)
	}
	before := e.srv.Stats().RefreshRequests
	if err := e.m.Sign(context.Background(), "api", req); CodeOf(err) != CodeReauthRequired {
		t.Errorf("second Sign: %v, want REAUTH_REQUIRED", err)
	}
	if after := e.srv.Stats().RefreshRequests; after != before {
		t.Errorf("a token needing reauthorization was sent to the token endpoint again")
	}
	// A new authorization repairs it.
	if tok := e.authorize(t, "api"); tok.State != store.StateAuthorized || tok.LastMessage != "" {
		t.Errorf("after reauthorization: state %s, lastMessage %q", tok.State, tok.LastMessage)
	}
}

// Failures that may pass leave a still-valid token usable and keep the
// refresh token; once the access token is past expiry, scripts get REFRESH_FAILED.
func TestTransientRefreshFailure(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	rt := e.token(t, "api").Secret.RefreshToken
	var down atomic.Bool
	down.Store(true)
	e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		if down.Load() {
			http.Error(w, "<html>maintenance</html>", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	e.clock.Add(58 * time.Minute) // inside the 5-minute margin, not expired
	if status := e.call(t, "api", "/me"); status != 200 {
		t.Fatalf("still-valid token during an outage: status %d", status)
	}
	tok := e.token(t, "api")
	if !strings.Contains(tok.LastMessage, "503") || tok.State != store.StateAuthorized || tok.RefreshFailures != 1 {
		t.Errorf("after a 503: lastMessage %q, state %s, failures %d", tok.LastMessage, tok.State, tok.RefreshFailures)
	}
	if strings.Contains(tok.LastMessage, "maintenance") {
		t.Errorf("lastMessage %q repeats the response body", tok.LastMessage)
	}
	e.clock.Add(10 * time.Minute) // expired now
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	if err := e.m.Sign(context.Background(), "api", req); CodeOf(err) != CodeRefreshFailed {
		t.Fatalf("expired token during an outage: %v, want REFRESH_FAILED", err)
	}
	if got := e.token(t, "api").Secret.RefreshToken; got != rt {
		t.Error("a failed refresh changed the stored refresh token")
	}
	down.Store(false)
	if status := e.call(t, "api", "/me"); status != 200 {
		t.Fatalf("after the outage: status %d", status)
	}
	if tok := e.token(t, "api"); tok.LastMessage != "" || tok.RefreshFailures != 0 {
		t.Errorf("after recovery: lastMessage %q, failures %d; want both cleared", tok.LastMessage, tok.RefreshFailures)
	}
}

// Token responses in the shapes real providers send.
func TestTokenResponseShapes(t *testing.T) {
	for _, tt := range responseShapes {
		t.Run(tt.name, func(t *testing.T) { checkResponseShape(t, tt) })
	}
}

// A responseShape is a token-endpoint answer and what the stored token must
// look like after a refresh got it.
type responseShape struct {
	name        string
	status      int
	ctype, body string
	wantErr     string // substring of lastMessage; "" = success
	check       func(t *testing.T, tok store.Token, now time.Time)
}

var responseShapes = []responseShape{
	{name: "expires_in as string", ctype: "application/json",
		body: `{"access_token":"A1","token_type":"Bearer","expires_in":"120","refresh_token":"R1"}`,
		check: func(t *testing.T, tok store.Token, now time.Time) {
			if !tok.Expires.Equal(now.Add(120 * time.Second).UTC()) {
				t.Errorf("expires = %v, want now+120s", tok.Expires)
			}
		}},
	{name: "expires_in missing", ctype: "application/json",
		body: `{"access_token":"A1","token_type":"Bearer","refresh_token":"R1"}`,
		check: func(t *testing.T, tok store.Token, now time.Time) {
			if !tok.Expires.IsZero() {
				t.Errorf("expires = %v, want none", tok.Expires)
			}
		}},
	{name: "negative expires_in", ctype: "application/json",
		body: `{"access_token":"A1","token_type":"Bearer","expires_in":-30}`,
		check: func(t *testing.T, tok store.Token, now time.Time) {
			// Treated as unknown: used until the API answers 401, rather
			// than refreshed on every call.
			if !tok.Expires.IsZero() {
				t.Errorf("expires = %v, want none", tok.Expires)
			}
		}},
	{name: "lower-case token type and no refresh token", ctype: "application/json",
		body: `{"access_token":"A1","token_type":"bearer","expires_in":3600}`,
		check: func(t *testing.T, tok store.Token, now time.Time) {
			if tok.Secret.TokenType != "Bearer" || tok.Secret.RefreshToken == "" || tok.Secret.RefreshToken == "R1" {
				t.Errorf("type %q, refresh token kept %v", tok.Secret.TokenType, tok.Secret.RefreshToken != "")
			}
		}},
	{name: "extra fields kept", ctype: "application/json",
		body: `{"access_token":"A1","token_type":"Bearer","expires_in":3600,"id_token":"x.y.z","instance_url":"https://na1.example.com"}`,
		check: func(t *testing.T, tok store.Token, now time.Time) {
			if string(tok.Secret.Extra["instance_url"]) != `"https://na1.example.com"` || string(tok.Secret.Extra["id_token"]) != `"x.y.z"` {
				t.Errorf("extra = %v", tok.Secret.Extra)
			}
		}},
	{name: "form encoded", ctype: "application/x-www-form-urlencoded",
		body: `access_token=A1&token_type=bearer&expires_in=60&scope=read`,
		check: func(t *testing.T, tok store.Token, now time.Time) {
			if tok.Secret.AccessToken != "A1" || !tok.Expires.Equal(now.Add(time.Minute).UTC()) || string(tok.Secret.Extra["scope"]) != `"read"` {
				t.Errorf("token = %+v", tok)
			}
		}},
	{name: "html page", status: 200, ctype: "text/html", body: "<html>login</html>", wantErr: "unusable"},
	{name: "truncated json", ctype: "application/json", body: `{"access_token":"A1","tok`, wantErr: "unusable"},
	{name: "missing access token", ctype: "application/json", body: `{"token_type":"Bearer"}`, wantErr: "access_token"},
	{name: "invalid_client", status: 401, ctype: "application/json", body: `{"error":"invalid_client","error_description":"bad secret"}`, wantErr: "invalid_client: bad secret"},
	{name: "500", status: 500, ctype: "text/plain", body: "oops", wantErr: "HTTP 500"},
}

// checkResponseShape refreshes an authorized token against an endpoint
// answering tt and checks the token as stored.
func checkResponseShape(t *testing.T, tt responseShape) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	before := e.token(t, "api")
	e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", tt.ctype)
		if tt.status != 0 {
			w.WriteHeader(tt.status)
		}
		io.WriteString(w, tt.body)
		return true
	})
	e.clock.Add(2 * time.Hour)
	_, err := e.m.Refresh(context.Background(), "api")
	tok := e.token(t, "api")
	if tt.wantErr != "" {
		if CodeOf(err) != CodeRefreshFailed || !strings.Contains(tok.LastMessage, tt.wantErr) {
			t.Fatalf("Refresh: %v; lastMessage %q; want REFRESH_FAILED and a message with %q", err, tok.LastMessage, tt.wantErr)
		}
		if tok.Secret.RefreshToken != before.Secret.RefreshToken || tok.State != store.StateAuthorized {
			t.Errorf("a failed refresh lost the refresh token or changed the state to %s", tok.State)
		}
		return
	}
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if tok.Secret.AccessToken != "A1" {
		t.Errorf("access token not replaced")
	}
	tt.check(t, tok, e.clock.Now())
}

func TestPKCEAndAuthStyle(t *testing.T) {
	tests := []struct {
		name          string
		sandboxStyle  string
		providerStyle string
		requirePKCE   bool
		noPKCE        bool
		wantErr       string
	}{
		{"basic with PKCE", store.AuthStyleHeader, store.AuthStyleHeader, true, false, ""},
		{"post with PKCE", store.AuthStyleBody, store.AuthStyleBody, true, false, ""},
		{"header where body is required", store.AuthStyleBody, store.AuthStyleHeader, false, false, "invalid_client"},
		{"body where header is required", store.AuthStyleHeader, store.AuthStyleBody, false, false, "invalid_client"},
		{"PKCE required, provider has it off", store.AuthStyleHeader, store.AuthStyleHeader, true, true, "code_challenge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{sandbox: sandbox.Options{AuthStyle: tt.sandboxStyle, RequirePKCE: tt.requirePKCE}, style: tt.providerStyle, noPKCE: tt.noPKCE})
			tok, err := e.tryAuthorize("api")
			if tt.wantErr == "" {
				if err != nil || tok.State != store.StateAuthorized {
					t.Fatalf("authorize: %v (state %s)", err, tok.State)
				}
				e.clock.Add(2 * time.Hour)
				if _, err := e.m.Refresh(context.Background(), "api"); err != nil {
					t.Fatalf("refresh: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error()+e.token(t, "api").LastMessage, tt.wantErr) {
				t.Fatalf("authorize: %v, lastMessage %q; want a failure mentioning %q", err, e.token(t, "api").LastMessage, tt.wantErr)
			}
			if e.token(t, "api").State != store.StateUnauthorized {
				t.Errorf("a failed authorization changed the state")
			}
		})
	}
}

func TestAuthorizationURL(t *testing.T) {
	e := newEnv(t, envOpts{tokenMod: func(tk *store.Token) { tk.Prompt = "consent"; tk.Scopes = []string{"mail.read", "offline_access"} }})
	if err := e.db.Update(func(tx *store.Tx) error {
		p, _ := tx.Provider("sandbox")
		p.AuthParams = map[string]string{"access_type": "offline"}
		return tx.PutProvider(p)
	}); err != nil {
		t.Fatal(err)
	}
	a, err := e.m.Authorize("api", "http://127.0.0.1:8080/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	u, q := a.URL, map[string]string{}
	parsed, _ := http.NewRequest("GET", u, nil)
	for k, v := range parsed.URL.Query() {
		q[k] = v[0]
	}
	want := map[string]string{
		"response_type": "code", "client_id": e.srv.ClientID(), "redirect_uri": "http://127.0.0.1:8080/oauth/callback",
		"scope": "mail.read offline_access", "prompt": "consent", "access_type": "offline",
		"code_challenge_method": "S256", "state": a.State,
	}
	for k, v := range want {
		if q[k] != v {
			t.Errorf("authorization URL %s = %q, want %q", k, q[k], v)
		}
	}
	if len(q["code_challenge"]) != 43 || len(a.State) < 40 {
		t.Errorf("code_challenge %q / state %q too short", q["code_challenge"], a.State)
	}
	if strings.Contains(u, e.srv.ClientSecret()) || strings.Contains(u, a.verifier) {
		t.Error("authorization URL carries the client secret or the PKCE verifier")
	}
	b, _ := e.m.Authorize("api", "http://127.0.0.1:8080/oauth/callback")
	if b.State == a.State || b.verifier == a.verifier {
		t.Error("two authorizations share a state or verifier")
	}
}

func TestCompleteRefusals(t *testing.T) {
	e := newEnv(t, envOpts{})
	a, err := e.m.Authorize("api", e.callback.URL+"/cb")
	if err != nil {
		t.Fatal(err)
	}
	q := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = []string{kv[i+1]}
		}
		return m
	}
	if _, err := e.m.Complete(context.Background(), a, q("state", "forged", "code", "x")); CodeOf(err) != CodeStateMismatch {
		t.Errorf("wrong state: %v", err)
	}
	if tok := e.token(t, "api"); tok.LastMessage != "" {
		t.Errorf("a forged callback wrote lastMessage %q", tok.LastMessage)
	}
	if _, err := e.m.Complete(context.Background(), a, q("state", a.State, "error", "access_denied", "error_description", "The user said no")); CodeOf(err) != CodeAuthorizeFailed {
		t.Errorf("provider error: %v", err)
	}
	if tok := e.token(t, "api"); !strings.Contains(tok.LastMessage, "access_denied: The user said no") || tok.State != store.StateUnauthorized {
		t.Errorf("after access_denied: lastMessage %q, state %s", tok.LastMessage, tok.State)
	}
	if _, err := e.m.Complete(context.Background(), a, q("state", a.State, "code", "made-up")); CodeOf(err) != CodeAuthorizeFailed {
		t.Errorf("bad code: %v", err)
	}
	e.clock.Add(11 * time.Minute)
	if _, err := e.m.Complete(context.Background(), a, q("state", a.State, "code", "x")); CodeOf(err) != CodeAuthorizeExpired {
		t.Errorf("late callback: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t, envOpts{})
	sign := func(name, url string) (*http.Request, error) {
		req, _ := http.NewRequest("GET", url, nil)
		return req, e.m.Sign(context.Background(), name, req)
	}
	if _, err := sign("api", e.srv.APIURL()); CodeOf(err) != CodeUnauthorized {
		t.Errorf("unauthorized token: %v", err)
	}
	if _, err := sign("nope", e.srv.APIURL()); CodeOf(err) != CodeNotFound {
		t.Errorf("missing token: %v", err)
	}
	e.authorize(t, "api")
	host := strings.TrimPrefix(e.srv.URL(), "http://")
	_, port, _ := strings.Cut(host, ":")
	for _, u := range []string{"http://evil.example.com/x", "https://" + host + "/x", "http://localhost:" + port + "/x", "http://127.0.0.1:1/x"} {
		req, err := sign("api", u)
		if CodeOf(err) != CodeHostMismatch || req.Header.Get("Authorization") != "" {
			t.Errorf("Sign for %s: %v, header set %v; want TOKEN_HOST_MISMATCH and no header", u, err, req.Header.Get("Authorization") != "")
		}
	}
	if _, err := sign("api", strings.ToUpper(e.srv.URL()[:4])+e.srv.URL()[4:]+"/api/me"); err != nil {
		t.Errorf("same origin in other letter case: %v", err)
	}
	if err := e.db.Update(func(tx *store.Tx) error {
		tk, _ := tx.Token("api")
		tk.Active = false
		return tx.PutToken(tk)
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(3 * time.Second) // past the cache TTL
	if _, err := sign("api", e.srv.APIURL()); CodeOf(err) != CodeInactive {
		t.Errorf("inactive token: %v", err)
	}
}

func TestBindingDefaultPorts(t *testing.T) {
	mk := func(s string) *entry {
		e, _ := newEntry(store.Token{Name: "x", BaseURL: s}, nil, time.Now())
		return e
	}
	tests := []struct {
		base, target string
		ok           bool
	}{
		{"https://graph.microsoft.com", "https://graph.microsoft.com:443/v1.0/me", true},
		{"https://graph.microsoft.com/v1.0", "https://GRAPH.microsoft.com/v1.0/me", true},
		{"https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/beta/me", false}, // a path binds (TestBindingPathPrefix)
		{"https://graph.microsoft.com", "http://graph.microsoft.com/me", false},
		{"https://graph.microsoft.com", "https://graph.microsoft.com.evil.io/me", false},
		{"https://graph.microsoft.com", "https://evil.graph.microsoft.com/me", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8081/", false},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", tt.target, nil)
		if err := checkHost(mk(tt.base), req.URL); (err == nil) != tt.ok {
			t.Errorf("base %s, target %s: err %v, want ok=%v", tt.base, tt.target, err, tt.ok)
		}
	}
}

// A 401 from the API refreshes once; a second report with the same old token
// after the refresh does not refresh again.
func TestRejectedRefreshesOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	if err := e.m.Sign(context.Background(), "api", req); err != nil {
		t.Fatal(err)
	}
	e.srv.ExpireAccessTokens()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("API with a server-expired token: %d, want 401", resp.StatusCode)
	}
	for range 3 {
		if err := e.m.Rejected(context.Background(), "api", req); err != nil {
			t.Fatalf("Rejected: %v", err)
		}
	}
	if n := e.srv.Stats().RefreshRequests; n != 1 {
		t.Errorf("refreshes after three reports of one rejected token = %d, want 1", n)
	}
	if status := e.call(t, "api", "/me"); status != 200 {
		t.Errorf("after the refresh: %d", status)
	}
}

// 100 goroutines on an expired token: one token-endpoint call, every request succeeds.
func TestConcurrentSignOneRefresh(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	e.clock.Add(2 * time.Hour)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 100 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
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
	wg.Wait()
	if n := e.srv.Stats().RefreshRequests; n != 1 || failed.Load() != 0 {
		t.Errorf("refresh requests %d (want 1), failed calls %d (want 0)", n, failed.Load())
	}
}

// A caller that gives up does not abandon a refresh the provider answered.
func TestRefreshOutlivesCaller(t *testing.T) {
	e := newEnv(t, envOpts{})
	first := e.authorize(t, "api")
	// The provider answers only once the caller has given up.
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		<-release
		return false // then let the real endpoint answer
	})
	e.clock.Add(2 * time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	if err := e.m.Sign(ctx, "api", req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sign with a short deadline: %v, want a deadline error", err)
	}
	releaseOnce()
	e.m.Close()
	if tok := e.token(t, "api"); tok.Secret.RefreshToken == first.Secret.RefreshToken {
		t.Error("the rotated refresh token was not stored after the caller gave up")
	}
	if e.srv.Stats().RefreshTokenReuse != 0 {
		t.Error("a refresh token was presented twice")
	}
}

func TestNoRefreshTokenExpired(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	if err := e.db.Update(func(tx *store.Tx) error {
		tk, _ := tx.Token("api")
		tk.Secret.RefreshToken = ""
		return tx.PutToken(tk)
	}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(58 * time.Minute)
	if status := e.call(t, "api", "/me"); status != 200 {
		t.Errorf("inside the margin without a refresh token: %d, want the old token used", status)
	}
	e.clock.Add(5 * time.Minute)
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	err := e.m.Sign(context.Background(), "api", req)
	if CodeOf(err) != CodeReauthRequired || !strings.Contains(err.Error(), "offline") {
		t.Errorf("expired without a refresh token: %v, want REAUTH_REQUIRED suggesting offline access", err)
	}
}

// No message a person or script sees carries a secret.
func TestMessagesCarryNoSecrets(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	tok := e.token(t, "api")
	secrets := []string{tok.Secret.AccessToken, tok.Secret.RefreshToken, e.srv.ClientSecret()}
	e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		// A provider that echoes what it was sent: the message must not repeat it.
		user, pass, _ := r.BasicAuth()
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"bad token %s for %s:%s"}`, r.PostForm.Get("refresh_token"), user, pass)
		return true
	})
	e.clock.Add(2 * time.Hour)
	_, err := e.m.Refresh(context.Background(), "api")
	msgs := []string{err.Error(), e.token(t, "api").LastMessage}
	_, err = e.m.Refresh(context.Background(), "api")
	msgs = append(msgs, err.Error())
	for _, msg := range msgs {
		for _, s := range secrets {
			if strings.Contains(msg, s) {
				t.Errorf("message %q contains a secret", msg)
			}
		}
	}
}

// During an outage a still-valid token is not refreshed on every call: failed
// refreshes back off (1 s, 2 s, ... with jitter) until the token expires.
func TestRefreshBackOff(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "down", http.StatusBadGateway)
		return true
	})
	e.clock.Add(56 * time.Minute) // inside the margin, 4 minutes before expiry
	for range 20 {
		if status := e.call(t, "api", "/me"); status != 200 {
			t.Fatalf("call during the outage: %d", status)
		}
	}
	if n := e.srv.Stats().InjectedFaults; n != 1 {
		t.Errorf("20 calls within the first cool-down reached the token endpoint %d times, want 1", n)
	}
	tok := e.token(t, "api")
	if tok.RefreshFailures != 1 || tok.RefreshFailed.IsZero() {
		t.Errorf("failures %d, failed at %v", tok.RefreshFailures, tok.RefreshFailed)
	}
	e.clock.Add(1300 * time.Millisecond) // past 1 s + 25 % jitter
	e.call(t, "api", "/me")
	e.call(t, "api", "/me")
	if n := e.srv.Stats().InjectedFaults; n != 2 {
		t.Errorf("after the first cool-down: %d attempts, want 2", n)
	}
	e.clock.Add(1300 * time.Millisecond) // the second cool-down is 2 s: still waiting
	e.call(t, "api", "/me")
	if n := e.srv.Stats().InjectedFaults; n != 2 {
		t.Errorf("inside the second cool-down: %d attempts, want 2", n)
	}
	// Forced refreshes (the CLI's token refresh) are not held back.
	if _, err := e.m.Refresh(context.Background(), "api"); CodeOf(err) != CodeRefreshFailed {
		t.Errorf("forced refresh during the outage: %v", err)
	}
	if n := e.srv.Stats().InjectedFaults; n != 3 {
		t.Errorf("a forced refresh did not reach the endpoint (%d attempts)", n)
	}
}

func TestCoolDown(t *testing.T) {
	for _, tt := range []struct {
		failures int
		min, max time.Duration
	}{{1, time.Second, 1250 * time.Millisecond}, {3, 4 * time.Second, 5 * time.Second}, {20, 5 * time.Minute, 375 * time.Second}} {
		if d := coolDown("api", tt.failures); d < tt.min || d > tt.max {
			t.Errorf("coolDown after %d failures = %v, want %v..%v", tt.failures, d, tt.min, tt.max)
		}
	}
}

// Provider faults that are not a response at all: down, too slow, too big.
func TestTokenEndpointFaults(t *testing.T) {
	for _, tt := range endpointFaults {
		t.Run(tt.name, func(t *testing.T) { checkEndpointFault(t, tt) })
	}
}

// An endpointFault is a token endpoint that fails (fault, or tokenURL
// where nothing listens) and what the failure must say.
type endpointFault struct {
	name     string
	fault    func(w http.ResponseWriter, r *http.Request) bool
	tokenURL string
	want     string
}

var endpointFaults = []endpointFault{
	{name: "down", tokenURL: "http://127.0.0.1:1/token", want: "cannot reach the token endpoint"},
	{name: "slower than the refresh timeout", want: "did not answer in time", fault: func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
		return true
	}},
	{name: "huge body", want: "unusable", fault: func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"`)
		chunk := strings.Repeat("x", 64<<10)
		for range 160 { // 10 MiB
			if _, err := io.WriteString(w, chunk); err != nil {
				break
			}
		}
		io.WriteString(w, `"}`)
		return true
	}},
}

// checkEndpointFault signs with an expired token against tt: the refresh
// fails quickly with REFRESH_FAILED and the token keeps its refresh token.
func checkEndpointFault(t *testing.T, tt endpointFault) {
	e := newEnv(t, envOpts{})
	e.m.refreshTimeout = 300 * time.Millisecond
	e.authorize(t, "api")
	before := e.token(t, "api")
	if tt.fault != nil {
		e.srv.SetTokenFault(tt.fault)
	}
	if tt.tokenURL != "" {
		if err := e.db.Update(func(tx *store.Tx) error {
			p, _ := tx.Provider("sandbox")
			p.TokenURL = tt.tokenURL
			return tx.PutProvider(p)
		}); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Add(2 * time.Hour)
	start := time.Now()
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	err := e.m.Sign(context.Background(), "api", req)
	if CodeOf(err) != CodeRefreshFailed || !strings.Contains(err.Error(), tt.want) {
		t.Fatalf("Sign: %v, want REFRESH_FAILED saying %q", err, tt.want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the failure took %v", d)
	}
	tok := e.token(t, "api")
	if tok.Secret.RefreshToken != before.Secret.RefreshToken || tok.State != store.StateAuthorized || !strings.Contains(tok.LastMessage, tt.want) {
		t.Errorf("after the fault: refresh token kept %v, state %s, lastMessage %q", tok.Secret.RefreshToken == before.Secret.RefreshToken, tok.State, tok.LastMessage)
	}
}
