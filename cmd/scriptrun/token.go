package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

func newTokenCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Create, authorize and manage outbound tokens", Args: noArgs}
	c.AddCommand(tokenAddCmd(a, false), tokenAddCmd(a, true), tokenListCmd(a), tokenShowCmd(a), tokenRmCmd(a),
		tokenRefreshCmd(a), tokenAuthorizeCmd(a), tokenRevokeCmd(a))
	return c
}

// tokenFlags are the flags of token add and update. Each type has its own;
// flagTypes says which type a flag belongs to.
type tokenFlags struct {
	provider, prompt, scopes, baseURL, typ, active string
	inactive                                       bool
	username                                       string   // basic
	password                                       credFlag // basic
	header, query, prefix                          string   // api-key
	key                                            credFlag // api-key
	bearer                                         credFlag // bearer
	apiToken, apiSecret                            credFlag // hmac-body
	algorithm                                      string   // hmac-body
	expires                                        string   // every type but oauth2
}

// flagTypes maps each type-specific flag to the token type it applies to
// ("static" = every type without an authorization step).
var flagTypes = map[string]string{
	"provider": store.TypeOAuth2, "prompt": store.TypeOAuth2, "scopes": store.TypeOAuth2,
	"username": store.TypeBasic, "password-stdin": store.TypeBasic, "password-env": store.TypeBasic,
	"header": store.TypeAPIKey, "query": store.TypeAPIKey, "prefix": store.TypeAPIKey, "key-stdin": store.TypeAPIKey, "key-env": store.TypeAPIKey,
	"token-stdin": store.TypeBearer, "token-env": store.TypeBearer,
	"api-token-stdin": store.TypeHMACBody, "api-token-env": store.TypeHMACBody,
	"api-secret-stdin": store.TypeHMACBody, "api-secret-env": store.TypeHMACBody, "algorithm": store.TypeHMACBody,
	"expires": "static",
}

const tokenAddHelp = `Token types and their flags (secrets only from standard input or a named
environment variable, never as plain arguments):

  oauth2     --provider P [--prompt consent] [--scopes "a b"]
             then "Get authorization token" (scriptrun token authorize NAME); a
             provider with grant type client_credentials needs no authorization
  basic      --username U (--password-stdin | --password-env VAR)
  api-key    (--header X-API-Key [--prefix "Token "] | --query api_key)
             (--key-stdin | --key-env VAR)
  bearer     (--token-stdin | --token-env VAR)
  hmac-body  (--api-token-stdin | --api-token-env VAR) (--api-secret-stdin | --api-secret-env VAR)
             [--algorithm sha256|sha512]    requests signed as hmacsig documents

  every type [--base-url URL] (requests to other hosts are refused; a path in it binds too:
             https://gitlab.example.com/api/v4/projects/42/ signs only paths under it)
  all but oauth2 [--expires 2027-01-01T00:00:00Z] (after it: TOKEN_EXPIRED)

Examples:
  scriptrun token add crm --type basic --username svc --password-env CRM_PASSWORD --base-url https://crm.example.com
  scriptrun token add maps --type api-key --query key --key-env MAPS_KEY --base-url https://maps.example.com
  printf %s "$TOKEN" | scriptrun token add gh --type bearer --token-stdin --expires 2027-01-01T00:00:00Z --base-url https://api.github.com
  scriptrun token add hooks --type hmac-body --api-token-env HOOK_TOKEN --api-secret-env HOOK_SECRET --base-url https://hooks.example.com`

