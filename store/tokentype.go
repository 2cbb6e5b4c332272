package store

import (
	"slices"
	"strings"
)

// Token types. Every type signs through the same apiTokenAuth('name').
const (
	TypeOAuth2   = "oauth2"    // an access token from a provider, refreshed or re-fetched
	TypeHMACBody = "hmac-body" // API token + API secret: each request is HMAC-signed (package hmacsig)
	TypeBasic    = "basic"     // user name + password, sent as HTTP Basic
	TypeAPIKey   = "api-key"   // a key sent in a named header or query parameter
	TypeBearer   = "bearer"    // a static bearer token, optionally with an expiry
)

// HMAC algorithms of hmac-body tokens (hmacsig's names).
const (
	HMACSHA256 = "sha256" // the default
	HMACSHA512 = "sha512"
)

// TypeSpec is what scriptrun knows of one token type, save how it signs
// (package tokens, one function per type). The command line, the console,
// `token show`, export and apply, and validation all read it: adding a type
// is adding an entry to TokenTypes and its signing function.
type TypeSpec struct {
	Type        string // the type's name, e.g. "basic"
	Label       string // short, for the console: "Basic"
	Description string // how it signs, in words, for `token show`
	Help        string // a sentence for the console's form; `code` in backquotes
	ScriptNote  string // optional, on the console's token page after the script example; `code` in backquotes
	// Synopsis is the type's flags in `token add --help`; a second line, if
	// any, is indented under the first.
	Synopsis    string
	Example     string                    // a `token add` command line, for its help ("" for none)
	Settings    []Setting                 // fields that are not secret
	Credentials []Credential              // the secret parts, sealed in the token's Secret
	validate    func(Token, *FieldErrors) // records the problems of the type's own fields
}

// Setting is a field of a token type that is not secret.
type Setting struct {
	Key     string // key in `export`/`apply` and `token show --json`, e.g. "username"
	Name    string // in messages: "user name"
	Flag    string // the `token add/update` flag, e.g. "username"
	Usage   string // the flag's help
	Show    string // the `token show` line's label ("" when another line says it)
	Form    string // the console's field ("" when the type's own form part has it)
	Label   string // the console's label
	MaxLen  int    // the console field's maxlength (0: none)
	Example string // a valid value: the console field's placeholder, and what tests store
	Choices []Choice
	Default string // stored when empty
	// Required settings must be given on `token add`.
	Required bool
	// Clears lists settings (by Key) that setting this one from the command
	// line empties: they are alternatives.
	Clears []string
	// Clean is applied to the command-line value (nil: kept as given).
	Clean func(string) string
	Field func(*Token) *string
}

// Choice is one allowed value of a setting.
type Choice struct{ Value, Label string }

// Credential is one secret part of a token type's credential. It enters only
// through standard input, a named environment variable, a write-only console
// field or a secret reference in `apply`.
type Credential struct {
	Key   string // key in `export`/`apply` and `token show`, e.g. "apiKey"
	Name  string // in messages: "API key"
	Flag  string // the stem of --FLAG-stdin and --FLAG-env ("" for oauth2's, which come from the provider)
	What  string // the flag's help: "the API key"
	Form  string // the console's field, e.g. "api_key"
	Label string // the console's label and the token page's
	Help  string // the console field's first sentence ("" for none); `code` in backquotes
	// Optional parts need not be set for the credential to be complete.
	Optional bool
	Field    func(*Secret) *string
}

// Entered reports whether an admin stores this part (as opposed to a
// provider issuing it).
func (c Credential) Entered() bool { return c.Flag != "" }

// Entered returns the credential parts of the type that an admin stores.
func (s TypeSpec) Entered() []Credential {
	var out []Credential
	for _, c := range s.Credentials {
		if c.Entered() {
			out = append(out, c)
		}
	}
	return out
}

// EnteredCredentials returns the credential parts an admin stores, of
// every type, in the order of TokenTypes.
func EnteredCredentials() []Credential {
	var out []Credential
	for _, s := range TokenTypes {
		out = append(out, s.Entered()...)
	}
	return out
}

