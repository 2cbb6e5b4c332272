package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

func newTokenCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Create, authorize and manage outbound tokens", Args: noArgs}
	c.AddCommand(tokenAddCmd(a, false), tokenAddCmd(a, true), tokenListCmd(a), tokenShowCmd(a), tokenRmCmd(a),
		tokenRefreshCmd(a), tokenAuthorizeCmd(a), tokenRevokeCmd(a), tokenLinkCmd(a), tokenTestCmd(a))
	return c
}

// tokenFlags are the flags of token add and update. Each type has its own:
// oauth2's here, the others' from store.TokenTypes.
type tokenFlags struct {
	provider, prompt, scopes, baseURL, typ, active string
	inactive                                       bool
	expires                                        string             // every type but oauth2
	settings                                       map[string]*string // by flag, every type's settings
	creds                                          []tokenCred        // every type's credentials
}

// tokenCred is a credential part of a type and the flags that carry it.
type tokenCred struct {
	store.Credential
	flag credFlag
}

// oauth2Flags are the flags of oauth2 tokens, which its table entry does
// not list: a provider to name, scopes as a list.
var oauth2Flags = []string{"provider", "prompt", "scopes"}

// flagTypes maps each type-specific flag to the token type it applies to
// ("static" = every type without an authorization step).
var flagTypes = lazy.Value[map[string]string]{New: func() map[string]string {
	m := map[string]string{"expires": "static"}
	for _, name := range oauth2Flags {
		m[name] = store.TypeOAuth2
	}
	for _, spec := range store.TokenTypes {
		for _, st := range spec.Settings {
			m[st.Flag] = spec.Type
		}
		for _, c := range spec.Entered() {
			m[c.Flag+"-stdin"], m[c.Flag+"-env"] = spec.Type, spec.Type
		}
	}
	return m
}}

// tokenAddHelp is the help of token add and update: the flags of each type
// (store.TypeSpec.Synopsis), then examples.
var tokenAddHelp = lazy.Value[string]{New: func() string {
	var b strings.Builder
	b.WriteString("Token types and their flags (secrets only from standard input or a named\nenvironment variable, never as plain arguments):\n\n")
	for _, spec := range store.TokenTypes {
		fmt.Fprintf(&b, "  %-11s%s\n", spec.Type, strings.ReplaceAll(spec.Synopsis, "\n", "\n             "))
	}
	b.WriteString(`
  every type [--base-url URL] (requests to other hosts are refused; a path in it binds too:
             https://gitlab.example.com/api/v4/projects/42/ signs only paths under it)
  all but oauth2 [--expires 2027-01-01T00:00:00Z] (after it: TOKEN_EXPIRED)

Examples:`)
	for _, spec := range store.TokenTypes {
		if spec.Example != "" {
			b.WriteString("\n  " + spec.Example)
		}
	}
	return b.String()
}}

func (f *tokenFlags) register(c *cobra.Command, update bool) {
	fl := c.Flags()
	fl.StringVar(&f.provider, "provider", "", "oauth2: the provider's name")
	fl.StringVar(&f.prompt, "prompt", "", "oauth2: OAuth prompt sent when authorizing: consent, select_account, login, none, or empty")
	fl.StringVar(&f.scopes, "scopes", "", `oauth2: scopes, space-separated; override the provider's (empty: use the provider's)`)
	fl.StringVar(&f.baseURL, "base-url", "", "the API this token is for (e.g. https://graph.microsoft.com); requests to other hosts, and to paths outside the URL's path if it has one, are refused")
	f.settings = map[string]*string{}
	for _, spec := range store.TokenTypes {
		for _, st := range spec.Settings {
			f.settings[st.Flag] = fl.String(st.Flag, "", st.Usage)
		}
	}
	creds := store.EnteredCredentials()
	f.creds = make([]tokenCred, len(creds))
	for i, cr := range creds {
		f.creds[i].Credential = cr
		f.creds[i].flag.register(c, cr.Flag, cr.What)
	}
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
	for _, name := range slices.Sorted(maps.Keys(flagTypes.Get())) {
		owner := flagTypes.Get()[name]
		if !c.Flags().Changed(name) || owner == typ || (owner == "static" && typ != store.TypeOAuth2) {
			continue
		}
		bad = append(bad, "--"+name)
	}
	if len(bad) > 0 {
		return usageErr("%s do(es) not apply to %s tokens; see `scriptrun token add --help` for the flags of each type", strings.Join(bad, ", "), typ)
	}
	if *f.settings["header"] != "" && *f.settings["query"] != "" {
		return usageErr("give --header or --query for the API key, not both")
	}
	return nil
}