func (f *tokenFlags) register(c *cobra.Command, update bool) {
	fl := c.Flags()
	fl.StringVar(&f.provider, "provider", "", "oauth2: the provider's name")
	fl.StringVar(&f.prompt, "prompt", "", "oauth2: OAuth prompt sent when authorizing: consent, select_account, login, none, or empty")
	fl.StringVar(&f.scopes, "scopes", "", `oauth2: scopes, space-separated; override the provider's (empty: use the provider's)`)
	fl.StringVar(&f.baseURL, "base-url", "", "the API this token is for (e.g. https://graph.microsoft.com); requests to other hosts, and to paths outside the URL's path if it has one, are refused")
	fl.StringVar(&f.username, "username", "", "basic: the user name")
	f.password.register(c, "password", "the basic password")
	fl.StringVar(&f.header, "header", "", "api-key: send the key in this header (e.g. X-API-Key)")
	fl.StringVar(&f.query, "query", "", "api-key: send the key in this query parameter (e.g. api_key); a header is safer: URLs end up in logs")
	fl.StringVar(&f.prefix, "prefix", "", `api-key: text before the key in the header (e.g. "Token ")`)
	f.key.register(c, "key", "the API key")
	f.bearer.register(c, "token", "the bearer token")
	f.apiToken.register(c, "api-token", "the HMAC API token")
	f.apiSecret.register(c, "api-secret", "the HMAC API secret")
	fl.StringVar(&f.algorithm, "algorithm", "", "hmac-body: sha256 (default) or sha512")
	fl.StringVar(&f.expires, "expires", "", `all but oauth2: when the credential expires (RFC 3339 or YYYY-MM-DD, UTC); after it scripts get TOKEN_EXPIRED; "never" clears it`)
	if update {
		fl.StringVar(&f.active, "active", "", "true or false: whether scripts may use the token")
	} else {
		fl.StringVar(&f.typ, "type", store.TypeOAuth2, "token type: "+strings.Join(store.Types, ", "))
		fl.BoolVar(&f.inactive, "inactive", false, "create it inactive")
	}
}

// checkTypeFlags refuses flags that belong to another token type.
func (f *tokenFlags) checkTypeFlags(c *cobra.Command, typ string) error {
	var bad []string
	for _, name := range slices.Sorted(maps.Keys(flagTypes)) {
		owner := flagTypes[name]
		if !c.Flags().Changed(name) || owner == typ || (owner == "static" && typ != store.TypeOAuth2) {
			continue
		}
		bad = append(bad, "--"+name)
	}
	if len(bad) > 0 {
		return usageErr("%s do(es) not apply to %s tokens; see `scriptrun token add --help` for the flags of each type", strings.Join(bad, ", "), typ)
	}
	if f.header != "" && f.query != "" {
		return usageErr("give --header or --query for the API key, not both")
	}
	return nil
}

// apply copies the flags that were given, except credentials, onto t.
func (f *tokenFlags) apply(c *cobra.Command, t *store.Token) error {
	set := c.Flags().Changed
	if set("provider") {
		t.Provider = f.provider
	}
	if set("prompt") {
		t.Prompt = f.prompt
	}
	if set("scopes") {
		t.Scopes = strings.Fields(f.scopes)
	}
	if set("base-url") {
		t.BaseURL = strings.TrimSpace(f.baseURL)
	}
	if set("type") {
		t.Type = f.typ
	}
	if set("active") {
		v, err := strconv.ParseBool(f.active)
		if err != nil {
			return usageErr("--active %q: give true or false", f.active)
		}
		t.Active = v
	}
	if set("username") {
		t.Username = f.username
	}
	if set("header") {
		t.KeyHeader, t.KeyQuery = strings.TrimSpace(f.header), ""
	}
	if set("query") {
		t.KeyQuery, t.KeyHeader, t.KeyPrefix = strings.TrimSpace(f.query), "", ""
	}
	if set("prefix") {
		t.KeyPrefix = f.prefix
	}
	if set("algorithm") {
		t.HMACAlgorithm = strings.ToLower(f.algorithm)
	}
	if set("expires") {
		exp, err := parseExpires(f.expires, time.Now())
		if err != nil {
			return err
		}
		t.Expires = exp
	}
	return nil
}

// parseExpires reads --expires (store.ParseExpiry).
func parseExpires(s string, now time.Time) (time.Time, error) {
	t, err := store.ParseExpiry(s, now)
	if err != nil {
		return time.Time{}, usageErr("--expires: %v", err)
	}
	return t, nil
}

// credentials reads the credentials given on the command line into sec
// (leaving the others as they are) and reports whether any was given.
func (f *tokenFlags) credentials(a *app, sec *store.Secret) (bool, error) {
	stdin := false
	given := false
	for _, cf := range []struct {
		flag *credFlag
		dst  *string
	}{{&f.password, &sec.Password}, {&f.key, &sec.APIKey}, {&f.bearer, &sec.AccessToken}, {&f.apiToken, &sec.APIToken}, {&f.apiSecret, &sec.APISecret}} {
		v, err := cf.flag.read(a, &stdin)
		if err != nil {
			return false, err
		}
		if v != "" {
			*cf.dst, given = v, true
		}
	}
	return given, nil
}

