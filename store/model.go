package store

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// Grant types a provider may use.
const (
	// GrantAuthorizationCode: an admin signs in once ("Get authorization
	// token"); the token is refreshed with its refresh token.
	GrantAuthorizationCode = "authorization_code"
	// GrantClientCredentials: machine to machine, no authorization step; the
	// client's own credentials fetch a token on first use and again when it
	// expires.
	GrantClientCredentials = "client_credentials"
)

// GrantTypes lists the grant types, in the order forms offer them.
var GrantTypes = []string{GrantAuthorizationCode, GrantClientCredentials}

// Client authentication styles at the token endpoint. They are explicit: a
// provider's style is never guessed.
const (
	AuthStyleHeader = "header" // client_secret_basic
	AuthStyleBody   = "body"   // client_secret_post
)

// State is where an outbound token is in its life.
type State string

// Token states.
const (
	StateUnauthorized   State = "unauthorized"    // never authorized, or revoked; for other types than oauth2: no credential stored
	StateAuthorized     State = "authorized"      // holds a token set (a complete credential)
	StateReauthRequired State = "reauth_required" // the provider refused the refresh token
)

// Prompts accepted for a token's OAuth prompt parameter ("" sends none).
var Prompts = []string{"", "consent", "select_account", "login", "none"}

// Provider is an OAuth2 authorization server registration (Servicely's
// SystemOAuthProvider).
type Provider struct {
	Name          string            `json:"name"`
	ClientID      string            `json:"clientId"`
	ClientSecret  string            `json:"-"` // sealed at rest
	GrantType     string            `json:"grantType"`
	AuthURL       string            `json:"authorizationUrl"`
	TokenURL      string            `json:"tokenUrl"`
	RevocationURL string            `json:"revocationUrl,omitempty"`
	Scopes        []string          `json:"scopes,omitempty"`
	Description   string            `json:"description,omitempty"`
	AuthStyle     string            `json:"authStyle"`
	PKCE          bool              `json:"pkce"`
	AuthParams    map[string]string `json:"authParams,omitempty"`  // extra authorization-URL parameters
	TokenParams   map[string]string `json:"tokenParams,omitempty"` // extra token-request parameters
	Rejection     Rejection         `json:"rejection,omitzero"`    // how its APIs say they refused an access token (default: 401)
	Created       time.Time         `json:"created"`
	Updated       time.Time         `json:"updated"`
}

// Token is a named outbound credential (Servicely's SystemAPIOutboundToken).
//
// Provider, Prompt and Scopes belong to oauth2 tokens; the fields of the
// other types are their settings in TokenTypes. Validate refuses a field of
// another type. The credential itself is in Secret, whatever the type.
type Token struct {
	Name            string    `json:"name"`
	Type            string    `json:"type"`
	Provider        string    `json:"provider"` // oauth2 only
	Prompt          string    `json:"prompt,omitempty"`
	Active          bool      `json:"active"`
	State           State     `json:"state"`
	Expires         time.Time `json:"expires,omitzero"` // oauth2: access-token expiry, zero when the provider gave none; bearer: when the admin said it expires
	Scopes          []string  `json:"scopes,omitempty"` // override the provider's when set
	LastMessage     string    `json:"lastMessage,omitempty"`
	BaseURL         string    `json:"baseUrl,omitempty"`
	RefreshFailures int       `json:"refreshFailures,omitempty"` // consecutive failed refreshes
	RefreshFailed   time.Time `json:"refreshFailed,omitzero"`    // when the last refresh failed
	RetryAfter      time.Time `json:"retryAfter,omitzero"`       // the token endpoint's Retry-After (429/503): no automatic refresh before
	Created         time.Time `json:"created"`
	Updated         time.Time `json:"updated"`
	LastRefreshed   time.Time `json:"lastRefreshed,omitzero"` // when the current token set was obtained
	LastUsed        time.Time `json:"lastUsed,omitzero"`

	Username      string `json:"username,omitempty"`      // basic: the user name (not secret)
	KeyHeader     string `json:"keyHeader,omitempty"`     // api-key: the header that carries the key, or
	KeyQuery      string `json:"keyQuery,omitempty"`      // api-key: the query parameter that carries it
	KeyPrefix     string `json:"keyPrefix,omitempty"`     // api-key in a header: text before the key, e.g. "Token "
	HMACAlgorithm string `json:"hmacAlgorithm,omitempty"` // hmac-body: sha256 or sha512

	Secret Secret `json:"-"` // sealed at rest

	// Revision identifies the stored record this copy was read from: it
	// changes with every write of the token and is never reused for the
	// same name, so a write can be fenced on it (Tx.ReplaceToken). It is
	// the key's ModRevision on etcd and a counter kept in the record (under
	// its MAC) on bbolt; 0 for a token not read from the store, or read
	// back on etcd in the transaction that wrote it. Not part of the
	// token's JSON: export and apply ignore it.
	Revision int64 `json:"-"`
}