// tokenFlag names the flag that sets a field of a token
// (store.FieldError.Field), "" for none (the NAME argument, the state).
func tokenFlag(field string) string {
	switch field {
	case "type", "provider", "prompt", "scopes":
		return "--" + field
	case "baseUrl":
		return "--base-url"
	}
	for _, spec := range store.TokenTypes {
		if st, ok := spec.Setting(field); ok {
			return "--" + st.Flag
		}
		for _, cr := range spec.Entered() {
			if cr.Key == field {
				return fmt.Sprintf("--%s-stdin/--%s-env", cr.Flag, cr.Flag)
			}
		}
	}
	return ""
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
	for _, spec := range store.TokenTypes {
		for _, st := range spec.Settings {
			if !set(st.Flag) {
				continue
			}
			v := *f.settings[st.Flag]
			if st.Clean != nil {
				v = st.Clean(v)
			}
			*st.Field(t) = v
			for _, key := range st.Clears {
				other, _ := spec.Setting(key)
				*other.Field(t) = ""
			}
		}
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
	for i := range f.creds {
		cr := &f.creds[i]
		v, err := cr.flag.read(a, &stdin)
		if err != nil {
			return false, err
		}
		if v != "" {
			*cr.Field(sec), given = v, true
		}
	}
	return given, nil
}

func tokenAddCmd(a *app, update bool) *cobra.Command {
	var f tokenFlags
	c := &cobra.Command{
		Use:   "add NAME [--type " + strings.Join(store.Types, "|") + "] [flags of the type] [--base-url URL] [--inactive]",
		Short: "Create an outbound token (an oauth2 one is then authorized with `token authorize NAME`)",
		Long:  "Create an outbound token.\n\n" + tokenAddHelp.Get(),
		Args:  exactArgs(1, "the token's NAME"),
	}
	if update {
		c.Use = "update NAME [flags of its type] [--base-url URL] [--active true|false]"
		c.Short = "Change a token's settings or credential (only the flags given)"
		c.Long = "Change a token's settings or credential: only the flags given change. Its type cannot change.\n\n" + tokenAddHelp.Get()
	}
	f.register(c, update)
	c.RunE = func(c *cobra.Command, args []string) error {
		name := args[0]
		for _, cr := range f.creds {
			if cr.flag.plain != "" {
				_, err := cr.flag.read(a, new(bool)) // refuses, without the value
				return err
			}
		}
		if update {
			return tokenUpdate(a, c, &f, name)
		}
		typ := f.typ
		// An unknown type has no flags to check: validation names it.
		if _, known := store.TypeOf(typ); known {
			if err := f.checkTypeFlags(c, typ); err != nil {
				return err
			}
		}
		t := store.Token{Name: name, Type: typ, Active: !f.inactive, State: store.StateUnauthorized}
		if err := f.apply(c, &t); err != nil {
			return err
		}
		// Every problem of the settings at once, before a secret is read.
		if err := t.Validate(); err != nil {
			return fieldsErr(err, tokenFlag)
		}
		if _, err := f.credentials(a, &t.Secret); err != nil {
			return err
		}
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var grant string
		var added store.Token
		err = db.Update(func(tx *store.Tx) error {
			// On etcd this may run again: it creates from t, never from
			// what an earlier attempt read back.
			if err := tx.CreateToken(t); err != nil {
				return err
			}
			got, p, err := tx.TokenWithProvider(name)
			if store.IsProviderDamaged(err) {
				err = nil // token show says so
			}
			added, grant = got, ""
			if p != nil {
				grant = p.GrantType
			}
			return err
		})
		if err != nil {
			return fieldsErr(err, tokenFlag)
		}
		t = added
		switch {
		case t.Static() && t.State == store.StateAuthorized:
			fmt.Fprintf(a.stdio.Out, "token %s added (type %s, state %s); scripts use it with apiTokenAuth('%s')\n", name, t.Type, t.State, name)
		case t.Static():
			fmt.Fprint(a.stdio.Out, a.hint(fmt.Sprintf("token %s added (type %s, state %s); store its credential with: scriptrun token update %s %s\n", name, t.Type, t.State, name, credentialHint(t.Type))))
		case grant == store.GrantClientCredentials:
			fmt.Fprint(a.stdio.Out, a.hint(fmt.Sprintf("token %s added (state %s); provider %s uses client_credentials, so the token is fetched on first use (`scriptrun token refresh %s` fetches one now)\n", name, t.State, t.Provider, name)))
		default:
			fmt.Fprint(a.stdio.Out, a.hint(fmt.Sprintf("token %s added (state %s); authorize it with: scriptrun token authorize %s\n", name, t.State, name)))
		}
		if t.BaseURL == "" {
			fmt.Fprint(a.stdio.Err, a.hint(fmt.Sprintf("warning: token %s has no base URL, so scripts may send it to any host; bind it with `scriptrun token update %s --base-url https://api.example.com`\n", name, name)))
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
		for _, cr := range f.creds {
			if v := *cr.Field(&sec); v != "" {
				*cr.Field(&cur.Secret) = v
			}
		}
		if err := tx.PutToken(cur); err != nil {
			return err
		}
		t, err = tx.Token(name)
		return err
	})
	if err != nil {
		return fieldsErr(err, tokenFlag)
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
		fmt.Fprint(a.stdio.Err, a.hint(fmt.Sprintf("warning: token %s has no base URL, so scripts may send it to any host; bind it with `scriptrun token update %s --base-url https://api.example.com`\n", name, name)))
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
	NextAttempt     string `json:"nextRefreshAttempt,omitempty"` // after failures: no automatic refresh before (back-off or the provider's Retry-After)
	RetryAfter      string `json:"retryAfter,omitempty"`         // the provider's Retry-After, when it sent one
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
		NextAttempt: stamp(tokens.NextAttempt(t)), RetryAfter: stamp(t.RetryAfter),
		Created: stamp(t.Created), Updated: stamp(t.Updated), LastRefreshed: stamp(t.LastRefreshed), LastUsed: stamp(t.LastUsed),
	}
	// The type's settings and masked credentials go in by their keys in the
	// table, which are tokenView's JSON names (a test checks every one).
	b, err := json.Marshal(typeFields(t, store.Mask))
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	if err != nil {
		panic(fmt.Sprintf("token %s: the fields of type %s do not fit tokenView: %v", t.Name, t.Type, err))
	}
	return v
}

// typeFields are the settings of t's type and its credentials as mask
// shows them (credentials an admin does not enter left out), by their keys
// in store.TokenTypes.
func typeFields(t store.Token, mask func(string) string) map[string]string {
	spec := t.Spec()
	m := map[string]string{}
	for _, st := range spec.Settings {
		m[st.Key] = *st.Field(&t)
	}
	for _, c := range spec.Entered() {
		m[c.Key] = mask(*c.Field(&t.Secret))
	}
	return m
}

func tokenListCmd(a *app) *cobra.Command {
	var asJSON bool
	var q store.TokenQuery
	c := &cobra.Command{Use: "list", Short: "List tokens with their state", Args: noArgs,
		Long: "List tokens with their state, ordered by name.\n\nIn a home with many tokens, --search keeps the names that contain a text and\n--limit lists a page at a time: the next page starts --after the last name\nshown (standard error says which when more follow)."}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&q.Match, "search", "", "only the tokens whose name contains `TEXT` (ignoring case)")
	c.Flags().IntVar(&q.Limit, "limit", 0, "list at most `N` tokens (0: all)")
	c.Flags().StringVar(&q.After, "after", "", "list only the tokens whose name sorts after `NAME` (the last of the previous page)")
	c.RunE = func(c *cobra.Command, args []string) error {
		if q.Limit < 0 {
			return usageErr("--limit %d: give a number of tokens, 1 or more (0 lists them all)", q.Limit)
		}
		db, _, err := a.open()
		if err != nil {
			return err
		}
		// One write per 64 KiB rather than the table's two per cell:
		// 10,000 tokens made 170,000 write calls.
		out := bufio.NewWriterSize(a.stdio.Out, 64<<10)
		list := listTokenTable
		if asJSON {
			list = listTokensJSON
		}
		next, err := list(a, db, q, out)
		if ferr := out.Flush(); err == nil {
			err = ferr
		}
		if next != "" {
			fmt.Fprintf(a.stdio.Err, "more tokens follow: list them with --after %s\n", next)
		}
		return err
	}
	return c
}