func tokenAddCmd(a *app, update bool) *cobra.Command {
	var f tokenFlags
	c := &cobra.Command{
		Use:   "add NAME [--type oauth2|basic|api-key|bearer|hmac-body] [flags of the type] [--base-url URL] [--inactive]",
		Short: "Create an outbound token (an oauth2 one is then authorized with `token authorize NAME`)",
		Long:  "Create an outbound token.\n\n" + tokenAddHelp,
		Args:  exactArgs(1, "the token's NAME"),
	}
	if update {
		c.Use = "update NAME [flags of its type] [--base-url URL] [--active true|false]"
		c.Short = "Change a token's settings or credential (only the flags given)"
		c.Long = "Change a token's settings or credential: only the flags given change. Its type cannot change.\n\n" + tokenAddHelp
	}
	f.register(c, update)
	c.RunE = func(c *cobra.Command, args []string) error {
		name := args[0]
		if err := store.ValidateName("token", name); err != nil {
			return usageErr("%v", err)
		}
		for _, cf := range []*credFlag{&f.password, &f.key, &f.bearer, &f.apiToken, &f.apiSecret} {
			if cf.plain != "" {
				_, err := cf.read(a, new(bool)) // refuses, without the value
				return err
			}
		}
		if update {
			return tokenUpdate(a, c, &f, name)
		}
		typ := f.typ
		if !slices.Contains(store.Types, typ) {
			return usageErr("--type %q is not a token type: use one of %s", typ, strings.Join(store.Types, ", "))
		}
		if err := f.checkTypeFlags(c, typ); err != nil {
			return err
		}
		if typ == store.TypeOAuth2 && !c.Flags().Changed("provider") {
			return usageErr("token add needs --provider NAME (see `scriptrun provider list`), or a --type without a provider; usage: %s", c.UseLine())
		}
		if typ == store.TypeAPIKey && f.header == "" && f.query == "" {
			return usageErr("an api-key token needs --header NAME or --query NAME to say where the key goes (e.g. --header X-API-Key)")
		}
		if typ == store.TypeBasic && f.username == "" {
			return usageErr("a basic token needs --username")
		}
		t := store.Token{Name: name, Type: typ, Active: !f.inactive, State: store.StateUnauthorized}
		if err := f.apply(c, &t); err != nil {
			return err
		}
		if _, err := f.credentials(a, &t.Secret); err != nil {
			return err
		}
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var grant string
		err = db.Update(func(tx *store.Tx) error {
			if err := tx.CreateToken(t); err != nil {
				return err
			}
			if t, err = tx.Token(name); err != nil {
				return err
			}
			if p, err := tx.Provider(t.Provider); err == nil {
				grant = p.GrantType
			}
			return nil
		})
		if err != nil {
			return storeErr(err)
		}
		switch {
		case t.Static() && t.State == store.StateAuthorized:
			fmt.Fprintf(a.stdio.Out, "token %s added (type %s, state %s); scripts use it with apiTokenAuth('%s')\n", name, t.Type, t.State, name)
		case t.Static():
			fmt.Fprintf(a.stdio.Out, "token %s added (type %s, state %s); store its credential with: scriptrun token update %s %s\n", name, t.Type, t.State, name, credentialHint(t.Type))
		case grant == store.GrantClientCredentials:
			fmt.Fprintf(a.stdio.Out, "token %s added (state %s); provider %s uses client_credentials, so the token is fetched on first use (`scriptrun token refresh %s` fetches one now)\n", name, t.State, t.Provider, name)
		default:
			fmt.Fprintf(a.stdio.Out, "token %s added (state %s); authorize it with: scriptrun token authorize %s\n", name, t.State, name)
		}
		if t.BaseURL == "" {
			fmt.Fprintf(a.stdio.Err, "warning: token %s has no base URL, so scripts may send it to any host; bind it with `scriptrun token update %s --base-url https://api.example.com`\n", name, name)
		}
		return nil
	}
	return c
}

