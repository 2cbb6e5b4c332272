package main

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/web"
)

// linkFlags are token link's flags.
type linkFlags struct {
	expires    time.Duration
	consoleURL string
	callback   string
	list       bool
	revoke     string
}

func tokenLinkCmd(a *app) *cobra.Command {
	var f linkFlags
	c := &cobra.Command{
		Use:   "link NAME [--expires 24h] [--console-url URL] | --list | --revoke ID|all",
		Short: "Make a single-use link that lets someone else run \"Get authorization token\" for one token",
		Long: `Makes a reconnect link for an oauth2 token and prints it once. Whoever opens
it can press "Get authorization token" for that token alone, through the
console (scriptrun serve) and without its admin password: nothing else of the
console opens, and nothing of the token is shown but its name and provider.
The link works until a sign-in through it succeeds, or until it expires
(--expires, from 5m to 168h, default 24h), whichever comes first; a sign-in
that fails leaves it usable. Only its SHA-256 is stored.

The link is on the console's address: --console-url, else the origin (and
path prefix) of the callback URL serve uses (--callback-url, else
$SCRIPTRUN_CALLBACK_URL, else ` + defaultCallbackURL + `). It must be
the host of that callback URL: the browser comes back there from the
provider. The link alone is printed on standard output; the rest on
standard error.

--list shows the token's links (usable, used, expired, revoked); --revoke ID
revokes one (the ID --list shows, at least 6 characters), --revoke all every
usable one.`,
		Example: "  scriptrun token link graph-mail --expires 72h\n  scriptrun token link graph-mail --console-url https://ops.example.com\n" +
			"  scriptrun token link graph-mail --list\n  scriptrun token link graph-mail --revoke 3f2a9c",
		Args: exactArgs(1, "the token's NAME"),
	}
	c.Flags().DurationVar(&f.expires, "expires", store.DefaultReconnectTTL, "how long the link works, from 5m to 168h (7 days)")
	c.Flags().StringVar(&f.consoleURL, "console-url", "", "the console's address as the person will open it, e.g. https://ops.example.com (default: from the callback URL)")
	c.Flags().StringVar(&f.callback, "callback-url", "", "the callback URL serve uses, to tell the console's address (default $SCRIPTRUN_CALLBACK_URL, else "+defaultCallbackURL+")")
	c.Flags().BoolVar(&f.list, "list", false, "list the token's reconnect links")
	c.Flags().StringVar(&f.revoke, "revoke", "", "revoke the link with this ID (at least 6 characters of it), or all usable ones")
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := f.check(c); err != nil {
			return err
		}
		switch {
		case f.list:
			return a.listLinks(args[0])
		case f.revoke != "":
			return a.revokeLinks(args[0], f.revoke)
		}
		return a.createLink(args[0], f)
	}
	return c
}

// check refuses flags that do not go together.
func (f *linkFlags) check(c *cobra.Command) error {
	making := c.Flags().Changed("expires") || f.consoleURL != "" || f.callback != ""
	switch {
	case f.list && f.revoke != "":
		return usageErr("token link: --list and --revoke do not go together: list first, then revoke")
	case (f.list || f.revoke != "") && making:
		return usageErr("token link: --expires, --console-url and --callback-url are for making a link, not with --list or --revoke")
	case !f.list && f.revoke == "":
		if err := store.CheckReconnectTTL(f.expires); err != nil {
			return usageErr("--expires: %v", err)
		}
	}
	return nil
}

// linkURL is the address of the link with secret: on --console-url, else
// on the callback URL's console.
func (a *app) linkURL(f linkFlags, secret string) (string, error) {
	if f.consoleURL == "" {
		cb := a.callbackURL(f.callback)
		u, err := web.ReconnectURL(cb, secret)
		if err != nil {
			return "", usageErr("%v: pass --console-url with the console's address", err)
		}
		return u, nil
	}
	u, err := url.Parse(f.consoleURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", usageErr("--console-url %q is not the console's address: give it like https://ops.example.com or https://ops.example.com/scriptrun", f.consoleURL)
	}
	return strings.TrimSuffix(u.String(), "/") + "/reconnect?link=" + url.QueryEscape(secret), nil
}

