package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/scriptrun/scriptrun/repl"
	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/store"
)

func newReplCmd(a *app) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "repl [--timeout DURATION]",
		Short: "Try calls interactively: JavaScript with http, fetch and your tokens",
		Long: `Starts a read-eval-print loop with the same JavaScript API and tokens as
scripts, for trying an API before scripting it:

  > const r = await fetch('https://graph.microsoft.com/v1.0/me', {apiTokenAuth: 'graph-mail'})
  > r.status

Top-level await, multi-line input, tab completion (names, properties, token
names in apiTokenAuth('…')), history in the home folder (lines that look like
they hold a secret are not saved), and .help, .load FILE, .save FILE, .tokens,
.clear, .exit. Ctrl-C cancels a running evaluation and its HTTP requests.
require() and .load read files in the current folder.

When standard input is not a terminal, each line is evaluated in turn and its
result printed, without prompts or colour:

  echo "http.get('https://example.com').send().status" | scriptrun repl

Exit codes: 0, or 1 when input that is not a terminal threw; 2 usage or
configuration error. NO_COLOR turns colours off.`,
		Args: noArgs,
	}
	c.Flags().DurationVar(&timeout, "timeout", 0, "limit each evaluation, e.g. 30s (default: none; Ctrl-C cancels)")
	c.RunE = func(*cobra.Command, []string) error {
		if timeout < 0 {
			return usageErr("--timeout %s is negative: use e.g. 30s, or 0 for none", timeout)
		}
		return a.repl(timeout)
	}
	return c
}

// repl runs the REPL on the program's standard streams.
func (a *app) repl(timeout time.Duration) error {
	folder, err := os.Getwd()
	if err != nil {
		return configErr("cannot tell the current folder, which require() and .load read from: %v", err)
	}
	stdin, inFile := a.stdio.In.(*os.File)
	stdout, outFile := a.stdio.Out.(*os.File)
	// liner edits on the process's own terminal, so only then is it interactive.
	terminal := inFile && outFile && stdin == os.Stdin && stdout == os.Stdout &&
		term.IsTerminal(int(stdin.Fd())) && term.IsTerminal(int(stdout.Fd()))
	opts := repl.Options{
		In:     a.stdio.In,
		Out:    a.stdio.Out,
		Err:    a.stdio.Err,
		Folder: folder,
		Tokens: a.replTokens,
		NewSession: func() (repl.Session, error) {
			s, err := runtime.NewSession(runtime.Options{
				Stdout:  a.stdio.Out,
				Stderr:  a.stdio.Err,
				Timeout: timeout,
				Signer:  lazySigner{a},
				Client:  scriptClient(),
				Folder:  folder,
			})
			if err != nil {
				return nil, configErr("%v", err)
			}
			return s, nil
		},
	}
	if terminal {
		opts.Terminal = true
		opts.Color = a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb"
		if w, _, err := term.GetSize(int(stdout.Fd())); err == nil {
			opts.Width = w
		}
		if home, err := a.homeDir(); err == nil {
			opts.HistoryFile = filepath.Join(home, "repl_history")
		}
	}
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt)
	defer signal.Stop(interrupts)
	opts.Interrupts = interrupts

	err = repl.Run(context.Background(), opts)
	var failed *repl.FailedError
	switch {
	case errors.As(err, &failed):
		return &exitError{code: exitScript, err: fmt.Errorf("repl: %v", failed)}
	case errors.Is(err, repl.ErrInterrupted):
		return &exitError{code: exitScript, err: errors.New("repl: interrupted")}
	}
	return err
}

// replTokens lists the stored tokens for .tokens and completion. A home
// without a database has no tokens; the REPL does not create one to say so.
func (a *app) replTokens(context.Context) ([]repl.TokenInfo, error) {
	home, err := a.homeDir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(home, "scriptrun.db")); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	db, _, err := a.open()
	if err != nil {
		return nil, err
	}
	var ts []store.Token
	if err := db.View(func(tx *store.Tx) (err error) {
		ts, err = tx.Tokens()
		_, err = store.DamagedRecords(err) // a damaged token cannot sign: not offered
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]repl.TokenInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, repl.TokenInfo{
			Name:        t.Name,
			Provider:    t.Provider,
			State:       string(t.State),
			Active:      t.Active,
			Expires:     t.Expires,
			BaseURL:     t.BaseURL,
			LastMessage: t.LastMessage,
		})
	}
	return out, nil
}