// listTokenTable prints q's page of tokens as a table, which shows no
// credential: the records are authenticated but their secrets stay
// sealed (store.TokenSummariesPage). next is the --after of the next page
// when more follow.
func listTokenTable(a *app, db *store.DB, q store.TokenQuery, w io.Writer) (next string, err error) {
	page, damaged, err := readTokenPage(a, db, func(tx *store.Tx) (store.TokenSummaryPage, error) { return tx.TokenSummariesPage(q) })
	if err != nil {
		return "", err
	}
	return nextAfter(page.PageInfo), printTokenTable(w, page.Tokens, damaged)
}

// listTokensJSON prints q's page of tokens as token list --json's records,
// which need the credentials (masked).
func listTokensJSON(a *app, db *store.DB, q store.TokenQuery, w io.Writer) (next string, err error) {
	page, damaged, err := readTokenPage(a, db, func(tx *store.Tx) (store.TokenPage, error) { return tx.TokensPage(q) })
	if err != nil {
		return "", err
	}
	return nextAfter(page.PageInfo), printJSON(w, tokenListViews(page.Tokens, damaged))
}

// readTokenPage reads a page of tokens, warning on standard error of the
// damaged records it holds, which it returns beside it.
func readTokenPage[P any](a *app, db *store.DB, read func(*store.Tx) (P, error)) (page P, damaged []*store.RecordError, err error) {
	err = db.View(func(tx *store.Tx) (err error) {
		page, err = read(tx)
		damaged, err = a.listDamaged(err)
		return err
	})
	if err != nil {
		return page, nil, storeErr(err)
	}
	return page, damaged, nil
}

