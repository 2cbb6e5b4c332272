package main

import (
	"bufio"
	"io"
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
		v := a.getenv(s.env)
		if v == "" {
			return "", usageErr("--client-secret-env %s: that environment variable is empty or not set", s.env)
		}
		return v, nil
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
