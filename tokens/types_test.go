package tokens

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/hmacsig"
	"github.com/scriptrun/scriptrun/store"
)

// receiver is an API that records what it received.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

// seen is one request as the receiver got it.
type seen struct {
	method, target string
	header         http.Header
	body           string
}

func newReceiver(t testing.TB) *receiver {
	rv := &receiver{}
	rv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		rv.reqs = append(rv.reqs, seen{r.Method, r.RequestURI, r.Header.Clone(), string(b)})
		rv.mu.Unlock()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(rv.Close)
	return rv
}

func (rv *receiver) last(t testing.TB) seen {
	t.Helper()
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if len(rv.reqs) == 0 {
		t.Fatal("the receiver got no request")
	}
	return rv.reqs[len(rv.reqs)-1]
}

// put stores tok in e's database.
func (e *env) put(t testing.TB, tok store.Token) {
	t.Helper()
	if err := e.db.Update(func(tx *store.Tx) error { return tx.PutToken(tok) }); err != nil {
		t.Fatal(err)
	}
}

// staticSecrets are the credentials of staticToken, to scan outputs for.
var staticSecrets = []string{"basic-PASSWORD-s3cret", "api-KEY-s3cret-value", "bearer-TOKEN-s3cret", "hmac-API-token-0001", "hmac-API-s3cret-value"}

// staticToken returns a token of the given type bound to base, with one of
// staticSecrets as its credential.
func staticToken(name, typ, base string) store.Token {
	tok := store.Token{Name: name, Type: typ, Active: true, BaseURL: base}
	switch typ {
	case store.TypeBasic:
		tok.Username, tok.Secret.Password = "svc-user", "basic-PASSWORD-s3cret"
	case store.TypeAPIKey:
		tok.KeyHeader, tok.KeyPrefix, tok.Secret.APIKey = "X-API-Key", "Key ", "api-KEY-s3cret-value"
	case store.TypeBearer:
		tok.Secret.AccessToken = "bearer-TOKEN-s3cret"
	case store.TypeHMACBody:
		tok.HMACAlgorithm, tok.Secret.APIToken, tok.Secret.APISecret = store.HMACSHA256, "hmac-API-token-0001", "hmac-API-s3cret-value"
	}
	return tok
}

// Each type puts exactly its documented credential on the request, and the
// receiver can check it.
func TestStaticTypesSign(t *testing.T) {
	e := newEnv(t, envOpts{})
	rv := newReceiver(t)
	tests := staticSignCases(rv)
	for _, tt := range tests {
		t.Run(tt.tok.Name, func(t *testing.T) {
			e.put(t, tt.tok)
			s := signAndSend(t, e, rv, tt.tok.Name, tt.method, tt.path, tt.body)
			if s.body != tt.body {
				t.Errorf("the receiver got body %q, want %q: signing consumed or changed it", s.body, tt.body)
			}
			if tt.check != nil {
				tt.check(t, s)
				return
			}
			verifyHMAC(t, s, tt.tok.HMACAlgorithm, e.clock.Now())
		})
	}
}

// A staticSignCase is a request signed with a static token, and how the
// receiver checks it (nil: as an hmac-body signature).
type staticSignCase struct {
	tok          store.Token
	method, path string
	body         string
	check        func(t *testing.T, s seen)
}