// TokenTypes is the table of token types, in the order forms offer them.
var TokenTypes = []TypeSpec{
	{
		Type: TypeOAuth2, Label: "OAuth2",
		Description: "OAuth2 access token from a provider",
		Help:        "An access token from a provider: signed in once with \u201cGet authorization token\u201d, or fetched with the provider's client credentials, and refreshed by scriptrun.",
		Synopsis:    "--provider P [--prompt consent] [--scopes \"a b\"]\nthen \"Get authorization token\" (scriptrun token authorize NAME); a\nprovider with grant type client_credentials needs no authorization",
		Credentials: []Credential{
			{Key: "refreshToken", Name: "refresh token", Optional: true, Field: func(s *Secret) *string { return &s.RefreshToken }},
			{Key: "accessToken", Name: "access token", Field: func(s *Secret) *string { return &s.AccessToken }},
		},
		validate: validateOAuth2,
	},
	{
		Type: TypeBasic, Label: "Basic",
		Description: "HTTP Basic: user name and password",
		Help:        "A user name and password, sent as HTTP Basic authentication.",
		Synopsis:    "--username U (--password-stdin | --password-env VAR)",
		Example:     `scriptrun token add crm --type basic --username svc --password-env CRM_PASSWORD --base-url https://crm.example.com`,
		Settings: []Setting{{Key: "username", Name: "user name", Flag: "username", Usage: "basic: the user name",
			Show: "username", Form: "username", Label: "User name", MaxLen: maxNameLen, Example: "svc-user", Required: true,
			Field: func(t *Token) *string { return &t.Username }}},
		Credentials: []Credential{{Key: "password", Name: "password", Flag: "password", What: "the basic password",
			Form: "password", Label: "Password", Field: func(s *Secret) *string { return &s.Password }}},
		validate: validateBasic,
	},
	{
		Type: TypeAPIKey, Label: "API key",
		Description: "API key in a header or query parameter",
		Help:        "A key sent in a header (or a query parameter) of every request.",
		Synopsis:    "(--header X-API-Key [--prefix \"Token \"] | --query api_key)\n(--key-stdin | --key-env VAR)",
		Example:     `scriptrun token add maps --type api-key --query key --key-env MAPS_KEY --base-url https://maps.example.com`,
		// The console's form and `token show` say where the key goes in one
		// line ("key in"), so these have no Show or Form of their own.
		Settings: []Setting{
			{Key: "keyHeader", Name: "key header", Flag: "header", Usage: "api-key: send the key in this header (e.g. X-API-Key)", Example: "X-API-Key",
				Clears: []string{"keyQuery"}, Clean: strings.TrimSpace, Field: func(t *Token) *string { return &t.KeyHeader }},
			{Key: "keyQuery", Name: "key query parameter", Flag: "query", Usage: "api-key: send the key in this query parameter (e.g. api_key); a header is safer: URLs end up in logs", Example: "api_key",
				Clears: []string{"keyHeader", "keyPrefix"}, Clean: strings.TrimSpace, Field: func(t *Token) *string { return &t.KeyQuery }},
			{Key: "keyPrefix", Name: "key prefix", Flag: "prefix", Usage: `api-key: text before the key in the header (e.g. "Token ")`, Example: "Token ",
				Field: func(t *Token) *string { return &t.KeyPrefix }},
		},
		Credentials: []Credential{{Key: "apiKey", Name: "API key", Flag: "key", What: "the API key",
			Form: "api_key", Label: "API key", Field: func(s *Secret) *string { return &s.APIKey }}},
		validate: validateAPIKey,
	},
	{
		Type: TypeBearer, Label: "Bearer",
		Description: "static bearer token",
		Help:        "A fixed token sent as Authorization: Bearer, optionally until an expiry.",
		Synopsis:    "(--token-stdin | --token-env VAR)",
		Example:     `printf %s "$TOKEN" | scriptrun token add gh --type bearer --token-stdin --expires 2027-01-01T00:00:00Z --base-url https://api.github.com`,
		Credentials: []Credential{{Key: "token", Name: "access token", Flag: "token", What: "the bearer token",
			Form: "bearer_token", Label: "Token", Help: "Sent as `Authorization: Bearer …`.",
			Field: func(s *Secret) *string { return &s.AccessToken }}},
		validate: validateBearer,
	},
	{
		Type: TypeHMACBody, Label: "HMAC body",
		Description: "HMAC-signed requests: API token and API secret",
		Help:        "An API token and an API secret (Servicely's HMAC Body): every request is signed with HMAC over its method, path, time, nonce and body; the secret itself is never sent.",
		ScriptNote:  "Receiving servers verify the signature as `hmacsig` documents.",
		Synopsis:    "(--api-token-stdin | --api-token-env VAR) (--api-secret-stdin | --api-secret-env VAR)\n[--algorithm sha256|sha512]    requests signed as hmacsig documents",
		Example:     `scriptrun token add hooks --type hmac-body --api-token-env HOOK_TOKEN --api-secret-env HOOK_SECRET --base-url https://hooks.example.com`,
		Settings: []Setting{{Key: "hmacAlgorithm", Name: "HMAC algorithm", Flag: "algorithm", Usage: "hmac-body: sha256 (default) or sha512",
			Show: "algorithm", Form: "algorithm", Label: "Algorithm",
			Choices: []Choice{{HMACSHA256, "HMAC-SHA256"}, {HMACSHA512, "HMAC-SHA512"}}, Default: HMACSHA256,
			Clean: strings.ToLower, Field: func(t *Token) *string { return &t.HMACAlgorithm }}},
		Credentials: []Credential{
			{Key: "apiToken", Name: "API token", Flag: "api-token", What: "the HMAC API token", Form: "api_token", Label: "API token",
				Help:  "Names the key to the receiving server; sent with every request. Letters, digits and `. _ ~ + / = -`.",
				Field: func(s *Secret) *string { return &s.APIToken }},
			{Key: "apiSecret", Name: "API secret", Flag: "api-secret", What: "the HMAC API secret", Form: "api_secret", Label: "API secret",
				Help:  "The HMAC key: it signs every request and is never sent.",
				Field: func(s *Secret) *string { return &s.APISecret }},
		},
		validate: validateHMACBody,
	},
}

