package main

import (
	"bufio"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// credFlag is one credential of a token (a password, an API key, a bearer
// token, an HMAC API token or secret). Like a provider's client secret it
// comes only from standard input (--NAME-stdin) or a named environment
// variable (--NAME-env): a plain --NAME VALUE would end up in shell history
// and process listings, and is refused without repeating the value.
type credFlag struct {
	name  string // the flag stem, e.g. "password"
	what  string // in words, e.g. "the password"
	stdin bool
	env   string
	plain string
}

func (f *credFlag) register(c *cobra.Command, name, what string) {
	f.name, f.what = name, what
	c.Flags().BoolVar(&f.stdin, name+"-stdin", false, "read "+what+" from standard input (one line)")
	c.Flags().StringVar(&f.env, name+"-env", "", "read "+what+" from this environment variable")
	c.Flags().StringVar(&f.plain, name, "", "not accepted: use --"+name+"-stdin or --"+name+"-env")
	c.Flags().MarkHidden(name)
}

// flags lists the flag names that carry this credential.
func (f *credFlag) flags() []string { return []string{f.name + "-stdin", f.name + "-env", f.name} }

// given reports whether the command line supplies the credential.
func (f *credFlag) given() bool { return f.stdin || f.env != "" || f.plain != "" }

// read returns the credential from stdin or the environment ("" when not
// given). stdinTaken tells whether another credential already read
// standard input, which holds one line for one credential.
func (f *credFlag) read(a *app, stdinTaken *bool) (string, error) {
	if f.plain != "" {
		return "", usageErr("--%s is not accepted: a secret on the command line ends up in shell history and process listings; use --%s-stdin (e.g. `pass show api | scriptrun token ...`) or --%s-env VAR", f.name, f.name, f.name)
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
	line, err := bufio.NewReader(io.LimitReader(a.stdio.In, 64<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", usageErr("--%s-stdin: reading standard input: %v", f.name, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(line) == "" {
		return "", usageErr("--%s-stdin: standard input was empty: pipe %s in, e.g. `printf %%s \"$SECRET\" | scriptrun token ...`", f.name, f.what)
	}
	return line, nil
}