// staticSignCases are the requests TestStaticTypesSign sends to rv, one
// per type and variant.
func staticSignCases(rv *receiver) []staticSignCase {
	hmac512 := staticToken("hmac512", store.TypeHMACBody, rv.URL)
	hmac512.HMACAlgorithm = store.HMACSHA512
	query := staticToken("query", store.TypeAPIKey, rv.URL)
	query.KeyHeader, query.KeyPrefix, query.KeyQuery = "", "", "api_key"
	return []staticSignCase{
		{staticToken("basic", store.TypeBasic, rv.URL), "GET", "/me", "", func(t *testing.T, s seen) {
			r := &http.Request{Header: s.header}
			if u, p, ok := r.BasicAuth(); !ok || u != "svc-user" || p != "basic-PASSWORD-s3cret" {
				t.Errorf("Basic credentials %q %q %v", u, p, ok)
			}
		}},
		{staticToken("header", store.TypeAPIKey, rv.URL), "POST", "/items", `{"a":1}`, func(t *testing.T, s seen) {
			if got := s.header.Get("X-Api-Key"); got != "Key api-KEY-s3cret-value" || s.header.Get("Authorization") != "" {
				t.Errorf("X-API-Key %q, Authorization %q", got, s.header.Get("Authorization"))
			}
		}},
		{query, "GET", "/search?q=a%20b&api_key=script-chosen&z=1", "", func(t *testing.T, s seen) {
			if s.target != "/search?q=a%20b&z=1&api_key=api-KEY-s3cret-value" {
				t.Errorf("request target %q: want the script's parameters kept in order, its api_key replaced by the stored key", s.target)
			}
		}},
		{staticToken("bearer", store.TypeBearer, rv.URL), "DELETE", "/items/1", "", func(t *testing.T, s seen) {
			if got := s.header.Get("Authorization"); got != "Bearer bearer-TOKEN-s3cret" {
				t.Errorf("Authorization %q", got)
			}
		}},
		{staticToken("hmac", store.TypeHMACBody, rv.URL), "POST", "/hooks/in?x=1", `{"title":"hi"}`, nil},
		{hmac512, "PUT", "/v1/a%2Fb?q=caf%C3%A9", "Grüße", nil},
		{staticToken("hmac-get", store.TypeHMACBody, rv.URL), "GET", "/v1/items", "", nil},
	}
}

// signAndSend signs a request with the named token, sends it to rv and
// returns what rv saw.
func signAndSend(t *testing.T, e *env, rv *receiver, name, method, path, reqBody string) seen {
	t.Helper()
	var body io.Reader
	if reqBody != "" {
		body = bytes.NewReader([]byte(reqBody))
	}
	req, _ := http.NewRequest(method, rv.URL+path, body)
	if err := e.m.Sign(context.Background(), name, req); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return rv.last(t)
}

// verifyHMAC checks an hmac-body request the way a receiving server does:
// signed with algorithm at now, without the API secret travelling.
func verifyHMAC(t *testing.T, s seen, algorithm string, now time.Time) {
	t.Helper()
	v := &hmacsig.Verifier{Secret: func(tok string) (string, bool) {
		return "hmac-API-s3cret-value", tok == "hmac-API-token-0001"
	}, Now: func() time.Time { return now }}
	r := httptest.NewRequest(s.method, s.target, strings.NewReader(s.body))
	r.RequestURI = s.target
	r.Header = s.header
	res, err := v.Verify(r)
	if err != nil {
		t.Fatalf("the receiver cannot verify the signature: %v (Authorization %q)", err, s.header.Get("Authorization"))
	}
	if string(res.Algorithm) != algorithm || res.Signed.Unix() != now.Unix() {
		t.Errorf("verified %+v, want algorithm %s signed now", res, algorithm)
	}
	if strings.Contains(s.header.Get("Authorization"), "hmac-API-s3cret-value") {
		t.Error("the API secret travelled")
	}
}