// tokenUpdate changes the flags given on an existing token, whose type
// decides which flags apply.
func tokenUpdate(a *app, c *cobra.Command, f *tokenFlags, name string) error {
	db, _, err := a.open()
	if err != nil {
		return err
	}
	var cur store.Token
	if err := db.View(func(tx *store.Tx) (err error) { cur, err = tx.Token(name); return err }); err != nil {
		return storeErr(err)
	}
	if err := f.checkTypeFlags(c, cur.Type); err != nil {
		return err
	}
	var sec store.Secret
	given, err := f.credentials(a, &sec)
	if err != nil {
		return err
	}
	var t store.Token
	err = db.Update(func(tx *store.Tx) error {
		// Read again inside the write: a refresh stored meanwhile is kept.
		cur, err := tx.Token(name)
		if err != nil {
			return err
		}
		if err := f.apply(c, &cur); err != nil {
			return err
		}
		for _, p := range []struct{ src, dst *string }{
			{&sec.Password, &cur.Secret.Password}, {&sec.APIKey, &cur.Secret.APIKey}, {&sec.AccessToken, &cur.Secret.AccessToken},
			{&sec.APIToken, &cur.Secret.APIToken}, {&sec.APISecret, &cur.Secret.APISecret},
		} {
			if *p.src != "" {
				*p.dst = *p.src
			}
		}
		if err := tx.PutToken(cur); err != nil {
			return err
		}
		t, err = tx.Token(name)
		return err
	})
	if err != nil {
		return storeErr(err)
	}
	msg := fmt.Sprintf("token %s updated", name)
	if given {
		msg += " (credential replaced)"
	}
	if t.Static() {
		msg += fmt.Sprintf("; state %s", t.State)
	}
	fmt.Fprintln(a.stdio.Out, msg)
	if t.BaseURL == "" {
		fmt.Fprintf(a.stdio.Err, "warning: token %s has no base URL, so scripts may send it to any host; bind it with `scriptrun token update %s --base-url https://api.example.com`\n", name, name)
	}
	return nil
}

// credentialHint names the flags that store a type's credential.
func credentialHint(typ string) string { return tokens.CredentialFlags(typ) }

// tokenView is what list and show print: state and timestamps, never secrets.
type tokenView struct {
	Name            string `json:"name"`
	Type            string `json:"type"`
	Provider        string `json:"provider"`
	Prompt          string `json:"prompt"`
	Active          bool   `json:"active"`
	State           string `json:"state"`
	Expires         string `json:"expires,omitempty"`
	Scopes          string `json:"scopes"`
	LastMessage     string `json:"lastMessage"`
	BaseURL         string `json:"baseUrl"`
	BoundTo         string `json:"boundTo,omitempty"` // where the base URL lets the token go, in words
	HasRefreshToken bool   `json:"hasRefreshToken"`
	RefreshFailures int    `json:"refreshFailures"`
	RefreshFailed   string `json:"refreshFailed,omitempty"`
	Created         string `json:"created"`
	Updated         string `json:"updated"`
	LastRefreshed   string `json:"lastRefreshed,omitempty"`
	LastUsed        string `json:"lastUsed,omitempty"`

	// The settings of the other types, and their credentials masked
	// (store.Mask: at most the last four characters).
	Username      string `json:"username,omitempty"`
	KeyHeader     string `json:"keyHeader,omitempty"`
	KeyQuery      string `json:"keyQuery,omitempty"`
	KeyPrefix     string `json:"keyPrefix,omitempty"`
	HMACAlgorithm string `json:"hmacAlgorithm,omitempty"`
	Password      string `json:"password,omitempty"`
	APIKey        string `json:"apiKey,omitempty"`
	BearerToken   string `json:"token,omitempty"`
	APIToken      string `json:"apiToken,omitempty"`
	APISecret     string `json:"apiSecret,omitempty"`
}

