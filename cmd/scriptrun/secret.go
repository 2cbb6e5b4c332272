package main

import (
	"bufio"
	"io"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// secretFlags are the only ways a client secret reaches scriptrun: standard
// input or a named environment variable. A plain argument would end up in
// shell history and in every `ps` listing.
type secretFlags struct {
	stdin bool
	env   string
	plain string // --client-secret, accepted only to be refused with advice
}

func (s *secretFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&s.stdin, "client-secret-stdin", false, "read the client secret from standard input (one line)")
	c.Flags().StringVar(&s.env, "client-secret-env", "", "read the client secret from this environment variable")
	c.Flags().StringVar(&s.plain, "client-secret", "", "not accepted: use --client-secret-stdin or --client-secret-env")
	c.Flags().MarkHidden("client-secret")
}

// given reports whether the command line supplies a secret.
func (s *secretFlags) given() bool { return s.stdin || s.env != "" }

// read returns the secret from stdin or the environment.
func (s *secretFlags) read(a *app) (string, error) {
	if s.plain != "" {
		return "", usageErr("--client-secret is not accepted: a secret on the command line ends up in shell history and process listings; use --client-secret-stdin (e.g. `pass show graph | scriptrun provider add ...`) or --client-secret-env VAR")
	}
	if s.stdin && s.env != "" {
		return "", usageErr("give the client secret once: --client-secret-stdin or --client-secret-env, not both")
	}
	if s.env != "" {
		return readEnvFlag(a, "client-secret-env", s.env)
	}
	if s.stdin {
		line, err := bufio.NewReader(io.LimitReader(a.stdio.In, 64<<10)).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", usageErr("--client-secret-stdin: reading standard input: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			return "", usageErr("--client-secret-stdin: standard input was empty: pipe the secret in, e.g. `printf %%s \"$SECRET\" | scriptrun ...`")
		}
		return line, nil
	}
	return "", nil
}

// envVarName is what a --…-env flag takes: the name of a variable.
var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)

// conventionalEnvName is a name safe to repeat in a message. A name in
// other letters may be a pasted secret that happens to fit envVarName.
var conventionalEnvName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,63}$`)

// readEnvFlag returns the value of the variable a --…-env flag names. What
// is not a variable name is refused without being repeated: people paste
// the secret itself there, and messages end up in terminals and CI logs.
func readEnvFlag(a *app, flag, name string) (string, error) {
	if !envVarName.MatchString(name) {
		return "", usageErr("--%s takes the NAME of an environment variable (letters, digits, _), not its value; the value given was not shown", flag)
	}
	v := a.getenv(name)
	if v == "" {
		if !conventionalEnvName.MatchString(name) {
			return "", usageErr("--%s: the environment variable it names is empty or not set (the name is not shown: it is not in UPPER_CASE and may be the secret itself; --%s takes the variable's NAME)", flag, flag)
		}
		return "", usageErr("--%s %s: that environment variable is empty or not set", flag, name)
	}
	return v, nil
}
