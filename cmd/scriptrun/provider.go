package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/termtext"
)

func newProviderCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "provider", Short: "Register and manage OAuth providers", Args: noArgs}
	c.AddCommand(providerAddCmd(a, false), providerAddCmd(a, true), providerListCmd(a), providerShowCmd(a), providerRmCmd(a), providerTemplatesCmd(a))
	return c
}

// providerFlags are the flags of provider add and update.
type providerFlags struct {
	clientID, authURL, tokenURL, revocationURL, scopes, description, authStyle, grantType string
	pkce                                                                                  bool
	authParams, tokenParams                                                               []string
	secret                                                                                credFlag
	template, tenant, instance                                                            string
	params                                                                                []string
	rejectedStatus, rejectedBody, rejectedBodyStatus                                      string
}

func (f *providerFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.clientID, "client-id", "", "client (application) id issued by the provider")
	fl.StringVar(&f.authURL, "auth-url", "", "authorization endpoint URL (where the browser signs in)")
	fl.StringVar(&f.tokenURL, "token-url", "", "token endpoint URL (where codes are exchanged and tokens refreshed)")
	fl.StringVar(&f.revocationURL, "revocation-url", "", "token revocation endpoint URL (RFC 7009), optional")
	fl.StringVar(&f.scopes, "scopes", "", `default scopes, space-separated (e.g. "offline_access Mail.Read")`)
	fl.StringVar(&f.description, "description", "", "free text")
	fl.StringVar(&f.authStyle, "auth-style", store.AuthStyleHeader, "how the client authenticates at the token endpoint: header (client_secret_basic) or body (client_secret_post)")
	fl.StringVar(&f.grantType, "grant-type", store.GrantAuthorizationCode, "OAuth grant type: authorization_code (an admin signs in once), or client_credentials (machine to machine: no --auth-url, tokens fetched on first use)")
	fl.BoolVar(&f.pkce, "pkce", true, "send a PKCE S256 challenge when authorizing")
	fl.StringArrayVar(&f.authParams, "auth-param", nil, "extra authorization-URL parameter KEY=VALUE (repeatable), e.g. access_type=offline")
	fl.StringArrayVar(&f.tokenParams, "token-param", nil, "extra token-request parameter KEY=VALUE (repeatable), e.g. audience=api.example.com")
	fl.StringVar(&f.rejectedStatus, "rejected-status", "", "API answers that mean the access token was refused, so it is refreshed and the call retried once: status codes 400-599 (default 401; a list replaces it, e.g. 401,403 for Django OAuth Toolkit)")
	fl.StringVar(&f.rejectedBody, "rejected-body", "", `a regular expression (Go RE2, at most 256 bytes) that marks a refused access token in the first 4 KiB of an answer's body, e.g. '"code"\s*:\s*"60[12]"' for Marketo; "" removes it`)
	fl.StringVar(&f.rejectedBodyStatus, "rejected-body-status", "", "the statuses whose body --rejected-body searches: 200-299 or 400-599 (default 200)")
	f.secret.register(c, "client-secret", "the client secret")
}

func (f *providerFlags) registerTemplate(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.template, "template", "", "fill URLs, scopes, auth style and parameters from a template (see `scriptrun provider templates`)")
	fl.StringArrayVar(&f.params, "param", nil, "template parameter KEY=VALUE (repeatable), e.g. --param tenant=contoso.onmicrosoft.com")
	fl.StringVar(&f.tenant, "tenant", "", "same as --param tenant=VALUE")
	fl.StringVar(&f.instance, "instance", "", "same as --param instance=VALUE")
}

// fromTemplate starts a provider from --template and its parameters, and
// returns the base URL tokens of it are usually bound to.
func (f *providerFlags) fromTemplate(a *app, name string) (store.Provider, string, error) {
	set, err := a.templates()
	if err != nil {
		return store.Provider{}, "", err
	}
	t, err := set.Find(f.template)
	if err != nil {
		return store.Provider{}, "", usageErr("%v", err)
	}
	params, err := parseParams("--param", f.params)
	if err != nil {
		return store.Provider{}, "", err
	}
	if params == nil {
		params = map[string]string{}
	}
	if f.tenant != "" {
		params["tenant"] = f.tenant
	}
	if f.instance != "" {
		params["instance"] = f.instance
	}
	p, err := t.Provider(name, params)
	if err != nil {
		return store.Provider{}, "", usageErr("%v", err)
	}
	return p, t.TokenBaseURL(params), nil
}

