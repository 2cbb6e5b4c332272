package hmacsig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the inputs in vectors_test.go")

// vectorFile is testdata/vectors.json: worked examples for implementers.
type vectorFile struct {
	Scheme  string          `json:"scheme"`
	Notes   []string        `json:"notes"`
	Valid   []validVector   `json:"valid"`
	Invalid []invalidVector `json:"invalid"`
}

// validVector is one signed request with every intermediate value.
type validVector struct {
	Name          string `json:"name"`
	Algorithm     string `json:"algorithm"`
	APIToken      string `json:"apiToken"`
	APISecret     string `json:"apiSecret"`
	Method        string `json:"method"`
	RequestTarget string `json:"requestTarget"`
	Timestamp     int64  `json:"timestamp"`
	Nonce         string `json:"nonce"`
	Body          string `json:"body,omitempty"`       // UTF-8 text, or
	BodyBase64    string `json:"bodyBase64,omitempty"` // any bytes, base64
	BodyHash      string `json:"bodyHash"`
	Canonical     string `json:"canonical"`
	Signature     string `json:"signature"`
	Authorization string `json:"authorization"`
}

func (v validVector) body() []byte {
	if v.BodyBase64 != "" {
		b, _ := base64.StdEncoding.DecodeString(v.BodyBase64)
		return b
	}
	return []byte(v.Body)
}

// invalidVector is a request a verifier must refuse, verified with the keys
// of the valid vectors at the clock Now.
type invalidVector struct {
	Name          string `json:"name"`
	Method        string `json:"method"`
	RequestTarget string `json:"requestTarget"`
	Body          string `json:"body,omitempty"`
	Authorization string `json:"authorization"`
	Now           int64  `json:"now"`
	// Twice: verify it twice with a nonce cache; the second must fail.
	Twice bool `json:"twice,omitempty"`
	// Error: malformed, stale, unknown_token, bad_signature or replay.
	Error string `json:"error"`
}

var errorNames = map[string]error{
	"malformed": ErrMalformed, "stale": ErrStale, "unknown_token": ErrUnknownToken,
	"bad_signature": ErrBadSignature, "replay": ErrReplay,
}

const vectorsPath = "testdata/vectors.json"

// vectorInputs are the valid vectors before signing.
func vectorInputs() []validVector {
	const ts = 1767225600 // 2026-01-01T00:00:00Z
	return []validVector{
		{Name: "GET without a body", Algorithm: "sha256", APIToken: "sr-demo-token-0001", APISecret: "s3cr3t-API-secret",
			Method: "GET", RequestTarget: "/api/items?n=3", Timestamp: ts, Nonce: "q8Xy1VbL0mH3kT7pZ2rN4w"},
		{Name: "POST with a JSON body", Algorithm: "sha256", APIToken: "sr-demo-token-0001", APISecret: "s3cr3t-API-secret",
			Method: "POST", RequestTarget: "/v1/tickets", Timestamp: ts + 17, Nonce: "ZmlYc2Rfa2V5LTAwMDAwMQ",
			Body: `{"title":"Printer on fire","priority":1}`},
		{Name: "PUT with an escaped query and a non-ASCII body", Algorithm: "sha256", APIToken: "sr-demo-token-0001", APISecret: "s3cr3t-API-secret",
			Method: "PUT", RequestTarget: "/v1/items/42?name=caf%C3%A9&tags=a%2Cb&empty=", Timestamp: ts + 3600, Nonce: "Tm9uY2UtMy0tLS0tLS0tLQ",
			Body: "Grüße 🌍\n"},
		{Name: "SHA-512 form POST", Algorithm: "sha512", APIToken: "sr-demo-token-0512", APISecret: "another secret, with spaces & ünïcode",
			Method: "POST", RequestTarget: "/hooks/in?x=1", Timestamp: ts + 86400, Nonce: "c2hhNTEyLW5vbmNlLTQ0NDQ",
			Body: "a=1&b=two"},
		{Name: "binary body", Algorithm: "sha256", APIToken: "sr-demo-token-0001", APISecret: "s3cr3t-API-secret",
			Method: "PATCH", RequestTarget: "/v1/blobs/7", Timestamp: ts + 5, Nonce: "YmluYXJ5LWJvZHktbm9uY2U",
			BodyBase64: base64.StdEncoding.EncodeToString([]byte{0x00, 0xff, 0x10, 0x0d, 0x0a, 0x80, 0x7f})},
		{Name: "SHA-512 DELETE without a body", Algorithm: "sha512", APIToken: "sr-demo-token-0512", APISecret: "another secret, with spaces & ünïcode",
			Method: "DELETE", RequestTarget: "/v1/items/42", Timestamp: ts + 1, Nonce: "ZGVsZXRlLW5vbmNlLTY2NjY2Ng"},
	}
}

