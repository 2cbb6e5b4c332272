package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/config"
	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/termtext"
)

func newExportCmd(a *app) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "export [--format yaml|json]",
		Short: "Print providers, token definitions and cron jobs as a configuration file (never secrets)",
		Args:  noArgs,
	}
	c.Flags().StringVar(&format, "format", "yaml", "yaml or json")
	c.RunE = func(c *cobra.Command, args []string) error {
		if format != "yaml" && format != "json" {
			return usageErr("--format %q: use yaml or json", format)
		}
		db, _, err := a.open()
		if err != nil {
			return err
		}
		f, err := config.Read(db)
		if err != nil {
			return storeErr(err)
		}
		return config.Write(a.stdio.Out, f, format)
	}
	return c
}

func newApplyCmd(a *app) *cobra.Command {
	var file string
	var dryRun, prune, requireSecrets bool
	c := &cobra.Command{
		Use:   "apply -f FILE [--dry-run] [--prune] [--require-secrets]",
		Short: "Make the home match a configuration file (as written by export)",
		Long: `Reads FILE (YAML or JSON; - for standard input), checks all of it, prints the
plan (create/update/delete per object) and applies it in one transaction:
a broken file changes nothing. Secrets are read only through references,
clientSecret: {env: VAR} or {file: PATH}; an omitted clientSecret keeps the
stored one. A file reference names a regular file of at most 64 KiB
(relative to FILE's folder); scriptrun's own SCRIPTRUN_* variables and its
key and database files are refused. OAuth token credentials and state are
never touched. --prune deletes what the file does not name. A provider the
file gives no clientSecret and the home holds none for (a file exported
from another home) is flagged in the plan; --require-secrets refuses the
file instead.

The plan lists every secret the file refers to, where it is read from and
where it will be sent (a provider's token URL, a static token's base URL),
and stored secrets that a changed URL sends somewhere new. Review it with
--dry-run, which reads no secret at all, before applying a file you did not
write.`,
		Args: noArgs,
	}
	c.Flags().StringVarP(&file, "file", "f", "", "configuration file, or - for standard input")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing; no secret is read")
	c.Flags().BoolVar(&prune, "prune", false, "delete providers, tokens and jobs the file does not name")
	c.Flags().BoolVar(&requireSecrets, "require-secrets", false, "refuse the file if a provider would have no client secret")
	c.RunE = func(c *cobra.Command, args []string) error {
		if file == "" {
			return usageErr("apply needs -f FILE (see `scriptrun export` for the format)")
		}
		var data []byte
		var err error
		dir := "."
		if file == "-" {
			data, err = io.ReadAll(io.LimitReader(a.stdio.In, 16<<20))
		} else {
			data, err = os.ReadFile(file)
			dir = filepath.Dir(file)
		}
		if err != nil {
			return usageErr("read %s: %v", file, errors.Unwrap(err))
		}
		db, _, err := a.open()
		if err != nil {
			return err
		}
		protected, err := a.storeFiles()
		if err != nil {
			return err
		}
		plan, err := config.Apply(db, data, config.Options{Dir: dir, Getenv: a.getenv, DryRun: dryRun, Prune: prune, RequireSecrets: requireSecrets, Check: cron.CheckJob, ReadScript: cron.CaptureScript,
			Protected: protected})
		var es config.Errors
		if errors.As(err, &es) {
			return usageErr("%s: nothing was changed:\n%v", file, err)
		}
		if err != nil {
			return storeErr(err)
		}
		for _, ch := range plan.Changes {
			fmt.Fprintln(a.stdio.Out, termtext.Text(a.hint(fmt.Sprint(ch))))
		}
		for _, s := range plan.Secrets {
			fmt.Fprintln(a.stdio.Out, termtext.Text(fmt.Sprint(s)))
		}
		unread := ""
		if dryRun && len(plan.Secrets) > 0 {
			unread = "; secrets were not read, so changes to them are not shown"
		}
		switch {
		case len(plan.Changes) == 0:
			fmt.Fprintln(a.stdio.Out, "no changes: the home already matches "+file+unread)
		case dryRun:
			fmt.Fprintf(a.stdio.Out, "dry run: %d change(s) not applied%s\n", len(plan.Changes), unread)
		default:
			fmt.Fprintf(a.stdio.Out, "applied %d change(s)\n", len(plan.Changes))
		}
		return nil
	}
	return c
}