func viewToken(t store.Token) tokenView {
	v := tokenView{
		Name: t.Name, Type: t.Type, Provider: t.Provider, Prompt: t.Prompt, Active: t.Active, State: string(t.State),
		Expires: stamp(t.Expires), Scopes: strings.Join(t.Scopes, " "), LastMessage: t.LastMessage, BaseURL: t.BaseURL, BoundTo: tokens.DescribeBinding(t.BaseURL),
		HasRefreshToken: t.Secret.RefreshToken != "", RefreshFailures: t.RefreshFailures, RefreshFailed: stamp(t.RefreshFailed),
		Created: stamp(t.Created), Updated: stamp(t.Updated), LastRefreshed: stamp(t.LastRefreshed), LastUsed: stamp(t.LastUsed),
		Username: t.Username, KeyHeader: t.KeyHeader, KeyQuery: t.KeyQuery, KeyPrefix: t.KeyPrefix, HMACAlgorithm: t.HMACAlgorithm,
		Password: store.Mask(t.Secret.Password), APIKey: store.Mask(t.Secret.APIKey),
		APIToken: store.Mask(t.Secret.APIToken), APISecret: store.Mask(t.Secret.APISecret),
	}
	if t.Type == store.TypeBearer {
		v.BearerToken = store.Mask(t.Secret.AccessToken)
	}
	return v
}

func tokenListCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "list", Short: "List tokens with their state", Args: noArgs}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var ts []store.Token
		var damaged []*store.RecordError
		if err := db.View(func(tx *store.Tx) (err error) {
			ts, err = tx.Tokens()
			damaged, err = a.listDamaged(err)
			return err
		}); err != nil {
			return storeErr(err)
		}
		views := make([]tokenView, 0, len(ts)+len(damaged))
		name := func(i int) string { return ts[i].Name }
		mergeByName(len(ts), name, damaged, func(i int) { views = append(views, viewToken(ts[i])) }, func(d *store.RecordError) {
			views = append(views, tokenView{Name: d.Name, State: stateDamaged, LastMessage: d.Error()})
		})
		if asJSON {
			return printJSON(a.stdio.Out, views)
		}
		now := time.Now()
		tb := newTable(a.stdio.Out, "NAME", "TYPE", "PROVIDER", "ACTIVE", "STATE", "EXPIRES", "BASE URL", "LAST MESSAGE")
		mergeByName(len(ts), name, damaged, func(i int) {
			t := ts[i]
			tb.row(t.Name, t.Type, t.Provider, fmt.Sprint(t.Active), string(t.State), relative(t.Expires, now), t.BaseURL, oneLine(t.LastMessage, 60))
		}, func(d *store.RecordError) {
			tb.row(d.Name, "", "", "", stateDamaged, "", "", "refused until restored or re-created (see the warning)")
		})
		return tb.flush()
	}
	return c
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		for max > 0 && !utf8.RuneStart(s[max]) {
			max-- // cut between runes
		}
		return s[:max] + "…"
	}
	return s
}

func tokenShowCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "show NAME", Short: "Show a token's settings and state (its credential masked)", Args: exactArgs(1, "the token's NAME")}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var t store.Token
		var p store.Provider
		var perr error
		if err := db.View(func(tx *store.Tx) error {
			if t, err = tx.Token(args[0]); err != nil {
				return err
			}
			if t.Type == store.TypeOAuth2 {
				p, perr = tx.Provider(t.Provider)
			}
			return nil
		}); err != nil {
			return storeErr(err)
		}
		v := viewToken(t)
		if asJSON {
			return printJSON(a.stdio.Out, v)
		}
		now := time.Now()
		expires := ""
		if !t.Expires.IsZero() {
			expires = fmt.Sprintf("%s (%s)", v.Expires, relative(t.Expires, now))
		}
		fields := [][2]string{{"name", v.Name}, {"type", v.Type + " (" + tokens.DescribeType(v.Type) + ")"}}
		if t.Type == store.TypeOAuth2 {
			scopes := v.Scopes
			if scopes == "" && perr == nil {
				scopes = strings.Join(p.Scopes, " ") + " (the provider's)"
			}
			grant := ""
			if perr == nil {
				grant = p.GrantType
			}
			fields = append(fields, [2]string{"provider", v.Provider}, [2]string{"grantType", grant}, [2]string{"prompt", v.Prompt})
			fields = append(fields, [2]string{"active", fmt.Sprint(v.Active)}, [2]string{"state", v.State}, [2]string{"expires", expires},
				[2]string{"scopes", scopes}, [2]string{"baseUrl", v.BaseURL}, [2]string{"boundTo", v.BoundTo}, [2]string{"lastMessage", v.LastMessage},
				[2]string{"refreshToken", yesNo(v.HasRefreshToken)}, [2]string{"refreshFailures", fmt.Sprint(v.RefreshFailures)},
				[2]string{"refreshFailed", v.RefreshFailed}, [2]string{"lastRefreshed", v.LastRefreshed})
		} else {
			fields = append(fields, [2]string{"active", fmt.Sprint(v.Active)}, [2]string{"state", v.State}, [2]string{"expires", expires},
				[2]string{"baseUrl", v.BaseURL}, [2]string{"boundTo", v.BoundTo})
			fields = append(fields, credentialFields(t, v)...)
		}
		fields = append(fields, [2]string{"created", v.Created}, [2]string{"updated", v.Updated}, [2]string{"lastUsed", v.LastUsed})
		if err := printFields(a.stdio.Out, fields); err != nil {
			return err
		}
		if t.BaseURL == "" {
			fmt.Fprintf(a.stdio.Out, "warning: no base URL: scripts may send this token to any host; bind it with `scriptrun token update %s --base-url URL`\n", t.Name)
		}
		if t.Type == store.TypeOAuth2 && perr != nil {
			fmt.Fprintf(a.stdio.Out, "warning: provider %s does not exist; the token cannot be refreshed or authorized\n", t.Provider)
		}
		if t.Static() && t.State != store.StateAuthorized {
			fmt.Fprintf(a.stdio.Out, "note: no credential stored; scripts get TOKEN_UNAUTHORIZED until one is: scriptrun token update %s %s\n", t.Name, credentialHint(t.Type))
		}
		return nil
	}
	return c
}