// invalidInputs derives the refusals from signed valid vectors.
func invalidInputs(valid []validVector) []invalidVector {
	get, post := valid[0], valid[1]
	swap := func(h, from, to string) string { return strings.Replace(h, from, to, 1) }
	return []invalidVector{
		{Name: "body changed", Method: post.Method, RequestTarget: post.RequestTarget, Body: strings.Replace(post.Body, "1}", "2}", 1),
			Authorization: post.Authorization, Now: post.Timestamp, Error: "bad_signature"},
		{Name: "method changed", Method: "PUT", RequestTarget: post.RequestTarget, Body: post.Body,
			Authorization: post.Authorization, Now: post.Timestamp, Error: "bad_signature"},
		{Name: "query changed", Method: get.Method, RequestTarget: "/api/items?n=30",
			Authorization: get.Authorization, Now: get.Timestamp, Error: "bad_signature"},
		{Name: "timestamp changed", Method: get.Method, RequestTarget: get.RequestTarget,
			Authorization: swap(get.Authorization, "ts=1767225600", "ts=1767225601"), Now: get.Timestamp, Error: "bad_signature"},
		{Name: "signed 301 s ago", Method: get.Method, RequestTarget: get.RequestTarget,
			Authorization: get.Authorization, Now: get.Timestamp + 301, Error: "stale"},
		{Name: "signed 301 s in the future", Method: get.Method, RequestTarget: get.RequestTarget,
			Authorization: get.Authorization, Now: get.Timestamp - 301, Error: "stale"},
		{Name: "unknown API token", Method: get.Method, RequestTarget: get.RequestTarget,
			Authorization: swap(get.Authorization, "token=sr-demo-token-0001", "token=sr-demo-token-9999"), Now: get.Timestamp, Error: "unknown_token"},
		{Name: "SHA-256 signature under the SHA-512 scheme", Method: get.Method, RequestTarget: get.RequestTarget,
			Authorization: swap(get.Authorization, "HMAC-SHA256", "HMAC-SHA512"), Now: get.Timestamp, Error: "malformed"},
		{Name: "nonce missing", Method: get.Method, RequestTarget: get.RequestTarget,
			Authorization: swap(get.Authorization, "nonce="+get.Nonce+", ", ""), Now: get.Timestamp, Error: "malformed"},
		{Name: "ts twice", Method: get.Method, RequestTarget: get.RequestTarget,
			Authorization: get.Authorization + ", ts=1767225600", Now: get.Timestamp, Error: "malformed"},
		{Name: "nonce too short", Method: get.Method, RequestTarget: get.RequestTarget,
			Authorization: swap(get.Authorization, "nonce="+get.Nonce, "nonce=abc"), Now: get.Timestamp, Error: "malformed"},
		{Name: "another scheme", Method: get.Method, RequestTarget: get.RequestTarget,
			Authorization: "Bearer " + get.Signature, Now: get.Timestamp, Error: "malformed"},
		{Name: "replayed", Method: get.Method, RequestTarget: get.RequestTarget,
			Authorization: get.Authorization, Now: get.Timestamp + 60, Twice: true, Error: "replay"},
	}
}

func signVector(t *testing.T, v validVector) validVector {
	t.Helper()
	alg, err := ParseAlgorithm(v.Algorithm)
	if err != nil {
		t.Fatal(err)
	}
	v.BodyHash, _ = BodyHash(alg, bytes.NewReader(v.body()))
	p := Params{Algorithm: alg, Token: v.APIToken, Timestamp: v.Timestamp, Nonce: v.Nonce}
	v.Canonical = Canonical(p, v.Method, v.RequestTarget, v.BodyHash)
	h, err := Authorize(Key{Token: v.APIToken, Secret: v.APISecret, Algorithm: alg}, v.Timestamp, v.Nonce, v.Method, v.RequestTarget, bytes.NewReader(v.body()))
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	v.Authorization = h
	parsed, err := ParseAuthorization(h)
	if err != nil {
		t.Fatalf("%s: own header does not parse: %v", v.Name, err)
	}
	v.Signature = parsed.Signature
	return v
}