// nextAfter is the --after of the page after p, "" when none follows.
func nextAfter(p store.PageInfo) string {
	if p.More {
		return p.Last
	}
	return ""
}

// tokenListViews are token list --json's records: the tokens and the
// damaged records, in name order.
func tokenListViews(ts []store.Token, damaged []*store.RecordError) []tokenView {
	views := make([]tokenView, 0, len(ts)+len(damaged))
	mergeByName(len(ts), func(i int) string { return ts[i].Name }, damaged, func(i int) { views = append(views, viewToken(ts[i])) }, func(d *store.RecordError) {
		views = append(views, tokenView{Name: d.Name, State: stateDamaged, LastMessage: d.Error()})
	})
	return views
}

// printTokenTable is token list's table: the tokens and the damaged
// records, in name order.
func printTokenTable(w io.Writer, ts []store.TokenSummary, damaged []*store.RecordError) error {
	now := time.Now()
	tb := newTable(w, "NAME", "TYPE", "PROVIDER", "ACTIVE", "STATE", "EXPIRES", "BASE URL", "LAST MESSAGE")
	mergeByName(len(ts), func(i int) string { return ts[i].Name }, damaged, func(i int) {
		t := ts[i]
		tb.row(t.Name, t.Type, t.Provider, strconv.FormatBool(t.Active), string(t.State), relative(t.Expires, now), t.BaseURL, oneLine(t.LastMessage, 60))
	}, func(d *store.RecordError) {
		tb.row(d.Name, "", "", "", stateDamaged, "", "", "refused until restored or re-created (see the warning)")
	})
	return tb.flush()
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
		var p *store.Provider
		var perr error // the provider is damaged
		if err := db.View(func(tx *store.Tx) (err error) {
			t, p, err = tx.TokenWithProvider(args[0])
			if store.IsProviderDamaged(err) {
				perr, err = err, nil
			}
			return err
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
			grant := ""
			if p != nil {
				grant = p.GrantType
				if scopes == "" {
					scopes = strings.Join(p.Scopes, " ") + " (the provider's)"
				}
			}
			fields = append(fields, [2]string{"provider", v.Provider}, [2]string{"grantType", grant}, [2]string{"prompt", v.Prompt})
			fields = append(fields, [2]string{"active", fmt.Sprint(v.Active)}, [2]string{"state", v.State}, [2]string{"expires", expires},
				[2]string{"scopes", scopes}, [2]string{"baseUrl", v.BaseURL}, [2]string{"boundTo", v.BoundTo}, [2]string{"lastMessage", a.hint(v.LastMessage)},
				[2]string{"refreshToken", yesNo(v.HasRefreshToken)}, [2]string{"refreshFailures", fmt.Sprint(v.RefreshFailures)},
				[2]string{"refreshFailed", v.RefreshFailed}, [2]string{"backOff", backOffLine(t, now)}, [2]string{"lastRefreshed", v.LastRefreshed})
		} else {
			fields = append(fields, [2]string{"active", fmt.Sprint(v.Active)}, [2]string{"state", v.State}, [2]string{"expires", expires},
				[2]string{"baseUrl", v.BaseURL}, [2]string{"boundTo", v.BoundTo})
			fields = append(fields, credentialFields(t)...)
		}
		fields = append(fields, [2]string{"created", v.Created}, [2]string{"updated", v.Updated}, [2]string{"lastUsed", usedStamp(t.LastUsed)})
		if err := printFields(a.stdio.Out, fields); err != nil {
			return err
		}
		if t.BaseURL == "" {
			fmt.Fprint(a.stdio.Out, a.hint(fmt.Sprintf("warning: no base URL: scripts may send this token to any host; bind it with `scriptrun token update %s --base-url URL`\n", t.Name)))
		}
		switch {
		case perr != nil:
			fmt.Fprintf(a.stdio.Out, "warning: the token cannot be refreshed or authorized: %v\n", perr)
		case t.Type == store.TypeOAuth2 && p == nil:
			fmt.Fprintf(a.stdio.Out, "warning: provider %s does not exist; the token cannot be refreshed or authorized\n", t.Provider)
		}
		if t.Static() && t.State != store.StateAuthorized {
			fmt.Fprint(a.stdio.Out, a.hint(fmt.Sprintf("note: no credential stored; scripts get TOKEN_UNAUTHORIZED until one is: scriptrun token update %s %s\n", t.Name, credentialHint(t.Type))))
		}
		return nil
	}
	return c
}