// Secret is a token's credential material. It never leaves the process except
// sealed into the database or as the credential of a request to the token's
// own host.
type Secret struct {
	AccessToken  string                     `json:"accessToken,omitempty"` // oauth2; bearer: the static token
	RefreshToken string                     `json:"refreshToken,omitempty"`
	TokenType    string                     `json:"tokenType,omitempty"`
	Extra        map[string]json.RawMessage `json:"extra,omitempty"` // other token-response fields, e.g. instance_url

	Password  string `json:"password,omitempty"`  // basic
	APIKey    string `json:"apiKey,omitempty"`    // api-key
	APIToken  string `json:"apiToken,omitempty"`  // hmac-body: names the key to the receiver
	APISecret string `json:"apiSecret,omitempty"` // hmac-body: the HMAC key; never sent
}

// IsZero reports whether s holds no credential.
func (s Secret) IsZero() bool {
	return s.AccessToken == "" && s.RefreshToken == "" && s.TokenType == "" && len(s.Extra) == 0 &&
		s.Password == "" && s.APIKey == "" && s.APIToken == "" && s.APISecret == ""
}

// Static reports whether t's type has no authorization step and no refresh:
// an admin stores the credential as it is (every type but oauth2).
func (t Token) Static() bool { return t.Type != TypeOAuth2 }

// EffectiveScopes returns the token's scopes, else the provider's.
func (t Token) EffectiveScopes(p Provider) []string {
	if len(t.Scopes) > 0 {
		return t.Scopes
	}
	return p.Scopes
}

var nameRE = lazy.Regexp{Expr: `^[A-Za-z0-9._-]{1,64}$`}

// ValidateName checks a provider, token or job name: 1 to 64 letters,
// digits, dots, underscores or dashes, not only dots.
func ValidateName(kind, name string) error {
	if msg := nameProblem(name); msg != "" {
		return fmt.Errorf("%s name %s", kind, msg)
	}
	return nil
}

// nameProblem says what is wrong with a name, or "".
func nameProblem(name string) string {
	if !nameRE.Get().MatchString(name) || strings.Trim(name, ".") == "" {
		return fmt.Sprintf("%q is not valid: use 1 to 64 letters, digits, '.', '_' or '-' (for example graph-mail)", name)
	}
	return ""
}

// Validate checks that p can be stored and returns every problem at once,
// by field (FieldErrors), or nil.
func (p Provider) Validate() error {
	var es FieldErrors
	if msg := nameProblem(p.Name); msg != "" {
		es.add("name", "provider name", "%s", msg)
	}
	if strings.TrimSpace(p.ClientID) == "" {
		es.add("clientId", "client id", "required: give the client (application) id the provider issued")
	}
	switch p.GrantType {
	case GrantAuthorizationCode:
		es.endpoint("authorizationUrl", "authorization URL", p.AuthURL, true)
	case GrantClientCredentials:
		// No authorization step: an authorization URL is optional.
		if p.AuthURL != "" {
			es.endpoint("authorizationUrl", "authorization URL", p.AuthURL, true)
		}
	default:
		es.add("grantType", "grant type", "%q is not supported: use %q or %q", p.GrantType, GrantAuthorizationCode, GrantClientCredentials)
	}
	es.endpoint("tokenUrl", "token URL", p.TokenURL, true)
	if p.RevocationURL != "" {
		es.endpoint("revocationUrl", "revocation URL", p.RevocationURL, true)
	}
	if p.AuthStyle != AuthStyleHeader && p.AuthStyle != AuthStyleBody {
		es.add("authStyle", "auth style", "%q is not a valid auth style: use %q (client_secret_basic) or %q (client_secret_post)", p.AuthStyle, AuthStyleHeader, AuthStyleBody)
	}
	es.scopes(p.Scopes)
	es.nest("rejection", p.Rejection.Validate())
	return es.err()
}

// Validate checks the fields of t that do not depend on other records and
// returns every problem at once, by field (FieldErrors), or nil. Its
// messages never repeat a secret.
func (t Token) Validate() error {
	var es FieldErrors
	if msg := nameProblem(t.Name); msg != "" {
		es.add("name", "token name", "%s", msg)
	}
	spec, known := TypeOf(t.Type)
	if !known {
		es.add("type", "token type", "%q is not supported: use one of %s", t.Type, strings.Join(Types, ", "))
	}
	switch t.State {
	case StateUnauthorized, StateAuthorized:
	case StateReauthRequired:
		if t.Static() {
			es.add("state", "token state", "%q applies to oauth2 tokens only", t.State)
		}
	default:
		es.add("state", "token state", "%q is not valid", t.State)
	}
	if t.BaseURL != "" && es.endpoint("baseUrl", "base URL", t.BaseURL, false) {
		if msg := basePathProblem(t.BaseURL); msg != "" {
			es.add("baseUrl", "base URL", "%s", msg)
		}
	}
	t.checkForeignFields(&es)
	if known {
		t.normalizeSettings() // an empty setting is stored as its default
		spec.validate(t, &es)
	}
	return es.err()
}