// apply copies the flags that were given, except the secret, onto p. A
// status list that cannot be read is a store.FieldErrors, to be shown with
// validation's (store.JoinFieldErrors).
func (f *providerFlags) apply(c *cobra.Command, p *store.Provider) error {
	set := c.Flags().Changed
	if set("client-id") {
		p.ClientID = f.clientID
	}
	if set("auth-url") {
		p.AuthURL = f.authURL
	}
	if set("token-url") {
		p.TokenURL = f.tokenURL
	}
	if set("revocation-url") {
		p.RevocationURL = f.revocationURL
	}
	if set("scopes") {
		p.Scopes = strings.Fields(f.scopes)
	}
	if set("description") {
		p.Description = f.description
	}
	if set("auth-style") || p.AuthStyle == "" {
		p.AuthStyle = f.authStyle
	}
	if set("grant-type") || p.GrantType == "" {
		p.GrantType = f.grantType
	}
	if set("pkce") {
		p.PKCE = f.pkce
	}
	var err error
	if set("auth-param") {
		if p.AuthParams, err = parseParams("--auth-param", f.authParams); err != nil {
			return err
		}
	}
	if set("token-param") {
		if p.TokenParams, err = parseParams("--token-param", f.tokenParams); err != nil {
			return err
		}
	}
	return f.applyRejection(c, &p.Rejection)
}

// providerFieldFlags name the flag that sets each field of a provider
// (store.FieldError.Field); the name is the NAME argument.
var providerFieldFlags = lazy.Value[map[string]string]{New: func() map[string]string {
	return map[string]string{
		"clientId": "--client-id", "grantType": "--grant-type", "authorizationUrl": "--auth-url",
		"tokenUrl": "--token-url", "revocationUrl": "--revocation-url", "scopes": "--scopes", "authStyle": "--auth-style",
		"rejection." + store.RejectionStatuses:     "--rejected-status",
		"rejection." + store.RejectionBodyPattern:  "--rejected-body",
		"rejection." + store.RejectionBodyStatuses: "--rejected-body-status",
	}
}}

// applyRejection sets the rejection flags that were given on r. Removing
// the body pattern (--rejected-body "") removes the statuses it searched
// too, unless they are given. A list that cannot be read is a
// store.FieldErrors; validation checks the rest.
func (f *providerFlags) applyRejection(c *cobra.Command, r *store.Rejection) error {
	set := c.Flags().Changed
	var parsed store.FieldErrors
	if set("rejected-status") {
		codes, fe := store.ParseProviderStatuses(store.RejectionStatuses, f.rejectedStatus)
		if fe != nil {
			parsed = append(parsed, *fe)
		}
		r.Statuses = codes
	}
	if set("rejected-body") {
		r.BodyPattern = f.rejectedBody
		if f.rejectedBody == "" && !set("rejected-body-status") {
			r.BodyStatuses = nil
		}
	}
	if set("rejected-body-status") {
		codes, fe := store.ParseProviderStatuses(store.RejectionBodyStatuses, f.rejectedBodyStatus)
		if fe != nil {
			parsed = append(parsed, *fe)
		}
		r.BodyStatuses = codes
	}
	if len(parsed) > 0 {
		return parsed
	}
	return nil
}

// fieldsErr shows the problems validation found (store.FieldErrors), one
// a line, each after the flag that sets its field (fieldFlag; a field
// without one, such as the NAME argument, by its label), as a usage error
// (exit 2). Any other failure is storeErr's, whole.
func fieldsErr(err error, fieldFlag func(field string) string) error {
	fes, rest := store.SplitFieldErrors(err)
	if rest != nil {
		return storeErr(err)
	}
	lines := make([]string, len(fes))
	for i, fe := range fes {
		lines[i] = fe.Error()
		if flag := fieldFlag(fe.Field); flag != "" {
			lines[i] = flag + ": " + fe.Message
		}
	}
	return usageErr("%s", strings.Join(lines, "\n"))
}

func providerFlag(field string) string { return providerFieldFlags.Get()[field] }

func parseParams(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageErr("%s %q: give it as KEY=VALUE, e.g. %s access_type=offline", flag, kv, flag)
		}
		out[k] = v
	}
	return out, nil
}

