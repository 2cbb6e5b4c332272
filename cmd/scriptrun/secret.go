package main

import (
	"bufio"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// credFlag is one secret on the command line: a provider's client secret,
// or a part of a token's credential (a password, an API key, a bearer
// token, an HMAC API token or secret). It comes only from standard input
// (--NAME-stdin) or a named environment variable (--NAME-env): a plain
// --NAME VALUE would end up in shell history and process listings, and is
// refused without repeating the value.
type credFlag struct {
	name  string // the flag stem, e.g. "password"
	what  string // in words, e.g. "the password"
	cmd   *cobra.Command
	stdin bool
	env   string
	plain string
}

func (f *credFlag) register(c *cobra.Command, name, what string) {
	f.name, f.what, f.cmd = name, what, c
	c.Flags().BoolVar(&f.stdin, name+"-stdin", false, "read "+what+" from standard input (one line)")
	c.Flags().StringVar(&f.env, name+"-env", "", "read "+what+" from this environment variable")
	c.Flags().StringVar(&f.plain, name, "", "not accepted: use --"+name+"-stdin or --"+name+"-env")
	c.Flags().MarkHidden(name)
}

// read returns the secret from stdin or the environment ("" when not
// given). stdinTaken tells whether another secret already read standard
// input, which holds one line for one secret.
func (f *credFlag) read(a *app, stdinTaken *bool) (string, error) {
	if f.plain != "" {
		return "", usageErr("--%s is not accepted: a secret on the command line ends up in shell history and process listings; use --%s-stdin (e.g. `pass show api | %s ...`) or --%s-env VAR", f.name, f.name, f.cmd.CommandPath(), f.name)
	}
	if f.stdin && f.env != "" {
		return "", usageErr("give %s once: --%s-stdin or --%s-env, not both", f.what, f.name, f.name)
	}
	if f.env != "" {
		return readEnvFlag(a, f.name+"-env", f.env)
	}
	if !f.stdin {
		return "", nil
	}
	if *stdinTaken {
		return "", usageErr("--%s-stdin: standard input already holds another secret; give this one with --%s-env VAR", f.name, f.name)
	}
	*stdinTaken = true
	line, err := readLine(a.stdio.In, 64<<10)
	if err != nil {
		return "", usageErr("--%s-stdin: reading standard input: %v", f.name, err)
	}
	if strings.TrimSpace(line) == "" {
		return "", usageErr("--%s-stdin: standard input was empty: pipe %s in, e.g. `printf %%s \"$SECRET\" | %s ...`", f.name, f.what, f.cmd.CommandPath())
	}
	return line, nil
}

// readLine reads one line of at most limit bytes from in, without its line
// break: how every secret and password is read from standard input.
func readLine(in io.Reader, limit int64) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(in, limit)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// envVarName is what a --…-env flag takes: the name of a variable.
var envVarName = lazy.Regexp{Expr: `^[A-Za-z_][A-Za-z0-9_]{0,254}$`}

// conventionalEnvName is a name safe to repeat in a message. A name in
// other letters may be a pasted secret that happens to fit envVarName.
var conventionalEnvName = lazy.Regexp{Expr: `^[A-Z_][A-Z0-9_]{0,63}$`}

// readEnvFlag returns the value of the variable a --…-env flag names. What
// is not a variable name is refused without being repeated: people paste
// the secret itself there, and messages end up in terminals and CI logs.
func readEnvFlag(a *app, flag, name string) (string, error) {
	if !envVarName.Get().MatchString(name) {
		return "", usageErr("--%s takes the NAME of an environment variable (letters, digits, _), not its value; the value given was not shown", flag)
	}
	v := a.getenv(name)
	if v == "" {
		if !conventionalEnvName.Get().MatchString(name) {
			return "", usageErr("--%s: the environment variable it names is empty or not set (the name is not shown: it is not in UPPER_CASE and may be the secret itself; --%s takes the variable's NAME)", flag, flag)
		}
		return "", usageErr("--%s %s: that environment variable is empty or not set", flag, name)
	}
	return v, nil
}
