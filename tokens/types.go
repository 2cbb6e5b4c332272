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

// authorizationOf returns the Authorization value of the types that send a
// fixed one ("" for the others).
func authorizationOf(t store.Token) string {
	s := t.Secret
	switch t.Type {
	case store.TypeBearer:
		return "Bearer " + s.AccessToken
	case store.TypeBasic:
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(t.Username+":"+s.Password))
	case store.TypeOAuth2:
		return s.TokenType + " " + s.AccessToken
	}
	return ""
}

// sign puts e's credential on req. Header values replace the header's slice
// rather than writing into it: bindings compare slices to find what the
// signer set (and strip it on a redirect to another origin).
func (e *entry) sign(req *http.Request, now time.Time) error {
	t := e.token
	switch t.Type {
	case store.TypeAPIKey:
		if t.KeyHeader != "" {
			req.Header[http.CanonicalHeaderKey(t.KeyHeader)] = []string{t.KeyPrefix + t.Secret.APIKey}
			return nil
		}
		req.URL.RawQuery = withParam(req.URL.RawQuery, t.KeyQuery, t.Secret.APIKey)
		req.URL.ForceQuery = false
		return nil
	case store.TypeHMACBody:
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
	req.Header["Authorization"] = []string{e.authorization}
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
	switch typ {
	case store.TypeBasic:
		return "--password-env VAR"
	case store.TypeAPIKey:
		return "--key-env VAR"
	case store.TypeBearer:
		return "--token-env VAR"
	case store.TypeHMACBody:
		return "--api-token-env VAR --api-secret-env VAR"
	}
	return ""
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
	switch typ {
	case store.TypeOAuth2:
		return "OAuth2 access token from a provider"
	case store.TypeBasic:
		return "HTTP Basic: user name and password"
	case store.TypeAPIKey:
		return "API key in a header or query parameter"
	case store.TypeBearer:
		return "static bearer token"
	case store.TypeHMACBody:
		return "HMAC-signed requests: API token and API secret"
	}
	return fmt.Sprintf("unknown type %q", typ)
}