// Limits on credential fields: generous for real credentials, small enough
// to keep records and headers sane.
const (
	maxSecretLen = 8 << 10
	maxNameLen   = 256
)

// normalize derives what follows from other fields before a token is
// stored: a credential type without an authorization step is authorized
// exactly when its credential is complete, a bearer token's type is Bearer,
// and an empty setting takes its default (TypeSpec).
func (t *Token) normalize() {
	if !t.Static() {
		return
	}
	t.State = StateUnauthorized
	if t.Complete() {
		t.State = StateAuthorized
	}
	if t.Type == TypeBearer {
		t.Secret.TokenType = ""
		if t.Secret.AccessToken != "" {
			// Older scriptrun versions sign it as an oauth2 token would.
			t.Secret.TokenType = "Bearer"
		}
	}
	t.normalizeSettings()
}

// ParseExpiry reads an expiry an admin gives a static credential: an RFC
// 3339 time, or a date (midnight UTC); "" or "never" is none (the zero
// time). A time that is not after now is refused.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "never") {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			return time.Time{}, fmt.Errorf("expiry %q is not a time: give it like 2027-01-01T00:00:00Z or 2027-01-01 (UTC), or never", s)
		}
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("expiry %s is already past: give a future time, or never", t.UTC().Format(time.RFC3339))
	}
	return t.UTC(), nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func validAPIToken(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._~+/=-", c) >= 0) {
			return false
		}
	}
	return true
}

// reservedHeaders are set by the HTTP client or framing; a key there would
// break the request or be dropped.
var reservedHeaders = []string{"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "proxy-connection"}

// headerNameProblem says what is wrong with a header name, or "".
func headerNameProblem(h string) string {
	if h == "" || len(h) > 128 {
		return fmt.Sprintf("header name %q is not valid", h)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return fmt.Sprintf("header name %q is not valid: use letters, digits and '-' (e.g. X-API-Key)", h)
		}
	}
	if slices.Contains(reservedHeaders, strings.ToLower(h)) {
		return fmt.Sprintf("header %s is set by the HTTP client and cannot carry a key", h)
	}
	return ""
}

// scopes records a scope that is not valid (the first one is enough to
// show the rule).
func (es *FieldErrors) scopes(scopes []string) {
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			es.add("scopes", "scopes", "%q is not a valid scope: scopes are separated by spaces and contain no quotes or backslashes", s)
			return
		}
	}
}

// endpoint records a problem with an endpoint URL, and reports whether it
// is fine.
func (es *FieldErrors) endpoint(field, label, raw string, secretsTravel bool) bool {
	if msg := endpointProblem(raw, secretsTravel); msg != "" {
		es.add(field, label, "%s", msg)
		return false
	}
	return true
}

// endpointProblem says what is wrong with an endpoint URL, or "". It must
// be an absolute http(s) URL; secrets travel to it, so plain http is
// allowed only to loopback hosts (local development and tests).
func endpointProblem(raw string, secretsTravel bool) string {
	if raw == "" {
		return "required: give it like https://login.example.com/oauth2/token"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Sprintf("%q is not an absolute http(s) URL: give it like https://login.example.com/oauth2/token", raw)
	}
	if u.User != nil {
		return fmt.Sprintf("%q must not carry a user name or password", redactUserinfo(u))
	}
	if u.Fragment != "" {
		return fmt.Sprintf("%q must not have a #fragment", raw)
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		if secretsTravel {
			return fmt.Sprintf("%q uses plain http: secrets would travel unencrypted; use https (http is allowed only for loopback hosts)", raw)
		}
		return fmt.Sprintf("%q uses plain http: the access token would travel unencrypted; use https (http is allowed only for loopback hosts)", raw)
	}
	return ""
}

func redactUserinfo(u *url.URL) string {
	c := *u
	c.User = url.User("•••")
	return c.String()
}

// IsLoopback reports whether host (without port) names this machine.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Mask shows at most the last four characters of a secret, for display.
func Mask(secret string) string {
	if secret == "" {
		return ""
	}
	if len(secret) < 12 {
		return "••••"
	}
	return "••••" + secret[len(secret)-4:]
}
