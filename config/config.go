// Package config is scriptrun's declarative configuration: Export writes the
// providers, token definitions, cron jobs and webhook notifiers of a store
// as YAML or JSON (never a secret), and Apply makes a store match such a
// file — idempotently, in one transaction, after checking the whole file —
// reading secrets only through references ({env: VAR} or {file: PATH}).
//
// # Caveats
//
// A configuration file may come from someone else, and each secret it
// refers to is sent to a URL the same file names. So references are
// narrow: a file must be a regular file (after symlinks) of at most
// MaxSecretFile bytes and not one of Options.Protected (the home's key and
// database); SCRIPTRUN_* variables, which hold scriptrun's own key and
// settings, are refused. The Plan lists every secret with where it comes
// from and where it will be sent, and a dry run reads none of them, so
// `apply --dry-run` is the review step.
package config

import (
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// File is the document Export writes and Apply reads.
type File struct {
	Providers []Provider `yaml:"providers,omitempty" json:"providers,omitempty"`
	Tokens    []Token    `yaml:"tokens,omitempty" json:"tokens,omitempty"`
	Jobs      []Job      `yaml:"jobs,omitempty" json:"jobs,omitempty"`
	Notifiers []Notifier `yaml:"notifiers,omitempty" json:"notifiers,omitempty"`
}

// SecretRef says where Apply reads a secret from; the file never holds the
// secret itself. Env names a variable (not SCRIPTRUN_*); File a regular
// file of at most MaxSecretFile bytes holding the secret on one line.
type SecretRef struct {
	Env  string `yaml:"env,omitempty" json:"env,omitempty"`
	File string `yaml:"file,omitempty" json:"file,omitempty"` // relative to the configuration file
}

// Provider is a provider's configuration. A missing clientSecret leaves the
// stored secret as it is.
type Provider struct {
	Name             string            `yaml:"name" json:"name"`
	ClientID         string            `yaml:"clientId" json:"clientId"`
	ClientSecret     *SecretRef        `yaml:"clientSecret,omitempty" json:"clientSecret,omitempty"`
	GrantType        string            `yaml:"grantType,omitempty" json:"grantType,omitempty"`
	AuthorizationURL string            `yaml:"authorizationUrl" json:"authorizationUrl"`
	TokenURL         string            `yaml:"tokenUrl" json:"tokenUrl"`
	RevocationURL    string            `yaml:"revocationUrl,omitempty" json:"revocationUrl,omitempty"`
	Scopes           Scopes            `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	Description      string            `yaml:"description,omitempty" json:"description,omitempty"`
	AuthStyle        string            `yaml:"authStyle,omitempty" json:"authStyle,omitempty"`
	PKCE             *bool             `yaml:"pkce,omitempty" json:"pkce,omitempty"`
	AuthParams       map[string]string `yaml:"authParams,omitempty" json:"authParams,omitempty"`
	TokenParams      map[string]string `yaml:"tokenParams,omitempty" json:"tokenParams,omitempty"`
	Rejection        *Rejection        `yaml:"rejection,omitempty" json:"rejection,omitempty"`
}

// Rejection says which API answers mean that an access token was refused
// (store.Rejection); a provider without one keeps the default, a 401.
type Rejection struct {
	Statuses     []int  `yaml:"statuses,omitempty" json:"statuses,omitempty"`         // 400-599; default 401
	BodyPattern  string `yaml:"bodyPattern,omitempty" json:"bodyPattern,omitempty"`   // Go RE2, searched in the first 4 KiB
	BodyStatuses []int  `yaml:"bodyStatuses,omitempty" json:"bodyStatuses,omitempty"` // whose body is searched; default 200
}

// rejectionOf is the file's form of r: nil for the default.
func rejectionOf(r store.Rejection) *Rejection {
	if r.IsZero() {
		return nil
	}
	return &Rejection{Statuses: r.Statuses, BodyPattern: r.BodyPattern, BodyStatuses: r.BodyStatuses}
}

// store is the store's form of r.
func (r *Rejection) store() store.Rejection {
	if r == nil {
		return store.Rejection{}
	}
	return store.Rejection{Statuses: r.Statuses, BodyPattern: r.BodyPattern, BodyStatuses: r.BodyStatuses}
}

// Token is a token's definition: its settings, not its state. Static types
// (basic, api-key, bearer, hmac-body) take their credential through secret
// references; an omitted reference keeps the stored credential.
// Token is a token definition: its type, provider or settings, and its
// static credential by reference. OAuth credentials and state are never in
// the file.
type Token struct {
	Name     string `yaml:"name" json:"name"`
	Type     string `yaml:"type,omitempty" json:"type,omitempty"`
	Provider string `yaml:"provider,omitempty" json:"provider,omitempty"`
	Prompt   string `yaml:"prompt,omitempty" json:"prompt,omitempty"`
	Active   *bool  `yaml:"active,omitempty" json:"active,omitempty"`
	Scopes   Scopes `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	BaseURL  string `yaml:"baseUrl,omitempty" json:"baseUrl,omitempty"`

	Username      string `yaml:"username,omitempty" json:"username,omitempty"`           // basic
	KeyHeader     string `yaml:"keyHeader,omitempty" json:"keyHeader,omitempty"`         // api-key
	KeyQuery      string `yaml:"keyQuery,omitempty" json:"keyQuery,omitempty"`           // api-key
	KeyPrefix     string `yaml:"keyPrefix,omitempty" json:"keyPrefix,omitempty"`         // api-key
	HMACAlgorithm string `yaml:"hmacAlgorithm,omitempty" json:"hmacAlgorithm,omitempty"` // hmac-body
	Expires       string `yaml:"expires,omitempty" json:"expires,omitempty"`             // static types, RFC 3339

	Password  *SecretRef `yaml:"password,omitempty" json:"password,omitempty"`   // basic
	APIKey    *SecretRef `yaml:"apiKey,omitempty" json:"apiKey,omitempty"`       // api-key
	Bearer    *SecretRef `yaml:"token,omitempty" json:"token,omitempty"`         // bearer
	APIToken  *SecretRef `yaml:"apiToken,omitempty" json:"apiToken,omitempty"`   // hmac-body
	APISecret *SecretRef `yaml:"apiSecret,omitempty" json:"apiSecret,omitempty"` // hmac-body
}

// Job is a cron job. Its script is a file (relative to the configuration
// file) or inline source; Apply captures it as `cron add` does.
type Job struct {
	Name     string   `yaml:"name" json:"name"`
	Schedule string   `yaml:"schedule" json:"schedule"`
	TimeZone string   `yaml:"timeZone,omitempty" json:"timeZone,omitempty"`
	Script   string   `yaml:"script,omitempty" json:"script,omitempty"`
	Source   string   `yaml:"source,omitempty" json:"source,omitempty"`
	Args     []string `yaml:"args,omitempty" json:"args,omitempty"`
	Timeout  string   `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// MaxMemory is the job's memory cap, e.g. 512MiB (default 2GiB).
	MaxMemory string `yaml:"maxMemory,omitempty" json:"maxMemory,omitempty"`
	Overlap   string `yaml:"overlap,omitempty" json:"overlap,omitempty"`
	History   int    `yaml:"history,omitempty" json:"history,omitempty"`
	Enabled   *bool  `yaml:"enabled,omitempty" json:"enabled,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