// No type sends its credential to another origin, and a refused request
// carries nothing: no header, no query parameter.
func TestStaticTypesRefuseOtherHosts(t *testing.T) {
	e := newEnv(t, envOpts{})
	rv := newReceiver(t)
	query := staticToken("query", store.TypeAPIKey, rv.URL)
	query.KeyHeader, query.KeyPrefix, query.KeyQuery = "", "", "api_key"
	toks := []store.Token{staticToken("basic", store.TypeBasic, rv.URL), staticToken("header", store.TypeAPIKey, rv.URL), query,
		staticToken("bearer", store.TypeBearer, rv.URL), staticToken("hmac", store.TypeHMACBody, rv.URL)}
	other := strings.Replace(rv.URL, "127.0.0.1", "localhost", 1)
	for _, tok := range toks {
		e.put(t, tok)
		for _, target := range []string{"https://evil.example.com/x?q=1", other + "/x?q=1", strings.Replace(rv.URL, "http://", "https://", 1) + "/x?q=1"} {
			req, _ := http.NewRequest("POST", target, strings.NewReader("data"))
			err := e.m.Sign(context.Background(), tok.Name, req)
			if CodeOf(err) != CodeHostMismatch {
				t.Errorf("%s to %s: %v, want TOKEN_HOST_MISMATCH", tok.Name, target, err)
			}
			if len(req.Header) != 0 || req.URL.RawQuery != "q=1" {
				t.Errorf("%s to %s: a refused request was changed: header %v, query %q", tok.Name, target, req.Header, req.URL.RawQuery)
			}
			for _, s := range staticSecrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("%s: refusal %q contains a secret", tok.Name, err)
				}
			}
		}
	}
}