func providerAddCmd(a *app, update bool) *cobra.Command {
	var f providerFlags
	c := &cobra.Command{
		Use:   "add NAME --client-id ID --auth-url URL --token-url URL [--client-secret-stdin | --client-secret-env VAR] [flags]",
		Short: "Register an OAuth provider",
		Args:  exactArgs(1, "the provider's NAME"),
	}
	if update {
		c.Use = "update NAME [flags]"
		c.Short = "Change a provider (only the flags given)"
	}
	f.register(c)
	if !update {
		f.registerTemplate(c)
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		name := args[0]
		if f.template == "" && (len(f.params) > 0 || f.tenant != "" || f.instance != "") {
			return usageErr("--param, --tenant and --instance fill a --template; give one (see `scriptrun provider templates`)")
		}
		// Check every flag and read the secret before opening anything:
		// every problem at once, from the store's validation.
		p := store.Provider{Name: name, PKCE: f.pkce}
		baseURL := ""
		if f.template != "" {
			var err error
			if p, baseURL, err = f.fromTemplate(a, name); err != nil {
				return err
			}
		}
		parsed, err := store.SplitFieldErrors(f.apply(c, &p))
		if err != nil {
			return err
		}
		if !update {
			if err := store.JoinFieldErrors(parsed, p.Validate()); err != nil {
				return fieldsErr(err, providerFlag)
			}
		}
		secret, err := f.secret.read(a, new(bool))
		if err != nil {
			return err
		}
		p.ClientSecret = secret
		db, _, err := a.open()
		if err != nil {
			return err
		}
		err = db.Update(func(tx *store.Tx) error {
			if !update {
				return tx.CreateProvider(p)
			}
			cur, err := tx.Provider(name)
			if err != nil {
				return err
			}
			parsed, err := store.SplitFieldErrors(f.apply(c, &cur))
			if err != nil {
				return err
			}
			if secret != "" {
				cur.ClientSecret = secret
			}
			return store.JoinFieldErrors(parsed, tx.PutProvider(cur))
		})
		if err != nil {
			return fieldsErr(err, providerFlag)
		}
		verb := "added"
		if update {
			verb = "updated"
		}
		fmt.Fprintf(a.stdio.Out, "provider %s %s\n", name, verb)
		if baseURL != "" {
			fmt.Fprint(a.stdio.Out, a.hint(fmt.Sprintf("tokens for it usually call %s: scriptrun token add NAME --provider %s --base-url %s\n", baseURL, name, baseURL)))
		}
		if !update && p.ClientSecret == "" {
			fmt.Fprint(a.stdio.Err, a.hint(fmt.Sprintf("note: provider %s has no client secret (public client); add one with `scriptrun provider update %s --client-secret-stdin` if the provider issued one\n", name, name)))
		}
		return nil
	}
	return c
}

// providerView is what list and show print: never the secret itself.
type providerView struct {
	Name             string            `json:"name"`
	ClientID         string            `json:"clientId"`
	ClientSecret     string            `json:"clientSecret"`
	GrantType        string            `json:"grantType"`
	AuthorizationURL string            `json:"authorizationUrl"`
	TokenURL         string            `json:"tokenUrl"`
	RevocationURL    string            `json:"revocationUrl,omitempty"`
	Scopes           string            `json:"scopes"`
	Description      string            `json:"description"`
	AuthStyle        string            `json:"authStyle"`
	PKCE             bool              `json:"pkce"`
	AuthParams       map[string]string `json:"authParams,omitempty"`
	TokenParams      map[string]string `json:"tokenParams,omitempty"`
	// RejectedStatuses, RejectedBody and RejectedBodyStatuses say which API
	// answers refuse an access token, defaults filled in.
	RejectedStatuses     []int  `json:"rejectedStatuses"`
	RejectedBody         string `json:"rejectedBody,omitempty"`
	RejectedBodyStatuses []int  `json:"rejectedBodyStatuses,omitempty"`
	Created              string `json:"created"`
	Updated              string `json:"updated"`
	// State is "damaged" for a provider that cannot be used (list only).
	State string `json:"state,omitempty"`
}

func viewProvider(p store.Provider) providerView {
	return providerView{
		Name: p.Name, ClientID: p.ClientID, ClientSecret: store.Mask(p.ClientSecret), GrantType: p.GrantType,
		AuthorizationURL: p.AuthURL, TokenURL: p.TokenURL, RevocationURL: p.RevocationURL,
		Scopes: strings.Join(p.Scopes, " "), Description: p.Description, AuthStyle: p.AuthStyle, PKCE: p.PKCE,
		AuthParams: p.AuthParams, TokenParams: p.TokenParams,
		RejectedStatuses: p.Rejection.EffectiveStatuses(), RejectedBody: p.Rejection.BodyPattern, RejectedBodyStatuses: p.Rejection.EffectiveBodyStatuses(),
		Created: stamp(p.Created), Updated: stamp(p.Updated),
	}
}

// rejectedBodyText says where the body pattern is looked for, or "".
func (v providerView) rejectedBodyText() string {
	if v.RejectedBody == "" {
		return ""
	}
	return fmt.Sprintf("%s (in the first %d KiB of %s answers)", v.RejectedBody, store.RejectionPeekBytes>>10, store.FormatStatuses(v.RejectedBodyStatuses))
}

func providerListCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "list", Short: "List providers", Args: noArgs}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var ps []store.Provider
		var damaged []*store.RecordError
		if err := db.View(func(tx *store.Tx) (err error) {
			ps, err = tx.Providers()
			damaged, err = a.listDamaged(err)
			return err
		}); err != nil {
			return storeErr(err)
		}
		views := make([]providerView, 0, len(ps)+len(damaged))
		mergeByName(len(ps), func(i int) string { return ps[i].Name }, damaged, func(i int) { views = append(views, viewProvider(ps[i])) }, func(d *store.RecordError) {
			views = append(views, providerView{Name: d.Name, State: stateDamaged})
		})
		if asJSON {
			return printJSON(a.stdio.Out, views)
		}
		t := newTable(a.stdio.Out, "NAME", "CLIENT ID", "GRANT", "AUTH STYLE", "TOKEN URL")
		for _, v := range views {
			if v.State == stateDamaged {
				t.row(v.Name, stateDamaged, "", "", "")
				continue
			}
			t.row(v.Name, v.ClientID, v.GrantType, v.AuthStyle, v.TokenURL)
		}
		return t.flush()
	}
	return c
}

func providerShowCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "show NAME", Short: "Show a provider (the secret masked)", Args: exactArgs(1, "the provider's NAME")}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		var p store.Provider
		var users []string
		if err := db.View(func(tx *store.Tx) error {
			if p, err = tx.Provider(args[0]); err != nil {
				return err
			}
			ts, err := tx.Tokens()
			for _, t := range ts {
				if t.Provider == p.Name {
					users = append(users, t.Name)
				}
			}
			_, err = store.DamagedRecords(err) // a damaged token uses nothing
			return err
		}); err != nil {
			return storeErr(err)
		}
		v := viewProvider(p)
		if asJSON {
			return printJSON(a.stdio.Out, v)
		}
		secret := v.ClientSecret
		if secret == "" {
			secret = "(none: public client)"
		}
		fields := [][2]string{
			{"name", v.Name}, {"clientId", v.ClientID}, {"clientSecret", secret}, {"grantType", v.GrantType},
			{"authorizationUrl", v.AuthorizationURL}, {"tokenUrl", v.TokenURL}, {"revocationUrl", v.RevocationURL},
			{"scopes", v.Scopes}, {"description", v.Description}, {"authStyle", v.AuthStyle},
			{"pkce", fmt.Sprint(v.PKCE)}, {"authParams", params(v.AuthParams)}, {"tokenParams", params(v.TokenParams)},
			{"rejectedStatus", store.FormatStatuses(v.RejectedStatuses)}, {"rejectedBody", v.rejectedBodyText()},
			{"tokens", strings.Join(users, ", ")}, {"created", v.Created}, {"updated", v.Updated},
		}
		return printFields(a.stdio.Out, fields)
	}
	return c
}

func params(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

func providerRmCmd(a *app) *cobra.Command {
	var force bool
	c := &cobra.Command{Use: "rm NAME [--force]", Short: "Remove a provider", Args: exactArgs(1, "the provider's NAME")}
	c.Flags().BoolVar(&force, "force", false, "remove it even while tokens use it")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, _, err := a.open()
		if err != nil {
			return err
		}
		if err := db.Update(func(tx *store.Tx) error { return tx.DeleteProvider(args[0], force) }); err != nil {
			return storeErr(err)
		}
		fmt.Fprintf(a.stdio.Out, "provider %s removed\n", args[0])
		return nil
	}
	return c
}

// storeErr gives store failures their exit code: most are configuration
// problems a person fixes (missing record, invalid field, damaged file); an
// unreachable cluster, a wrong key and a missing store have codes of their
// own (storeExit).
//
// A damaged database or record is not a mistake in the command: it fails
// with exit 1, like an operation that failed.
func storeErr(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if se := storeExit(err); se != nil {
		return se
	}
	if errors.Is(err, store.ErrDamaged) {
		return failErr(err)
	}
	return configErr("%v", err)
}

func providerTemplatesCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "templates", Short: "List provider templates (for provider add --template)", Args: noArgs}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		set, err := a.templates()
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(a.stdio.Out, set.All())
		}
		for _, t := range set.All() {
			// A home's templates/*.json is text from elsewhere: shown as text.
			fmt.Fprintf(a.stdio.Out, "%s — %s\n", termtext.Line(t.Name), termtext.Line(t.Title))
			for _, k := range slices.Sorted(maps.Keys(t.Params)) {
				p := t.Params[k]
				def := ""
				if p.Default != "" {
					def = " (default " + p.Default + ")"
				}
				fmt.Fprintf(a.stdio.Out, "    --param %s=VALUE: %s\n", termtext.Line(k), termtext.Line(p.Help+def))
			}
			fmt.Fprintf(a.stdio.Out, "    %s\n", termtext.Line(t.Quirk))
			if t.Source != "built in" {
				fmt.Fprintf(a.stdio.Out, "    from %s\n", termtext.Line(t.Source))
			}
		}
		fmt.Fprintln(a.stdio.Out, a.hint("\nuse: scriptrun provider add NAME --template TEMPLATE [--param K=V] --client-id ID --client-secret-env VAR"))
		return nil
	}
	return c
}
