package hmacsig

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Reasons a request is refused; Verify's errors wrap one of them (or
// ErrMalformed). Their messages never contain the secret, the signature or
// the API token.
var (
	ErrNoSignature   = errors.New("request is not signed")
	ErrAlgorithm     = errors.New("signature algorithm not accepted")
	ErrStale         = errors.New("signature timestamp outside the accepted window")
	ErrUnknownToken  = errors.New("unknown API token")
	ErrBadSignature  = errors.New("signature does not match")
	ErrReplay        = errors.New("nonce already used")
	ErrBodyTooLarge  = errors.New("request body too large to verify")
	errVerifierSetup = errors.New("hmacsig: Verifier.Secret is nil")
)

// Default limits of a Verifier.
const (
	DefaultMaxSkew = 5 * time.Minute
	DefaultMaxBody = 10 << 20
)

// Verifier checks signed requests on the receiving side. The zero value
// with Secret set is usable; it is safe for concurrent use if its functions
// are.
type Verifier struct {
	// Secret returns the API secret of an API token, and false for a token
	// it does not know. Required.
	Secret func(token string) (secret string, ok bool)
	// Algorithms lists the algorithms accepted (default: both).
	Algorithms []Algorithm
	// MaxSkew is how far a request's ts may be from Now, either way
	// (default DefaultMaxSkew).
	MaxSkew time.Duration
	// Nonce, when set, is called for every request whose signature is
	// valid, with its API token, its nonce and the moment from which the
	// timestamp check alone refuses it; it returns an error (wrapping
	// ErrReplay) when the nonce was used before. Without it a captured
	// request can be replayed until its ts leaves the window.
	// NonceCache.Check is one.
	Nonce func(token, nonce string, until time.Time) error
	// MaxBody bounds the body Verify reads (default DefaultMaxBody).
	MaxBody int64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Result is what a verified signature says.
type Result struct {
	Token     string // the API token that signed
	Algorithm Algorithm
	Signed    time.Time // the sender's ts
	Nonce     string
}

// Verify checks r's signature. It reads the body (up to MaxBody) and puts
// it back, so a handler can read it after. The request target is
// r.RequestURI as received (r.URL.RequestURI() when that is empty, as in
// tests that build requests directly).
func (v *Verifier) Verify(r *http.Request) (Result, error) {
	h, ok := r.Header["Authorization"]
	if !ok || len(h) == 0 {
		return Result{}, ErrNoSignature
	}
	if len(h) > 1 {
		return Result{}, fmt.Errorf("%w: more than one Authorization header", ErrMalformed)
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, v.maxBody()+1))
		r.Body.Close()
		if err != nil {
			return Result{}, fmt.Errorf("hmacsig: read the body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if int64(len(body)) > v.maxBody() {
			return Result{}, fmt.Errorf("%w (over %d bytes)", ErrBodyTooLarge, v.maxBody())
		}
	}
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI()
	}
	return v.VerifyParts(r.Method, target, h[0], body)
}

// VerifyParts is Verify for callers that hold the request's parts: its
// method, request target (path and query as on the request line), its
// Authorization header value and its body.
func (v *Verifier) VerifyParts(method, requestTarget, authorization string, body []byte) (Result, error) {
	if v.Secret == nil {
		return Result{}, errVerifierSetup
	}
	if authorization == "" {
		return Result{}, ErrNoSignature
	}
	p, err := ParseAuthorization(authorization)
	if err != nil {
		return Result{}, err
	}
	algs := v.Algorithms
	if len(algs) == 0 {
		algs = []Algorithm{SHA256, SHA512}
	}
	if !slices.Contains(algs, p.Algorithm) {
		return Result{}, fmt.Errorf("%w: %s", ErrAlgorithm, p.Algorithm.Scheme())
	}
	now := v.now()
	signed := time.Unix(p.Timestamp, 0)
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	if d := now.Sub(signed); d > skew || d < -skew || p.Timestamp > 1<<40 {
		return Result{}, fmt.Errorf("%w: signed at %s, %s from this server's clock (at most %s allowed)", ErrStale, signed.UTC().Format(time.RFC3339), now.Sub(signed).Round(time.Second), skew)
	}
	secret, ok := v.Secret(p.Token)
	if !ok || secret == "" {
		return Result{}, ErrUnknownToken
	}
	bodyHash, _ := BodyHash(p.Algorithm, bytes.NewReader(body))
	want := mac(p.Algorithm, secret, Canonical(p, method, requestTarget, bodyHash))
	got, _ := hex.DecodeString(p.Signature)
	if !hmac.Equal(got, want) {
		return Result{}, ErrBadSignature
	}
	if v.Nonce != nil {
		if err := v.Nonce(p.Token, p.Nonce, signed.Add(skew)); err != nil {
			return Result{}, err
		}
	}
	return Result{Token: p.Token, Algorithm: p.Algorithm, Signed: signed, Nonce: p.Nonce}, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxBody() int64 {
	if v.MaxBody > 0 {
		return v.MaxBody
	}
	return DefaultMaxBody
}

// NonceCache remembers the nonces of verified requests in memory until their
// timestamps leave the window. Its Check method is a Verifier.Nonce. It is
// safe for concurrent use. Receivers that run several processes need a
// shared store (a database or Redis with a TTL) instead.
type NonceCache struct {
	// Max bounds the nonces kept (default 1,000,000); when it is full of
	// live nonces, new requests are refused rather than old nonces forgotten.
	Max int
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // token NUL nonce → until
}

// Check records nonce for token until the given time, or returns an error
// wrapping ErrReplay when it is already recorded.
func (c *NonceCache) Check(token, nonce string, until time.Time) error {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	max := c.Max
	if max <= 0 {
		max = 1_000_000
	}
	k := token + "\x00" + nonce
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = make(map[string]time.Time)
	}
	if u, ok := c.seen[k]; ok && now.Before(u) {
		return ErrReplay
	}
	if len(c.seen) >= max {
		for k, u := range c.seen {
			if !now.Before(u) {
				delete(c.seen, k)
			}
		}
		if len(c.seen) >= max {
			return fmt.Errorf("%w: the nonce cache is full (%d live nonces); try again later", ErrReplay, max)
		}
	}
	c.seen[k] = until
	return nil
}