// Refusals and their messages: no credential, inactive, expired; none of
// them carries a secret, nor does the log.
func TestStaticTypesRefusals(t *testing.T) {
	e := newEnv(t, envOpts{})
	var logs syncBuffer
	m := New(Options{DB: e.db, Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	defer m.Close()
	rv := newReceiver(t)
	var msgs []string
	for _, typ := range []string{store.TypeBasic, store.TypeAPIKey, store.TypeBearer, store.TypeHMACBody} {
		msgs = append(msgs, staticRefusals(t, e, m, rv, typ)...)
	}
	m.Close()
	msgs = append(msgs, logs.String())
	for _, msg := range msgs {
		for _, s := range staticSecrets {
			if strings.Contains(msg, s) {
				t.Errorf("%q contains a secret", msg)
			}
		}
	}
}

// staticRefusals walks a token of type typ through its refusals (expired,
// not refreshable, no authorization step, no credential, inactive) with m,
// and returns the messages it got.
func staticRefusals(t *testing.T, e *env, m *Manager, rv *receiver, typ string) []string {
	sign := func(name string) error {
		req, _ := http.NewRequest("GET", rv.URL+"/x", nil)
		err := m.Sign(context.Background(), name, req)
		if err != nil && (req.Header.Get("Authorization") != "" || req.Header.Get("X-Api-Key") != "") {
			t.Errorf("%s: refused but signed", name)
		}
		return err
	}
	tok := staticToken(typ, typ, rv.URL)
	tok.Expires = e.clock.Now().Add(time.Hour)
	e.put(t, tok)
	if err := sign(typ); err != nil {
		t.Fatalf("%s before its expiry: %v", typ, err)
	}
	e.clock.Add(time.Hour + 3*time.Second) // past the expiry and the cache
	expired := sign(typ)
	if CodeOf(expired) != CodeExpired || !strings.Contains(expired.Error(), "expired at") || !strings.Contains(expired.Error(), "token update "+typ) {
		t.Errorf("%s past its expiry: %v, want TOKEN_EXPIRED saying how to replace it", typ, expired)
	}
	if _, err := m.Refresh(context.Background(), typ); CodeOf(err) != CodeUnsupportedGrant || !strings.Contains(err.Error(), "nothing to refresh") {
		t.Errorf("%s: Refresh: %v, want UNSUPPORTED_GRANT", typ, err)
	}
	if _, err := m.Authorize(typ, "http://127.0.0.1/cb"); CodeOf(err) != CodeUnsupportedGrant || !strings.Contains(err.Error(), "no authorization step") {
		t.Errorf("%s: Authorize: %v, want UNSUPPORTED_GRANT", typ, err)
	}
	// Without its credential: TOKEN_UNAUTHORIZED naming the flags to set it.
	tok.Expires = time.Time{}
	tok.Secret = store.Secret{}
	e.put(t, tok)
	e.clock.Add(3 * time.Second)
	empty := sign(typ)
	if CodeOf(empty) != CodeUnauthorized || !strings.Contains(empty.Error(), CredentialFlags(typ)) {
		t.Errorf("%s without a credential: %v, want TOKEN_UNAUTHORIZED naming %s", typ, empty, CredentialFlags(typ))
	}
	tok = staticToken(typ, typ, rv.URL)
	tok.Active = false
	e.put(t, tok)
	e.clock.Add(3 * time.Second)
	if err := sign(typ); CodeOf(err) != CodeInactive {
		t.Errorf("%s inactive: %v", typ, err)
	}
	return []string{expired.Error(), empty.Error()}
}

// A 401 for a static credential re-reads the store at once, so a key an
// admin just replaced is used by the retry.
func TestStaticRejectedRereads(t *testing.T) {
	e := newEnv(t, envOpts{})
	rv := newReceiver(t)
	tok := staticToken("bearer", store.TypeBearer, rv.URL)
	e.put(t, tok)
	req, _ := http.NewRequest("GET", rv.URL+"/x", nil)
	if err := e.m.Sign(context.Background(), "bearer", req); err != nil {
		t.Fatal(err)
	}
	tok.Secret.AccessToken = "replaced-bearer-token"
	e.put(t, tok)
	if err := e.m.Rejected(context.Background(), "bearer", req); err != nil {
		t.Fatalf("Rejected: %v", err)
	}
	if err := e.m.Sign(context.Background(), "bearer", req); err != nil || req.Header.Get("Authorization") != "Bearer replaced-bearer-token" {
		t.Errorf("after Rejected: %v, %q; want the replaced token without waiting for the cache", err, req.Header.Get("Authorization"))
	}
}

func TestWithParam(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "k=v%2B1"},
		{"a=1", "a=1&k=v%2B1"},
		{"k=old&a=1&k=again", "a=1&k=v%2B1"},
		{"%6B=encoded-name&b=%20", "b=%20&k=v%2B1"},
		{"a=1&&b", "a=1&b&k=v%2B1"},
	}
	for _, tt := range tests {
		if got := withParam(tt.in, "k", "v+1"); got != tt.want {
			t.Errorf("withParam(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// syncBuffer collects a log safely across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// BenchmarkSignHMAC is the hot path of an hmac-body token: a cached token
// signs a request with a 1 KiB body.
func BenchmarkSignHMAC(b *testing.B) {
	e := newEnv(b, envOpts{})
	tok := staticToken("hmac", store.TypeHMACBody, "https://api.example.com")
	e.put(b, tok)
	body := bytes.Repeat([]byte("x"), 1024)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("POST", "https://api.example.com/in", bytes.NewReader(body))
		if err := e.m.Sign(ctx, "hmac", req); err != nil {
			b.Fatal(err)
		}
	}
}

// Every type in store.TokenTypes signs and is described; a type added to
// the table without its signing function fails here.
func TestEveryTableTypeSigns(t *testing.T) {
	for _, spec := range store.TokenTypes {
		t.Run(spec.Type, func(t *testing.T) {
			s := signerOf(spec.Type)
			if (s.fixed == nil) == (s.sign == nil) {
				t.Fatalf("type %s has no signer (or both a fixed Authorization and a sign function)", spec.Type)
			}
			if got := DescribeType(spec.Type); got == "" || strings.Contains(got, "unknown") {
				t.Errorf("DescribeType(%s) = %q", spec.Type, got)
			}
			if spec.Type != store.TypeOAuth2 && !strings.HasPrefix(CredentialFlags(spec.Type), "--") {
				t.Errorf("CredentialFlags(%s) = %q, want the flags that store its credential", spec.Type, CredentialFlags(spec.Type))
			}
		})
	}
}
