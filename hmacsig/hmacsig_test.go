package hmacsig

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

var testKey = Key{Token: "sr-test-token", Secret: "test-secret-value-0123", Algorithm: SHA256}

func secretOf(k Key) func(string) (string, bool) {
	return func(tok string) (string, bool) {
		if tok == k.Token {
			return k.Secret, true
		}
		return "", false
	}
}

// Sign reads the body through GetBody and leaves req.Body to be sent; a real
// server verifies what arrived, with the request target as received.
func TestSignThenVerifyOverHTTP(t *testing.T) {
	var mu sync.Mutex
	var results []error
	var bodies []string
	v := &Verifier{Secret: secretOf(testKey), Nonce: (&NonceCache{}).Check}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := v.Verify(r)
		b, _ := io.ReadAll(r.Body) // Verify put the body back
		mu.Lock()
		results, bodies = append(results, err), append(bodies, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	tests := []struct {
		name, method, path, body string
		alg                      Algorithm
	}{
		{"get", "GET", "/x", "", SHA256},
		{"post json", "POST", "/v1/tickets?notify=true", `{"a":1}`, SHA256},
		{"escaped path and query", "PUT", "/a%2Fb/c%20d?q=caf%C3%A9&x=%2B", "body", SHA512},
		{"empty query", "DELETE", "/items/1?", "", SHA512},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader([]byte(tt.body)))
		if tt.body == "" {
			req, _ = http.NewRequest(tt.method, srv.URL+tt.path, nil)
		}
		k := testKey
		k.Algorithm = tt.alg
		if err := Sign(req, k, time.Now()); err != nil {
			t.Fatalf("%s: Sign: %v", tt.name, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for i, tt := range tests {
		if results[i] != nil {
			t.Errorf("%s: the receiver refused it: %v", tt.name, results[i])
		}
		if bodies[i] != tt.body {
			t.Errorf("%s: the handler read %q after Verify, want %q", tt.name, bodies[i], tt.body)
		}
	}
}

func TestSignKeepsBody(t *testing.T) {
	req, _ := http.NewRequest("POST", "https://api.example.com/in", strings.NewReader("hello"))
	if err := Sign(req, testKey, time.Now()); err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(req.Body); string(b) != "hello" {
		t.Errorf("after Sign the body reads %q, want it untouched", b)
	}
	// A body without GetBody is read once and put back, replayable.
	req, _ = http.NewRequest("POST", "https://api.example.com/in", io.NopCloser(strings.NewReader("stream")))
	req.GetBody = nil
	if err := Sign(req, testKey, time.Now()); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(req.Body)
	rc, _ := req.GetBody()
	b2, _ := io.ReadAll(rc)
	if string(b) != "stream" || string(b2) != "stream" {
		t.Errorf("a body without GetBody: read %q and %q after Sign", b, b2)
	}
	// Each signature has its own nonce.
	a := req.Header.Get("Authorization")
	Sign(req, testKey, time.Now())
	if a == req.Header.Get("Authorization") {
		t.Error("two signatures of one request are identical: no fresh nonce")
	}
}

func TestAuthorizeRefusesBadKeys(t *testing.T) {
	tests := []struct {
		name string
		key  Key
	}{
		{"empty token", Key{Secret: "s"}},
		{"token with a space", Key{Token: "a b", Secret: "s"}},
		{"token with a comma", Key{Token: "a,b", Secret: "s"}},
		{"empty secret", Key{Token: "t"}},
		{"unknown algorithm", Key{Token: "t", Secret: "s", Algorithm: "md5"}},
	}
	for _, tt := range tests {
		if _, err := Authorize(tt.key, 1, NewNonce(), "GET", "/", nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tt.name, err)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	good := Params{Algorithm: SHA256, Token: "tok", Timestamp: 1767225600, Nonce: "0123456789abcdef", Signature: sig}
	tests := []struct {
		name, header string
		want         *Params // nil: must fail
	}{
		{"as sent", good.Header(), &good},
		{"scheme and names in other cases", "hmac-sha256 TOKEN=tok, Ts=1767225600, NONCE=0123456789abcdef, Sig=" + sig, &good},
		{"other order, tabs and no spaces", "HMAC-SHA256 sig=" + sig + ",\tnonce=0123456789abcdef,ts=1767225600 ,  token=tok", &good},
		{"quoted values", `HMAC-SHA256 token="tok", ts="1767225600", nonce="0123456789abcdef", sig="` + sig + `"`, &good},
		{"quoted with an escape", `HMAC-SHA256 token="t\ok", ts=1767225600, nonce=0123456789abcdef, sig=` + sig, &good},
		{"unknown parameter ignored", good.Header() + `, v="2, 3"`, &good},
		{"empty list elements", "HMAC-SHA256 ,token=tok,, ts=1767225600, nonce=0123456789abcdef, sig=" + sig + ",", &good},
		{"upper-case hex", strings.Replace(good.Header(), sig, strings.ToUpper(sig), 1), &good},
		{"no parameters", "HMAC-SHA256", nil},
		{"another scheme", "Basic dXNlcjpwYXNz", nil},
		{"missing sig", "HMAC-SHA256 token=tok, ts=1, nonce=0123456789abcdef", nil},
		{"token twice", good.Header() + ", token=tok", nil},
		{"negative ts", strings.Replace(good.Header(), "ts=1767225600", "ts=-1", 1), nil},
		{"ts overflow", strings.Replace(good.Header(), "ts=1767225600", "ts=9999999999999999999", 1), nil},
		{"ts with a fraction", strings.Replace(good.Header(), "ts=1767225600", "ts=1767225600.5", 1), nil},
		{"short sig", strings.Replace(good.Header(), sig, sig[:62], 1), nil},
		{"SHA-512 scheme, SHA-256 length", strings.Replace(good.Header(), "HMAC-SHA256", "HMAC-SHA512", 1), nil},
		{"non-hex sig", strings.Replace(good.Header(), sig, strings.Repeat("zz", 32), 1), nil},
		{"nonce with a dot", strings.Replace(good.Header(), "0123456789abcdef", "0123456789abcde.", 1), nil},
		{"value without comma", "HMAC-SHA256 token=tok ts=1767225600, nonce=0123456789abcdef, sig=" + sig, nil},
		{"name without value", "HMAC-SHA256 token, ts=1767225600, nonce=0123456789abcdef, sig=" + sig, nil},
		{"unterminated quote", `HMAC-SHA256 token="tok, ts=1767225600, nonce=0123456789abcdef, sig=` + sig, nil},
		{"control character in quotes", "HMAC-SHA256 token=\"t\x01k\", ts=1767225600, nonce=0123456789abcdef, sig=" + sig, nil},
		{"huge header", good.Header() + ", pad=" + strings.Repeat("x", 5000), nil},
	}
	for _, tt := range tests {
		got, err := ParseAuthorization(tt.header)
		if tt.want == nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: ParseAuthorization = %+v, %v; want ErrMalformed", tt.name, got, err)
			}
			continue
		}
		if err != nil || got != *tt.want {
			t.Errorf("%s: ParseAuthorization = %+v, %v; want %+v", tt.name, got, err, *tt.want)
		}
	}
}

func TestVerifierRefusals(t *testing.T) {
	now := time.Unix(1767225600, 0)
	sign := func(k Key, ts time.Time, method, target, body string) string {
		h, err := Authorize(k, ts.Unix(), NewNonce(), method, target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	v := &Verifier{Secret: secretOf(testKey), Now: func() time.Time { return now }, Algorithms: []Algorithm{SHA256}, MaxSkew: time.Minute}
	wrongSecret := testKey
	wrongSecret.Secret = "not-the-secret"
	sha512Key := testKey
	sha512Key.Algorithm = SHA512
	tests := []struct {
		name, header string
		want         error
	}{
		{"valid", sign(testKey, now, "POST", "/in", "b"), nil},
		{"61 s old with a 1 min skew", sign(testKey, now.Add(-61*time.Second), "POST", "/in", "b"), ErrStale},
		{"59 s ahead", sign(testKey, now.Add(59*time.Second), "POST", "/in", "b"), nil},
		{"wrong secret", sign(wrongSecret, now, "POST", "/in", "b"), ErrBadSignature},
		{"other body", sign(testKey, now, "POST", "/in", "c"), ErrBadSignature},
		{"other target", sign(testKey, now, "POST", "/in?x", "b"), ErrBadSignature},
		{"SHA-512 not accepted", sign(sha512Key, now, "POST", "/in", "b"), ErrAlgorithm},
		{"no header", "", ErrNoSignature},
	}
	for _, tt := range tests {
		_, err := v.VerifyParts("POST", "/in", tt.header, []byte("b"))
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if err != nil {
			for _, s := range []string{testKey.Secret, testKey.Token, wrongSecret.Secret} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("%s: error %q repeats a key", tt.name, err)
				}
			}
		}
	}
	if _, err := (&Verifier{}).VerifyParts("GET", "/", sign(testKey, now, "GET", "/", ""), nil); err == nil {
		t.Error("a Verifier without Secret accepted a request")
	}
}

func TestVerifyBodyLimitAndHeaders(t *testing.T) {
	v := &Verifier{Secret: secretOf(testKey), MaxBody: 10}
	req := httptest.NewRequest("POST", "/in", strings.NewReader("01234567890"))
	Sign(req, testKey, time.Now())
	if _, err := v.Verify(req); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("body over MaxBody: %v", err)
	}
	req = httptest.NewRequest("POST", "/in", strings.NewReader("0123456789"))
	Sign(req, testKey, time.Now())
	if _, err := v.Verify(req); err != nil {
		t.Errorf("body at MaxBody: %v", err)
	}
	req.Header.Add("Authorization", "Basic eDp5")
	if _, err := v.Verify(req); !errors.Is(err, ErrMalformed) {
		t.Errorf("two Authorization headers: %v", err)
	}
	req.Header.Del("Authorization")
	if _, err := v.Verify(req); !errors.Is(err, ErrNoSignature) {
		t.Errorf("no Authorization header: %v", err)
	}
}

func TestNonceCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := &NonceCache{Max: 2, Now: func() time.Time { return now }}
	if err := c.Check("t", "n1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := c.Check("t", "n1", now.Add(time.Minute)); !errors.Is(err, ErrReplay) {
		t.Errorf("same nonce twice: %v", err)
	}
	if err := c.Check("other", "n1", now.Add(time.Minute)); err != nil {
		t.Errorf("same nonce, another token: %v", err)
	}
	if err := c.Check("t", "n2", now.Add(time.Minute)); !errors.Is(err, ErrReplay) {
		t.Errorf("full cache of live nonces: %v, want a refusal", err)
	}
	now = now.Add(2 * time.Minute)
	if err := c.Check("t", "n2", now.Add(time.Minute)); err != nil {
		t.Errorf("after the window the cache has room again: %v", err)
	}
}

func TestParseAlgorithm(t *testing.T) {
	for in, want := range map[string]Algorithm{"": SHA256, "sha256": SHA256, "SHA-256": SHA256, "sha512": SHA512, "SHA512": SHA512} {
		if got, err := ParseAlgorithm(in); err != nil || got != want {
			t.Errorf("ParseAlgorithm(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseAlgorithm("md5"); err == nil {
		t.Error("md5 accepted")
	}
}

// BenchmarkSign signs a 1 KiB POST body.
func BenchmarkSign(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	req, _ := http.NewRequest("POST", "https://api.example.com/v1/in?x=1", bytes.NewReader(body))
	b.ReportAllocs()
	for b.Loop() {
		if err := Sign(req, testKey, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