// Types lists the token types, in the order forms offer them: the Type of
// each TokenTypes entry (a test holds them equal). Written out, not
// computed, so that it costs no init work.
var Types = []string{TypeOAuth2, TypeBasic, TypeAPIKey, TypeBearer, TypeHMACBody}

// TypeOf returns the table entry of a token type.
func TypeOf(typ string) (TypeSpec, bool) {
	for _, s := range TokenTypes {
		if s.Type == typ {
			return s, true
		}
	}
	return TypeSpec{}, false
}

// Spec returns the table entry of t's type (the zero TypeSpec for an
// unknown type, which Validate refuses).
func (t Token) Spec() TypeSpec {
	s, _ := TypeOf(t.Type)
	return s
}

// Setting returns the type's setting with the given key.
func (s TypeSpec) Setting(key string) (Setting, bool) {
	for _, st := range s.Settings {
		if st.Key == key {
			return st, true
		}
	}
	return Setting{}, false
}

// Complete reports whether t holds everything its type needs to sign a
// request: for oauth2 an access token, for the others every part an admin
// stores.
func (t Token) Complete() bool {
	spec, ok := TypeOf(t.Type)
	if !ok {
		return t.Secret.AccessToken != ""
	}
	s := t.Secret
	for _, c := range spec.Credentials {
		if !c.Optional && *c.Field(&s) == "" {
			return false
		}
	}
	return true
}

// checkForeignFields refuses settings that belong to another token type, so
// a typo in a command line or form does not pass silently.
func (t Token) checkForeignFields(es *FieldErrors) {
	type field struct {
		key, name string
		set       bool
	}
	own := map[string]bool{}
	owners := map[string][]string{}
	var fields []field
	add := func(typ, key, name string, set bool) {
		if typ == t.Type {
			own[name] = true
		}
		if len(owners[name]) == 0 {
			fields = append(fields, field{key, name, set})
		}
		owners[name] = append(owners[name], typ)
	}
	// oauth2's own settings are not in its table entry: the command line
	// and the console treat them apart (a provider to pick, scopes as a list).
	add(TypeOAuth2, "provider", "provider", t.Provider != "")
	add(TypeOAuth2, "prompt", "prompt", t.Prompt != "")
	add(TypeOAuth2, "scopes", "scopes", len(t.Scopes) > 0)
	tt, s := t, t.Secret
	for _, spec := range TokenTypes {
		for _, st := range spec.Settings {
			add(spec.Type, st.Key, st.Name, *st.Field(&tt) != "")
		}
		for _, c := range spec.Credentials {
			add(spec.Type, c.Key, c.Name, *c.Field(&s) != "")
		}
	}
	for _, f := range fields {
		if !f.set || own[f.name] {
			continue
		}
		if len(owners[f.name]) > 1 {
			es.add(f.key, f.name, "a %s token has no %s", t.Type, f.name)
		} else {
			es.add(f.key, f.name, "a %s token has no %s (that belongs to %s tokens)", t.Type, f.name, owners[f.name][0])
		}
	}
}