// credentialFields are the lines `token show` prints for the settings and
// the masked credential of a token of a static type.
func credentialFields(t store.Token) [][2]string {
	var out [][2]string
	if t.Type == store.TypeAPIKey {
		// Where the key goes, in one line rather than three settings.
		where := "query parameter " + t.KeyQuery
		if t.KeyHeader != "" {
			where = "header " + t.KeyHeader
			if t.KeyPrefix != "" {
				where += fmt.Sprintf(" (after %q)", t.KeyPrefix)
			}
		}
		out = append(out, [2]string{"keyIn", where})
	}
	spec := t.Spec()
	for _, st := range spec.Settings {
		if st.Show != "" {
			out = append(out, [2]string{st.Show, *st.Field(&t)})
		}
	}
	for _, c := range spec.Entered() {
		m := store.Mask(*c.Field(&t.Secret))
		if m == "" {
			m = "(none)"
		}
		out = append(out, [2]string{c.Key, m})
	}
	return out
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

// backOffLine says when an automatic refresh is tried again after failures,
// and whether that is the provider's Retry-After; "" when none failed.
func backOffLine(t store.Token, now time.Time) string {
	next := tokens.NextAttempt(t)
	if next.IsZero() {
		return ""
	}
	if !now.Before(next) {
		return "over: the next use may refresh"
	}
	line := "next automatic refresh not before " + stamp(next) + " (" + relative(next, now) + ")"
	if !t.RetryAfter.IsZero() && next.Equal(t.RetryAfter) {
		line += ", as the provider asked (Retry-After)"
	}
	return line
}

// usedStamp shows when a token was last used to the minute: the manager
// writes lastUsed at most once a minute, so seconds would claim a
// precision the record does not have.
func usedStamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Minute).Format("2006-01-02T15:04Z") + " (to the minute)"
}