func readVectors(t *testing.T) vectorFile {
	t.Helper()
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", vectorsPath, err)
	}
	return f
}

// TestVectors checks the implementation against testdata/vectors.json: it
// recomputes every intermediate value of the valid vectors, accepts them,
// and refuses each invalid one for the documented reason. With -update it
// rewrites the file from the inputs above.
func TestVectors(t *testing.T) {
	if *update {
		var valid []validVector
		for _, v := range vectorInputs() {
			valid = append(valid, signVector(t, v))
		}
		f := vectorFile{
			Scheme: "scriptrun HMAC body signature, version 1 (see hmacsig/doc.go)",
			Notes: []string{
				"canonical = scheme LF apiToken LF timestamp LF nonce LF method LF requestTarget LF bodyHash (no LF at the end)",
				"bodyHash = lower-case hex SHA-256 (sha256) or SHA-512 (sha512) of the body bytes; the hash of the empty string when there is no body",
				"signature = lower-case hex HMAC-SHA-256 or HMAC-SHA-512 of canonical, keyed with the UTF-8 bytes of apiSecret",
				"authorization = scheme SP 'token=' apiToken ', ts=' timestamp ', nonce=' nonce ', sig=' signature",
				"invalid vectors use the keys of the valid ones (apiToken to apiSecret) and a clock at 'now' (Unix seconds); the accepted skew is 300 s",
			},
			Valid:   valid,
			Invalid: invalidInputs(valid),
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // "&" stays readable
		enc.SetIndent("", "  ")
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := readVectors(t)
	if len(f.Valid) != len(vectorInputs()) || len(f.Invalid) == 0 {
		t.Fatalf("%s has %d valid and %d invalid vectors; regenerate it with -update", vectorsPath, len(f.Valid), len(f.Invalid))
	}
	secrets := map[string]string{}
	for _, v := range f.Valid {
		secrets[v.APIToken] = v.APISecret
		got := signVector(t, validVector{Name: v.Name, Algorithm: v.Algorithm, APIToken: v.APIToken, APISecret: v.APISecret,
			Method: v.Method, RequestTarget: v.RequestTarget, Timestamp: v.Timestamp, Nonce: v.Nonce, Body: v.Body, BodyBase64: v.BodyBase64})
		if got != v {
			t.Errorf("vector %q: computed\n%+v\nwant\n%+v", v.Name, got, v)
		}
		if strings.Count(v.Canonical, "\n") != 6 || strings.HasSuffix(v.Canonical, "\n") {
			t.Errorf("vector %q: canonical string is not seven lines", v.Name)
		}
		vf := &Verifier{Secret: func(tok string) (string, bool) { s, ok := secrets[tok]; return s, ok }, Now: func() time.Time { return time.Unix(v.Timestamp, 0) }}
		res, err := vf.VerifyParts(v.Method, v.RequestTarget, v.Authorization, v.body())
		if err != nil || res.Token != v.APIToken || res.Nonce != v.Nonce || res.Signed.Unix() != v.Timestamp {
			t.Errorf("vector %q does not verify: %v (%+v)", v.Name, err, res)
		}
	}
	for _, iv := range f.Invalid {
		want, ok := errorNames[iv.Error]
		if !ok {
			t.Fatalf("invalid vector %q: unknown error name %q", iv.Name, iv.Error)
		}
		cache := &NonceCache{Now: func() time.Time { return time.Unix(iv.Now, 0) }}
		vf := &Verifier{
			Secret: func(tok string) (string, bool) { s, ok := secrets[tok]; return s, ok },
			Now:    func() time.Time { return time.Unix(iv.Now, 0) },
			Nonce:  cache.Check,
		}
		_, err := vf.VerifyParts(iv.Method, iv.RequestTarget, iv.Authorization, []byte(iv.Body))
		if iv.Twice {
			if err != nil {
				t.Errorf("invalid vector %q: first verification failed: %v", iv.Name, err)
			}
			_, err = vf.VerifyParts(iv.Method, iv.RequestTarget, iv.Authorization, []byte(iv.Body))
		}
		if !errors.Is(err, want) {
			t.Errorf("invalid vector %q: %v, want %s", iv.Name, err, iv.Error)
		}
	}
}
