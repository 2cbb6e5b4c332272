package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/termtext"
)

const defaultRefreshTimeout = 30 * time.Second

// Main runs scriptrun with args (without the program name) and returns the
// exit code.
func Main(args []string, stdio Stdio, getenv func(string) string) int {
	a := &app{stdio: stdio, getenv: getenv, exit: exitProcess}
	root, args := commandTree(a, args)
	return a.execute(root, args)
}

// execute runs the command args name in root's tree and returns the exit
// code, having printed the error.
func (a *app) execute(root *cobra.Command, args []string) int {
	root.SetArgs(args)
	root.SetIn(a.stdio.In)
	root.SetOut(a.stdio.Out)
	root.SetErr(a.stdio.Err)
	err := root.Execute()
	a.close()
	if err != nil && !errors.Is(err, errJobReported) {
		fmt.Fprintln(a.stdio.Err, "scriptrun: "+termtext.Text(a.hint(strings.TrimRight(err.Error(), "\n"))))
	}
	return exitCode(err)
}

// commandTree builds the commands args need, with the shorthand
// `scriptrun FILE.js ...` written out as `scriptrun run FILE.js ...`. For
// the shorthand, the most common start, the tree holds the root and run
// only: building every other command's flags took ~0.3 ms and 960
// allocations at each start. No command is named like a script
// (TestNoCommandNamedLikeAScript), so the full tree takes the same path.
func commandTree(a *app, args []string) (*cobra.Command, []string) {
	if i := firstCommandArg(args); i >= 0 && isScriptFile(args[i]) {
		return newRootOf(a, newRunCmd(a)), withRun(args, i)
	}
	root := newRoot(a)
	return root, shorthand(args, root)
}

// newRoot builds the whole command tree.
func newRoot(a *app) *cobra.Command {
	return newRootOf(a, newStoreCmd(a), newRunCmd(a), newProviderCmd(a), newTokenCmd(a), newDemoCmd(a), newServeCmd(a), newAdminCmd(a), newReplCmd(a), newCronCmd(a), newDoctorCmd(a), newExportCmd(a), newApplyCmd(a), newJobCmd(a), newNotifyCmd(a))
}

// newRootOf builds the root command over the given subcommands.
func newRootOf(a *app, commands ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:   "scriptrun [--home DIR] COMMAND | FILE.js [ARGS...]",
		Short: "Run JavaScript integration scripts with stored, self-refreshing OAuth2 tokens",
		Long: `scriptrun runs JavaScript integration scripts whose HTTP calls are signed with
stored OAuth2 tokens that refresh themselves. Secrets stay encrypted in the
home folder (--home, else $SCRIPTRUN_HOME, else ~/.scriptrun) and never reach
scripts.

  scriptrun demo                 see it work end to end, on a sandbox provider
  scriptrun hello.js             run a script (same as: scriptrun run hello.js)
  scriptrun provider add ...     register an OAuth provider
  scriptrun token add ...        create a named token, then: scriptrun token authorize NAME`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.home, "home", "", "home folder (default $SCRIPTRUN_HOME, else ~/.scriptrun)")
	addStoreFlags(root.PersistentFlags(), &a.storeFlags)
	root.Long += "\n\n" + exitCodesHelp
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v\nsee `%s --help`", err, c.CommandPath())
	})
	root.AddCommand(commands...)
	refuseUnknownSubcommands(root)
	setUpHelp(root)
	return root
}

// refuseUnknownSubcommands makes every command that only groups subcommands
// refuse an argument that names none of them: cobra checks this for the root
// only and otherwise prints the parent's help and succeeds, so a typo such as
// `scriptrun token tset` would pass silently in a script or CI step.
func refuseUnknownSubcommands(c *cobra.Command) {
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = unknownSubcommand
		c.SuggestionsMinimumDistance = 2
		c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
}

// unknownSubcommand is the usage error for an argument given to a command
// that only groups subcommands, with cobra's "did you mean" suggestions.
func unknownSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErr("%s\nsee `%s --help`", msg, c.CommandPath())
}

// shorthand turns `scriptrun FILE.js ARGS...` into `scriptrun run FILE.js
// ARGS...`: the first argument that is not a global flag is a script when it
// is not a command name and ends in .js, .mjs or .cjs.
func shorthand(args []string, root *cobra.Command) []string {
	i := firstCommandArg(args)
	if i < 0 || !isScriptFile(args[i]) {
		return args
	}
	if c, _, err := root.Find([]string{args[i]}); err == nil && c != root {
		return args
	}
	return withRun(args, i)
}

// firstCommandArg returns the index of the first argument that is neither
// a global flag nor its value, or -1 when there is none or it is another
// flag.
func firstCommandArg(args []string) int {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if slices.Contains(globalValueFlags, arg) {
			i++
			continue
		}
		if name, _, ok := strings.Cut(arg, "="); ok && slices.Contains(globalValueFlags, name) {
			continue
		}
		if strings.HasPrefix(arg, "-") {
			return -1
		}
		return i
	}
	return -1
}

// withRun returns args with "run" inserted before args[i].
func withRun(args []string, i int) []string {
	out := append([]string{}, args[:i]...)
	out = append(out, "run")
	return append(out, args[i:]...)
}

// isScriptFile reports whether arg names a script `scriptrun FILE` runs.
func isScriptFile(arg string) bool {
	for _, ext := range []string{".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"} {
		if strings.HasSuffix(arg, ext) {
			return true
		}
	}
	return false
}

// exactArgs is cobra.ExactArgs with a message that says what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s takes %s (got %d argument(s)); usage: %s", c.CommandPath(), what, len(args), c.UseLine())
		}
		return nil
	}
}

// noArgs refuses positional arguments.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("%s takes no arguments (got %q); usage: %s", c.CommandPath(), args, c.UseLine())
	}
	return nil
}
