package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

func tokenRevokeCmd(a *app) *cobra.Command {
	var local bool
	c := &cobra.Command{
		Use:   "revoke NAME [--local]",
		Short: "Revoke a token at its provider, then erase its stored credential",
		Long: `For an oauth2 token whose provider has a revocation URL (RFC 7009), asks the
provider to revoke the refresh token and the access token; if the provider
refuses or cannot be reached, nothing is erased (retry, or pass --local).
Then erases the stored credential and sets the state to unauthorized, for
every token type. A new "Get authorization token" (or, for the other types,
` + "`scriptrun token update`" + ` with a new credential) brings it back.

Credentials of every type but oauth2 were issued elsewhere: revoke erases
them here; revoke them where they were issued too if they may have leaked.`,
		Args: exactArgs(1, "the token's NAME"),
	}
	c.Flags().BoolVar(&local, "local", false, "only erase the stored credential; do not call the provider (the tokens stay valid there until they expire)")
	c.RunE = func(c *cobra.Command, args []string) error {
		db, m, err := a.open()
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		r, err := m.Revoke(ctx, args[0], tokens.RevokeOptions{Local: local})
		if err != nil {
			return tokenErr(err)
		}
		t := r.Token
		out := a.stdio.Out
		switch {
		case len(r.Revoked) > 0:
			fmt.Fprintf(out, "token %s revoked at the provider (%s) and erased here; state %s\n", t.Name, strings.ReplaceAll(strings.Join(r.Revoked, ", "), "_", " "), t.State)
		case t.Static():
			fmt.Fprintf(out, "token %s: credential erased; state %s\n", t.Name, t.State)
			fmt.Fprintf(a.stdio.Err, "note: the %s credential was issued elsewhere and still works there; revoke it at its issuer too if it may have leaked\n", t.Type)
		default:
			fmt.Fprintf(out, "token %s: stored tokens erased; state %s\n", t.Name, t.State)
		}
		if r.NotRevoked != "" {
			fmt.Fprintf(a.stdio.Err, "note: not revoked at the provider: %s\n", r.NotRevoked)
		}
		grant := ""
		db.View(func(tx *store.Tx) error {
			if _, p, _ := tx.TokenWithProvider(t.Name); p != nil {
				grant = p.GrantType
			}
			return nil
		})
		switch {
		case grant == store.GrantClientCredentials:
			fmt.Fprint(out, a.hint(fmt.Sprintf("its next use fetches a new access token; to stop that: scriptrun token update %s --active false\n", t.Name)))
		case t.Type == store.TypeOAuth2:
			fmt.Fprint(out, a.hint(fmt.Sprintf("authorize it again with: scriptrun token authorize %s\n", t.Name)))
		default:
			fmt.Fprint(out, a.hint(fmt.Sprintf("store a new credential with: scriptrun token update %s %s\n", t.Name, credentialHint(t.Type))))
		}
		return nil
	}
	return c
}