// normalizeSettings stores each empty setting that has a default as its
// default.
func (t *Token) normalizeSettings() {
	for _, st := range t.Spec().Settings {
		if p := st.Field(t); *p == "" && st.Default != "" {
			*p = st.Default
		}
	}
}

func validateOAuth2(t Token, es *FieldErrors) {
	if t.Provider == "" {
		es.add("provider", "provider", "required: name the provider that issues the token (see `scriptrun provider list`)")
	} else if msg := nameProblem(t.Provider); msg != "" {
		es.add("provider", "provider", "%s", msg)
	}
	if !slices.Contains(Prompts, t.Prompt) {
		es.add("prompt", "prompt", "%q is not a valid prompt: use one of consent, select_account, login, none, or leave it empty", t.Prompt)
	}
	es.scopes(t.Scopes)
}

func validateBasic(t Token, es *FieldErrors) {
	switch {
	case t.Username == "":
		es.add("username", "user name", "required: a basic token needs a user name")
	case len(t.Username) > maxNameLen || strings.ContainsRune(t.Username, ':') || hasControl(t.Username):
		es.add("username", "user name", "must have at most %d characters, no ':' and no control characters (RFC 7617)", maxNameLen)
	}
	if len(t.Secret.Password) > maxSecretLen || hasControl(t.Secret.Password) {
		es.add("password", "password", "must have at most %d bytes and no control characters (line breaks, tabs)", maxSecretLen)
	}
}

func validateAPIKey(t Token, es *FieldErrors) {
	switch {
	case t.KeyHeader == "" && t.KeyQuery == "":
		es.add("keyHeader", "key header", "an api-key token needs a header or a query parameter to carry the key (e.g. header X-API-Key)")
	case t.KeyHeader != "" && t.KeyQuery != "":
		es.add("keyQuery", "key query parameter", "give a header or a query parameter for the key, not both")
	case t.KeyHeader != "":
		if msg := headerNameProblem(t.KeyHeader); msg != "" {
			es.add("keyHeader", "key header", "%s", msg)
		}
	default:
		if len(t.KeyQuery) > maxNameLen || strings.ContainsAny(t.KeyQuery, " #&=") || hasControl(t.KeyQuery) {
			es.add("keyQuery", "key query parameter", "query parameter name %q is not valid: at most %d characters, no spaces, '#', '&' or '='", t.KeyQuery, maxNameLen)
		}
	}
	if t.KeyPrefix != "" && (t.KeyHeader == "" || len(t.KeyPrefix) > 64 || hasControl(t.KeyPrefix)) {
		es.add("keyPrefix", "key prefix", "a key prefix (such as \"Token \") goes with a header, has at most 64 characters and no control characters")
	}
	if len(t.Secret.APIKey) > maxSecretLen || hasControl(t.Secret.APIKey) {
		es.add("apiKey", "API key", "must have at most %d bytes and no control characters (line breaks, tabs)", maxSecretLen)
	}
}

func validateBearer(t Token, es *FieldErrors) {
	if s := t.Secret.AccessToken; len(s) > maxSecretLen || strings.ContainsAny(s, " ") || hasControl(s) {
		es.add("token", "access token", "must have at most %d bytes, no spaces and no control characters", maxSecretLen)
	}
}

func validateHMACBody(t Token, es *FieldErrors) {
	s := t.Secret
	if t.HMACAlgorithm != HMACSHA256 && t.HMACAlgorithm != HMACSHA512 {
		es.add("hmacAlgorithm", "HMAC algorithm", "algorithm %q is not supported: use %s or %s", t.HMACAlgorithm, HMACSHA256, HMACSHA512)
	}
	if s.APIToken != "" && !validAPIToken(s.APIToken) {
		es.add("apiToken", "API token", "the API token must have 1 to 256 characters from A-Z a-z 0-9 . _ ~ + / = -")
	}
	if len(s.APISecret) > maxSecretLen {
		es.add("apiSecret", "API secret", "must have at most %d bytes", maxSecretLen)
	}
}
