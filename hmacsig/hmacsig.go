package hmacsig

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the hash behind a signature.
type Algorithm string

// Algorithms.
const (
	SHA256 Algorithm = "sha256" // the default
	SHA512 Algorithm = "sha512"
)

// ParseAlgorithm reads "sha256" or "sha512" (any letter case; "" is SHA256).
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToLower(s) {
	case "", "sha256", "sha-256":
		return SHA256, nil
	case "sha512", "sha-512":
		return SHA512, nil
	}
	return "", fmt.Errorf("hmacsig: algorithm %q is not supported: use sha256 or sha512", s)
}

// Scheme is the Authorization scheme for a: "HMAC-SHA256" or "HMAC-SHA512".
func (a Algorithm) Scheme() string {
	if a == SHA512 {
		return "HMAC-SHA512"
	}
	return "HMAC-SHA256"
}

func (a Algorithm) valid() bool { return a == SHA256 || a == SHA512 }

func (a Algorithm) newHash() func() hash.Hash {
	if a == SHA512 {
		return sha512.New
	}
	return sha256.New
}

// Key is what signs: the API token names the key to the receiver, the API
// secret is the HMAC key and never travels.
type Key struct {
	Token     string
	Secret    string
	Algorithm Algorithm // "" means SHA256
}

// Params are the parameters of a signature's Authorization header.
type Params struct {
	Algorithm Algorithm
	Token     string
	Timestamp int64  // Unix seconds
	Nonce     string // 16 to 128 characters of A-Z a-z 0-9 _ -
	Signature string // lower-case hex
}

// Header renders p as the Authorization header value.
func (p Params) Header() string {
	return fmt.Sprintf("%s token=%s, ts=%d, nonce=%s, sig=%s", p.Algorithm.Scheme(), p.Token, p.Timestamp, p.Nonce, p.Signature)
}

// Errors of malformed input; messages wrap them with what was wrong.
var (
	// ErrMalformed is an Authorization header or a key that does not follow the scheme.
	ErrMalformed = errors.New("malformed HMAC signature")
)

// CheckToken reports whether token may be used as an API token: 1 to 256
// characters from A-Z a-z 0-9 . _ ~ + / = -, so that it travels bare in the
// header. The error never repeats the token.
func CheckToken(token string) error {
	if len(token) == 0 || len(token) > 256 {
		return fmt.Errorf("%w: the API token must have 1 to 256 characters", ErrMalformed)
	}
	for i := 0; i < len(token); i++ {
		if !tokenChar(token[i]) {
			return fmt.Errorf("%w: the API token may contain only A-Z a-z 0-9 . _ ~ + / = -", ErrMalformed)
		}
	}
	return nil
}

func tokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._~+/=-", c) >= 0
}

func checkNonce(nonce string) error {
	if len(nonce) < 16 || len(nonce) > 128 {
		return fmt.Errorf("%w: nonce must have 16 to 128 characters", ErrMalformed)
	}
	for i := 0; i < len(nonce); i++ {
		c := nonce[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: nonce may contain only A-Z a-z 0-9 _ -", ErrMalformed)
		}
	}
	return nil
}

// NewNonce returns 16 random bytes in unpadded base64url: 22 characters.
func NewNonce() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// BodyHash returns the lower-case hex hash of body with a's hash function.
func BodyHash(a Algorithm, body io.Reader) (string, error) {
	h := a.newHash()()
	if body != nil {
		if _, err := io.Copy(h, body); err != nil {
			return "", fmt.Errorf("hmacsig: read the body: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Canonical is the string the signature covers (see the package
// documentation): scheme, token, timestamp, nonce, method, request target and
// body hash, joined by LF.
func Canonical(p Params, method, requestTarget, bodyHash string) string {
	return strings.Join([]string{p.Algorithm.Scheme(), p.Token, strconv.FormatInt(p.Timestamp, 10), p.Nonce, method, requestTarget, bodyHash}, "\n")
}

// mac computes the signature bytes of canonical with secret.
func mac(a Algorithm, secret, canonical string) []byte {
	m := hmac.New(a.newHash(), []byte(secret))
	io.WriteString(m, canonical)
	return m.Sum(nil)
}

// Authorize computes the Authorization header value for one request, given
// its parts: method, request target (path and query as on the request line)
// and body (nil for none). Sign is the same for an *http.Request.
func Authorize(key Key, ts int64, nonce, method, requestTarget string, body io.Reader) (string, error) {
	alg := key.Algorithm
	if alg == "" {
		alg = SHA256
	}
	if !alg.valid() {
		return "", fmt.Errorf("%w: algorithm %q is not supported: use sha256 or sha512", ErrMalformed, key.Algorithm)
	}
	if err := CheckToken(key.Token); err != nil {
		return "", err
	}
	if key.Secret == "" {
		return "", fmt.Errorf("%w: the API secret is empty", ErrMalformed)
	}
	if err := checkNonce(nonce); err != nil {
		return "", err
	}
	if ts < 0 {
		return "", fmt.Errorf("%w: timestamp %d is before 1970", ErrMalformed, ts)
	}
	bodyHash, err := BodyHash(alg, body)
	if err != nil {
		return "", err
	}
	p := Params{Algorithm: alg, Token: key.Token, Timestamp: ts, Nonce: nonce}
	p.Signature = hex.EncodeToString(mac(alg, key.Secret, Canonical(p, method, requestTarget, bodyHash)))
	return p.Header(), nil
}

// Sign sets req's Authorization header to a signature made at now with a
// fresh nonce. The body is read through req.GetBody, so req.Body is left
// unread; a request with a body but no GetBody has its body read into memory
// and replaced (with GetBody set).
func Sign(req *http.Request, key Key, now time.Time) error {
	body, err := bodyOf(req)
	if err != nil {
		return err
	}
	if body != nil {
		defer body.Close()
	}
	var r io.Reader
	if body != nil {
		r = body
	}
	v, err := Authorize(key, now.Unix(), NewNonce(), req.Method, req.URL.RequestURI(), r)
	if err != nil {
		return err
	}
	req.Header["Authorization"] = []string{v}
	return nil
}

// bodyOf returns a reader of req's body that leaves req.Body untouched, or
// nil when there is no body.
func bodyOf(req *http.Request) (io.ReadCloser, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody == nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("hmacsig: read the body: %w", err)
		}
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.Body, _ = req.GetBody()
	}
	rc, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("hmacsig: read the body: %w", err)
	}
	return rc, nil
}
