package tokens

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/hmacsig"
	"github.com/scriptrun/scriptrun/store"
)

// How each token type signs a request. Whatever the type, the credential
// goes only into the Go request (a header, or for api-key tokens possibly a
// query parameter), never into anything a script can read, and only after
// the host binding was checked.
//
//	oauth2     Authorization: <token type> <access token>
//	bearer     Authorization: Bearer <token>
//	basic      Authorization: Basic base64(<user>:<password>)
//	api-key    <header>: <prefix><key>, or ?<param>=<key> added to the query
//	hmac-body  Authorization: HMAC-SHA256 token=..., ts=..., nonce=..., sig=...  (package hmacsig)

// typeSigner puts one token type's credential on a request. Every type in
// store.TokenTypes has one (a test checks).
type typeSigner struct {
	// fixed returns the type's Authorization value, computed once per read
	// of the token; nil for the types that sign each request in sign.
	fixed func(store.Token) string
	sign  func(t *store.Token, req *http.Request, now time.Time) error
}

// signerOf returns the signer of a token type (the zero typeSigner for an
// unknown type). A switch, not a map: a map literal would be built at every
// start.
func signerOf(typ string) typeSigner {
	switch typ {
	case store.TypeOAuth2:
		return typeSigner{fixed: func(t store.Token) string { return t.Secret.TokenType + " " + t.Secret.AccessToken }}
	case store.TypeBearer:
		return typeSigner{fixed: func(t store.Token) string { return "Bearer " + t.Secret.AccessToken }}
	case store.TypeBasic:
		return typeSigner{fixed: func(t store.Token) string {
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(t.Username+":"+t.Secret.Password))
		}}
	case store.TypeAPIKey:
		return typeSigner{sign: signAPIKey}
	case store.TypeHMACBody:
		return typeSigner{sign: signHMACBody}
	}
	return typeSigner{}
}

// authorizationOf returns the Authorization header of the types that send a
// fixed one (nil for the others), built once per read of the token: one
// value in a full slice (length = capacity), so that every request signed
// with it can share it. Nothing writes into a request's header values in
// place (Header.Set replaces the slice, and Header.Add on a full slice
// copies it); TestSignSharedHeader checks.
func authorizationOf(t store.Token) []string {
	if s := signerOf(t.Type); s.fixed != nil {
		return []string{s.fixed(t)}[:1:1]
	}
	return nil
}

// sign puts e's credential on req. Header values replace the header's slice
// rather than writing into it: bindings compare slices to find what the
// signer set (and strip it on a redirect to another origin).
func (e *entry) sign(req *http.Request, now time.Time) error {
	switch {
	case e.signer != nil:
		return e.signer(&e.token, req, now)
	case e.authorization == nil: // a type store.Token.Validate refuses
		return newError(CodeStore, e.token.Name, nil, "token %q has type %q, which this scriptrun cannot sign with", e.token.Name, e.token.Type)
	}
	req.Header["Authorization"] = e.authorization
	return nil
}

func signAPIKey(t *store.Token, req *http.Request, _ time.Time) error {
	if t.KeyHeader != "" {
		req.Header[http.CanonicalHeaderKey(t.KeyHeader)] = []string{t.KeyPrefix + t.Secret.APIKey}
		return nil
	}
	req.URL.RawQuery = withParam(req.URL.RawQuery, t.KeyQuery, t.Secret.APIKey)
	req.URL.ForceQuery = false
	return nil
}

func signHMACBody(t *store.Token, req *http.Request, now time.Time) error {
	alg, err := hmacsig.ParseAlgorithm(t.HMACAlgorithm)
	if err != nil {
		return newError(CodeStore, t.Name, err, "token %q: %v", t.Name, err)
	}
	key := hmacsig.Key{Token: t.Secret.APIToken, Secret: t.Secret.APISecret, Algorithm: alg}
	if err := hmacsig.Sign(req, key, now); err != nil {
		// hmacsig's messages never contain the key; a body that
		// cannot be read is the only runtime failure.
		return newError(CodeSignFailed, t.Name, err, "token %q: cannot sign the request: %v", t.Name, err)
	}
	return nil
}

// withParam sets query parameter name to value in a raw query, dropping
// any value a script put there and keeping every other parameter exactly as
// it was (order and escaping: some APIs sign their URLs).
func withParam(rawQuery, name, value string) string {
	var kept []string
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == name || k == name {
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(append(kept, url.QueryEscape(name)+"="+url.QueryEscape(value)), "&")
}

// CredentialFlags names the command-line flags that store a type's
// credential, for messages ("" for oauth2).
func CredentialFlags(typ string) string {
	spec, _ := store.TypeOf(typ)
	var flags []string
	for _, c := range spec.Entered() {
		flags = append(flags, "--"+c.Flag+"-env VAR")
	}
	return strings.Join(flags, " ")
}

// noCredential is the refusal of a static token that holds no credential.
func noCredential(t store.Token) *Error {
	return newError(CodeUnauthorized, t.Name, nil, "token %q (%s) holds no credential: it was revoked or never set; store one with `scriptrun token update %s %s` or in the console",
		t.Name, t.Type, t.Name, CredentialFlags(t.Type))
}

// notRefreshable is the refusal to refresh a static token.
func notRefreshable(t store.Token) *Error {
	return newError(CodeUnsupportedGrant, t.Name, nil, "token %q is of type %s: it holds a fixed credential, so there is nothing to refresh; replace it with `scriptrun token update %s %s`",
		t.Name, t.Type, t.Name, CredentialFlags(t.Type))
}

// DescribeType says in words how a token of the given type signs, for
// `token show` and the console.
func DescribeType(typ string) string {
	if spec, ok := store.TypeOf(typ); ok {
		return spec.Description
	}
	return fmt.Sprintf("unknown type %q", typ)
}
