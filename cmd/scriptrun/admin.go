package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/scriptrun/scriptrun/store"
)

func newAdminCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "admin", Short: "Manage the web console's admin", Args: noArgs}
	c.AddCommand(adminPasswordCmd(a))
	return c
}

func adminPasswordCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "password",
		Short: "Set the web console's admin password",
		Long: `Sets the password that signs in to the web console (scriptrun serve). On a
terminal it asks twice without echoing; otherwise it reads one line from
standard input, e.g.:

  printf '%s\n' "$PASSWORD" | scriptrun admin password

The password is stored as an argon2id hash, sealed like the other secrets.
Setting it signs out every browser signed in to a running console and clears
its sign-in delays.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			password, err := readNewPassword(a.stdio)
			if err != nil {
				return err
			}
			if err := store.ValidateAdminPassword(password); err != nil {
				return usageErr("%v; nothing was changed", err)
			}
			hash, err := store.HashAdminPassword(password)
			if err != nil {
				return failErr(err)
			}
			db, _, err := a.open()
			if err != nil {
				return err
			}
			if err := db.Update(func(tx *store.Tx) error { return tx.SetAdminPassword(hash) }); err != nil {
				return storeErr(err)
			}
			fmt.Fprintln(a.stdio.Out, "admin password set; browsers signed in to the console are signed out")
			return nil
		},
	}
}

// readNewPassword asks twice without echo on a terminal; otherwise it reads
// one line from standard input.
func readNewPassword(stdio Stdio) (string, error) {
	if f, ok := stdio.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		ask := func(prompt string) (string, error) {
			fmt.Fprint(stdio.Err, prompt)
			b, err := term.ReadPassword(fd)
			fmt.Fprintln(stdio.Err)
			if err != nil {
				return "", usageErr("reading the password from the terminal: %v", err)
			}
			return string(b), nil
		}
		first, err := ask("New admin password: ")
		if err != nil {
			return "", err
		}
		if err := store.ValidateAdminPassword(first); err != nil {
			return "", usageErr("%v; nothing was changed", err)
		}
		second, err := ask("The same password again: ")
		if err != nil {
			return "", err
		}
		if first != second {
			return "", usageErr("the two passwords differ; nothing was changed")
		}
		return first, nil
	}
	// Two bytes over the limit, so a longer password is refused, not cut.
	line, err := readLine(stdio.In, store.MaxAdminPasswordLen+2)
	if err != nil {
		return "", usageErr("reading the password from standard input: %v", err)
	}
	if line == "" {
		return "", usageErr("standard input was empty: pipe the password in, e.g. `printf '%%s\\n' \"$PASSWORD\" | scriptrun admin password`, or run it in a terminal")
	}
	return line, nil
}