// credentialFields are the lines `token show` prints for the settings and
// the masked credential of a token of a static type.
func credentialFields(t store.Token, v tokenView) [][2]string {
	none := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return s
	}
	switch t.Type {
	case store.TypeBasic:
		return [][2]string{{"username", v.Username}, {"password", none(v.Password)}}
	case store.TypeAPIKey:
		where := "query parameter " + v.KeyQuery
		if v.KeyHeader != "" {
			where = "header " + v.KeyHeader
			if v.KeyPrefix != "" {
				where += fmt.Sprintf(" (after %q)", v.KeyPrefix)
			}
		}
		return [][2]string{{"keyIn", where}, {"apiKey", none(v.APIKey)}}
	case store.TypeBearer:
		return [][2]string{{"token", none(v.BearerToken)}}
	case store.TypeHMACBody:
		return [][2]string{{"algorithm", v.HMACAlgorithm}, {"apiToken", none(v.APIToken)}, {"apiSecret", none(v.APISecret)}}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes (stored encrypted)"
	}
	return "no"
}

func tokenRmCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "rm NAME", Short: "Remove a token and its secrets", Args: exactArgs(1, "the token's NAME")}
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		if err := db.Update(func(tx *store.Tx) error { return tx.DeleteToken(args[0]) }); err != nil {
			return storeErr(err)
		}
		fmt.Fprintf(a.stdio.Out, "token %s removed\n", args[0])
		return nil
	}
	return c
}

func tokenRefreshCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "refresh NAME", Short: "Refresh a token now", Args: exactArgs(1, "the token's NAME")}
	c.RunE = func(c *cobra.Command, args []string) error {
		_, m, err := a.open()
		if err != nil {
			return err
		}
		t, err := m.Refresh(context.Background(), args[0])
		if err != nil {
			return tokenErr(err)
		}
		fmt.Fprintf(a.stdio.Out, "token %s refreshed; state %s", t.Name, t.State)
		if !t.Expires.IsZero() {
			fmt.Fprintf(a.stdio.Out, ", expires %s (%s)", stamp(t.Expires), relative(t.Expires, time.Now()))
		}
		fmt.Fprintln(a.stdio.Out)
		return nil
	}
	return c
}

// tokenErr gives token failures their exit code: a missing or unusable token
// is the caller's to fix (2); a provider's refusal or a damaged record is a
// failed operation (1).
func tokenErr(err error) error {
	if errors.Is(err, store.ErrDamaged) {
		return failErr(err)
	}
	switch tokens.CodeOf(err) {
	case tokens.CodeNotFound, tokens.CodeInactive, tokens.CodeUnauthorized, tokens.CodeProviderNotFound, tokens.CodeUnsupportedGrant, tokens.CodeStore:
		return configErr("%v", err)
	}
	return failErr(err)
}