// createdBy names who makes a link from the command line.
func (a *app) createdBy() string {
	if u := a.getenv("USER"); u != "" {
		return "command line (" + u + ")"
	}
	return "command line"
}

func (a *app) createLink(name string, f linkFlags) error {
	db, _, err := a.open()
	if err != nil {
		return err
	}
	// The address first: a link that cannot be given is not made.
	if _, err := a.linkURL(f, strings.Repeat("x", 43)); err != nil {
		return err
	}
	var secret string
	var l store.ReconnectLink
	if err := db.Update(func(tx *store.Tx) (err error) {
		secret, l, err = tx.CreateReconnectLink(name, f.expires, a.createdBy())
		return err
	}); err != nil {
		return a.linkErr(err)
	}
	link, _ := a.linkURL(f, secret)
	fmt.Fprintln(a.stdio.Out, link)
	errw := a.stdio.Err
	fmt.Fprintf(errw, "reconnect link %s for token %s at %s, usable once until %s (%s).\n", l.ID(), name, l.ProviderRef, stamp(l.Expires), relative(l.Expires, time.Now()))
	fmt.Fprintf(errw, "Send it to the person who must sign in; it is shown only now. The console (scriptrun serve) must be running at that address.\n")
	if u, _ := url.Parse(link); u != nil && store.IsLoopback(u.Hostname()) {
		fmt.Fprintf(errw, "note: the link is on %s, which only this machine can open: pass --console-url, or the --callback-url serve uses, if the person is elsewhere\n", u.Host)
	}
	fmt.Fprint(errw, a.hint(fmt.Sprintf("List or revoke it with: scriptrun token link %s --list | --revoke %s\n", name, l.ID())))
	return nil
}

func (a *app) listLinks(name string) error {
	db, _, err := a.open()
	if err != nil {
		return err
	}
	var links []store.ReconnectLink
	err = db.View(func(tx *store.Tx) (err error) {
		if _, err := tx.Token(name); err != nil {
			return err
		}
		links, err = tx.ReconnectLinks(name)
		return err
	})
	damaged, other := store.DamagedRecords(err)
	if other != nil {
		return storeErr(other)
	}
	now := time.Now()
	t := newTable(a.stdio.Out, "ID", "STATE", "CREATED", "BY", "EXPIRES", "SIGN-INS", "USED")
	for _, l := range links {
		used := ""
		if !l.Used.IsZero() {
			used = stamp(l.Used) + " from " + l.UsedFrom
		}
		t.row(l.ID(), l.State(now), stamp(l.Created), l.CreatedBy, stamp(l.Expires), strconv.Itoa(l.Started), used)
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, d := range damaged {
		fmt.Fprintf(a.stdio.Err, "damaged: %s %s: %s\n", d.Kind, d.Name, d.Reason)
	}
	return nil
}

// linkErr gives a link failure its exit code (store errors: 2, a damaged
// record: 1) with its hints for the home in use.
func (a *app) linkErr(err error) error {
	if errors.Is(err, store.ErrDamaged) {
		return failErr(err)
	}
	return configErr("%s", a.hint(err.Error()))
}

func (a *app) revokeLinks(name, id string) error {
	db, _, err := a.open()
	if err != nil {
		return err
	}
	var done []store.ReconnectLink
	if err := db.Update(func(tx *store.Tx) (err error) {
		done, err = tx.RevokeReconnectLinks(name, id, a.createdBy())
		return err
	}); err != nil {
		return a.linkErr(err)
	}
	for _, l := range done {
		fmt.Fprintf(a.stdio.Out, "reconnect link %s of token %s revoked\n", l.ID(), name)
	}
	return nil
}
