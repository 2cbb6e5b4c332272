package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

func newTokenCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Create, authorize and manage outbound tokens", Args: noArgs}
	c.AddCommand(tokenAddCmd(a, false), tokenAddCmd(a, true), tokenListCmd(a), tokenShowCmd(a), tokenRmCmd(a),
		tokenRefreshCmd(a), tokenAuthorizeCmd(a))
	return c
}

type tokenFlags struct {
	provider, prompt, scopes, baseURL, typ, active string
	inactive                                       bool
}

func (f *tokenFlags) register(c *cobra.Command, update bool) {
	fl := c.Flags()
	fl.StringVar(&f.provider, "provider", "", "the provider's name")
	fl.StringVar(&f.prompt, "prompt", "", "OAuth prompt sent when authorizing: consent, select_account, login, none, or empty")
	fl.StringVar(&f.scopes, "scopes", "", `scopes, space-separated; override the provider's (empty: use the provider's)`)
	fl.StringVar(&f.baseURL, "base-url", "", "the API this token is for (e.g. https://graph.microsoft.com); requests to other hosts are refused")
	if update {
		fl.StringVar(&f.active, "active", "", "true or false: whether scripts may use the token")
	} else {
		fl.StringVar(&f.typ, "type", store.TypeOAuth2, "token type")
		fl.BoolVar(&f.inactive, "inactive", false, "create it inactive")
	}
}

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
	return nil
}

func tokenAddCmd(a *app, update bool) *cobra.Command {
	var f tokenFlags
	c := &cobra.Command{
		Use:   "add NAME --provider P [--prompt consent] [--scopes \"a b\"] [--base-url URL] [--inactive]",
		Short: "Create an outbound token (then authorize it with `token authorize NAME`)",
		Args:  exactArgs(1, "the token's NAME"),
	}
	if update {
		c.Use = "update NAME [--provider P] [--prompt P] [--scopes \"a b\"] [--base-url URL] [--active true|false]"
		c.Short = "Change a token's settings (only the flags given)"
	}
	f.register(c, update)
	c.RunE = func(c *cobra.Command, args []string) error {
		name := args[0]
		if err := store.ValidateName("token", name); err != nil {
			return usageErr("%v", err)
		}
		if !update && !c.Flags().Changed("provider") {
			return usageErr("token add needs --provider NAME (see `scriptrun provider list`); usage: %s", c.UseLine())
		}
		t := store.Token{Name: name, Type: store.TypeOAuth2, Active: !f.inactive, State: store.StateUnauthorized}
		if err := f.apply(c, &t); err != nil {
			return err
		}
		db, _, err := a.open()
		if err != nil {
			return err
		}
		err = db.Update(func(tx *store.Tx) error {
			if !update {
				return tx.CreateToken(t)
			}
			cur, err := tx.Token(name)
			if err != nil {
				return err
			}
			if err := f.apply(c, &cur); err != nil {
				return err
			}
			t = cur
			return tx.PutToken(cur)
		})
		if err != nil {
			return storeErr(err)
		}
		if update {
			fmt.Fprintf(a.stdio.Out, "token %s updated\n", name)
		} else {
			fmt.Fprintf(a.stdio.Out, "token %s added (state %s); authorize it with: scriptrun token authorize %s\n", name, t.State, name)
		}
		if t.BaseURL == "" {
			fmt.Fprintf(a.stdio.Err, "warning: token %s has no base URL, so scripts may send it to any host; bind it with `scriptrun token update %s --base-url https://api.example.com`\n", name, name)
		}
		return nil
	}
	return c
}

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
	HasRefreshToken bool   `json:"hasRefreshToken"`
	RefreshFailures int    `json:"refreshFailures"`
	RefreshFailed   string `json:"refreshFailed,omitempty"`
	Created         string `json:"created"`
	Updated         string `json:"updated"`
	LastRefreshed   string `json:"lastRefreshed,omitempty"`
	LastUsed        string `json:"lastUsed,omitempty"`
}

func viewToken(t store.Token) tokenView {
	return tokenView{
		Name: t.Name, Type: t.Type, Provider: t.Provider, Prompt: t.Prompt, Active: t.Active, State: string(t.State),
		Expires: stamp(t.Expires), Scopes: strings.Join(t.Scopes, " "), LastMessage: t.LastMessage, BaseURL: t.BaseURL,
		HasRefreshToken: t.Secret.RefreshToken != "", RefreshFailures: t.RefreshFailures, RefreshFailed: stamp(t.RefreshFailed),
		Created: stamp(t.Created), Updated: stamp(t.Updated), LastRefreshed: stamp(t.LastRefreshed), LastUsed: stamp(t.LastUsed),
	}
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
		if err := db.View(func(tx *store.Tx) (err error) { ts, err = tx.Tokens(); return err }); err != nil {
			return storeErr(err)
		}
		views := make([]tokenView, 0, len(ts))
		for _, t := range ts {
			views = append(views, viewToken(t))
		}
		if asJSON {
			return printJSON(a.stdio.Out, views)
		}
		now := time.Now()
		tb := newTable(a.stdio.Out, "NAME", "TYPE", "PROVIDER", "ACTIVE", "STATE", "EXPIRES", "BASE URL", "LAST MESSAGE")
		for _, t := range ts {
			tb.row(t.Name, t.Type, t.Provider, fmt.Sprint(t.Active), string(t.State), relative(t.Expires, now), t.BaseURL, oneLine(t.LastMessage, 60))
		}
		return tb.flush()
	}
	return c
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

func tokenShowCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "show NAME", Short: "Show a token's settings and state (never its secrets)", Args: exactArgs(1, "the token's NAME")}
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
			p, perr = tx.Provider(t.Provider)
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
		scopes := v.Scopes
		if scopes == "" && perr == nil {
			scopes = strings.Join(p.Scopes, " ") + " (the provider's)"
		}
		if err := printFields(a.stdio.Out, [][2]string{
			{"name", v.Name}, {"type", v.Type}, {"provider", v.Provider}, {"prompt", v.Prompt},
			{"active", fmt.Sprint(v.Active)}, {"state", v.State}, {"expires", expires}, {"scopes", scopes},
			{"baseUrl", v.BaseURL}, {"lastMessage", v.LastMessage}, {"refreshToken", yesNo(v.HasRefreshToken)},
			{"refreshFailures", fmt.Sprint(v.RefreshFailures)}, {"refreshFailed", v.RefreshFailed},
			{"created", v.Created}, {"updated", v.Updated}, {"lastRefreshed", v.LastRefreshed}, {"lastUsed", v.LastUsed},
		}); err != nil {
			return err
		}
		if t.BaseURL == "" {
			fmt.Fprintf(a.stdio.Out, "warning: no base URL: scripts may send this token to any host; bind it with `scriptrun token update %s --base-url URL`\n", t.Name)
		}
		if perr != nil {
			fmt.Fprintf(a.stdio.Out, "warning: provider %s does not exist; the token cannot be refreshed or authorized\n", t.Provider)
		}
		return nil
	}
	return c
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
// is the caller's to fix (2); a provider's refusal is a failed operation (1).
func tokenErr(err error) error {
	switch tokens.CodeOf(err) {
	case tokens.CodeNotFound, tokens.CodeInactive, tokens.CodeUnauthorized, tokens.CodeProviderNotFound, tokens.CodeUnsupportedGrant, tokens.CodeStore:
		return configErr("%v", err)
	}
	return failErr(err)
}
