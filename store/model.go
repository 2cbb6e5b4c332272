package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Grant types a provider may use.
const (
	GrantAuthorizationCode = "authorization_code"
)

// Client authentication styles at the token endpoint. They are explicit: a
// provider's style is never guessed.
const (
	AuthStyleHeader = "header" // client_secret_basic
	AuthStyleBody   = "body"   // client_secret_post
)

// Token types.
const (
	TypeOAuth2 = "oauth2"
)

// State is where an outbound token is in its life.
type State string

// Token states.
const (
	StateUnauthorized   State = "unauthorized"    // never authorized, or revoked
	StateAuthorized     State = "authorized"      // holds a token set
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
	Created       time.Time         `json:"created"`
	Updated       time.Time         `json:"updated"`
}

// Token is a named outbound credential (Servicely's SystemAPIOutboundToken).
type Token struct {
	Name            string    `json:"name"`
	Type            string    `json:"type"`
	Provider        string    `json:"provider"`
	Prompt          string    `json:"prompt,omitempty"`
	Active          bool      `json:"active"`
	State           State     `json:"state"`
	Expires         time.Time `json:"expires,omitzero"` // access-token expiry; zero when the provider gave none
	Scopes          []string  `json:"scopes,omitempty"` // override the provider's when set
	LastMessage     string    `json:"lastMessage,omitempty"`
	BaseURL         string    `json:"baseUrl,omitempty"`
	RefreshFailures int       `json:"refreshFailures,omitempty"` // consecutive failed refreshes
	RefreshFailed   time.Time `json:"refreshFailed,omitzero"`    // when the last refresh failed
	Created         time.Time `json:"created"`
	Updated         time.Time `json:"updated"`
	LastRefreshed   time.Time `json:"lastRefreshed,omitzero"` // when the current token set was obtained
	LastUsed        time.Time `json:"lastUsed,omitzero"`
	Secret          Secret    `json:"-"` // sealed at rest
}

// Secret is a token's credential material. It never leaves the process except
// sealed into the database or as the Authorization header of a request to the
// token's own host.
type Secret struct {
	AccessToken  string                     `json:"accessToken,omitempty"`
	RefreshToken string                     `json:"refreshToken,omitempty"`
	TokenType    string                     `json:"tokenType,omitempty"`
	Extra        map[string]json.RawMessage `json:"extra,omitempty"` // other token-response fields, e.g. instance_url
}

// IsZero reports whether s holds no credential.
func (s Secret) IsZero() bool {
	return s.AccessToken == "" && s.RefreshToken == "" && s.TokenType == "" && len(s.Extra) == 0
}

// EffectiveScopes returns the token's scopes, else the provider's.
func (t Token) EffectiveScopes(p Provider) []string {
	if len(t.Scopes) > 0 {
		return t.Scopes
	}
	return p.Scopes
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidateName checks a provider or token name: 1 to 64 letters, digits,
// dots, underscores or dashes, not only dots.
func ValidateName(kind, name string) error {
	if !nameRE.MatchString(name) || strings.Trim(name, ".") == "" {
		return fmt.Errorf("%s name %q is not valid: use 1 to 64 letters, digits, '.', '_' or '-' (for example graph-mail)", kind, name)
	}
	return nil
}

// Validate checks that p can be stored, naming the first field that is wrong.
func (p Provider) Validate() error {
	if err := ValidateName("provider", p.Name); err != nil {
		return err
	}
	if strings.TrimSpace(p.ClientID) == "" {
		return errors.New("provider client id is empty: give the client (application) id the provider issued")
	}
	if p.GrantType != GrantAuthorizationCode {
		return fmt.Errorf("provider grant type %q is not supported: use %q", p.GrantType, GrantAuthorizationCode)
	}
	if err := checkEndpoint("authorization URL", p.AuthURL, true); err != nil {
		return err
	}
	if err := checkEndpoint("token URL", p.TokenURL, true); err != nil {
		return err
	}
	if p.RevocationURL != "" {
		if err := checkEndpoint("revocation URL", p.RevocationURL, true); err != nil {
			return err
		}
	}
	if p.AuthStyle != AuthStyleHeader && p.AuthStyle != AuthStyleBody {
		return fmt.Errorf("provider auth style %q is not valid: use %q (client_secret_basic) or %q (client_secret_post)", p.AuthStyle, AuthStyleHeader, AuthStyleBody)
	}
	for _, s := range p.Scopes {
		if err := checkScope(s); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the fields of t that do not depend on other records.
func (t Token) Validate() error {
	if err := ValidateName("token", t.Name); err != nil {
		return err
	}
	if t.Type != TypeOAuth2 {
		return fmt.Errorf("token type %q is not supported: use %q", t.Type, TypeOAuth2)
	}
	if err := ValidateName("provider", t.Provider); err != nil {
		return err
	}
	if !validPrompt(t.Prompt) {
		return fmt.Errorf("token prompt %q is not valid: use one of consent, select_account, login, none, or leave it empty", t.Prompt)
	}
	switch t.State {
	case StateUnauthorized, StateAuthorized, StateReauthRequired:
	default:
		return fmt.Errorf("token state %q is not valid", t.State)
	}
	if t.BaseURL != "" {
		if err := checkEndpoint("base URL", t.BaseURL, false); err != nil {
			return err
		}
	}
	for _, s := range t.Scopes {
		if err := checkScope(s); err != nil {
			return err
		}
	}
	return nil
}

func validPrompt(p string) bool {
	for _, ok := range Prompts {
		if p == ok {
			return true
		}
	}
	return false
}

func checkScope(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
		return fmt.Errorf("scope %q is not valid: scopes are separated by spaces and contain no quotes or backslashes", s)
	}
	return nil
}

// checkEndpoint requires an absolute http(s) URL. Secrets travel to these
// URLs, so plain http is allowed only to loopback hosts (local development
// and tests).
func checkEndpoint(what, raw string, secretsTravel bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%s %q is not an absolute http(s) URL: give it like https://login.example.com/oauth2/token", what, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%s %q must not carry a user name or password", what, redactUserinfo(u))
	}
	if u.Fragment != "" {
		return fmt.Errorf("%s %q must not have a #fragment", what, raw)
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		if secretsTravel {
			return fmt.Errorf("%s %q uses plain http: secrets would travel unencrypted; use https (http is allowed only for loopback hosts)", what, raw)
		}
		return fmt.Errorf("%s %q uses plain http: the access token would travel unencrypted; use https (http is allowed only for loopback hosts)", what, raw)
	}
	return nil
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
