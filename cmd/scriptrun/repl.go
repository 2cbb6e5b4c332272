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
	var maxMemory string
	c := &cobra.Command{
		Use:   "repl [--timeout DURATION] [--max-memory SIZE]",
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

--timeout limits each evaluation and is a hard deadline: an evaluation busy
in a built-in call that cannot be interrupted (a huge Array.prototype.fill,
JSON.stringify of deep nesting, a backtracking regular expression) ends the
REPL at most 1 s later, with exit code 124; Ctrl-C in that state ends it
with 130. --max-memory (default 2GiB; 0 for none) caps the memory the
session's data may use: an evaluation that goes over it stops with a
MemoryError, or ends the REPL (exit 1) if it is inside such a built-in.

Exit codes: 0, or 1 when input that is not a terminal threw; 2 usage or
configuration error; 124 and 130 as above. NO_COLOR turns colours off.`,
		Args: noArgs,
	}
	c.Flags().DurationVar(&timeout, "timeout", 0, "limit each evaluation, e.g. 30s (default: none; Ctrl-C cancels)")
	c.Flags().StringVar(&maxMemory, "max-memory", "2GiB", "cap the session's memory, e.g. 512MiB, 1.5GB, or 0 for none")
	c.RunE = func(*cobra.Command, []string) error {
		if timeout < 0 {
			return usageErr("--timeout %s is negative: use e.g. 30s, or 0 for none", timeout)
		}
		n, err := parseMaxMemory(maxMemory)
		if err != nil {
			return err
		}
		return a.repl(scriptLimits{timeout: timeout, maxMemory: n})
	}
	return c
}

// repl runs the REPL on the program's standard streams. As with runScript,
// a stop that an uninterruptible built-in ignores ends the process (exitStuck).
func (a *app) repl(limits scriptLimits) error {
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
				Stdout:    a.stdio.Out,
				Stderr:    a.stdio.Err,
				Timeout:   limits.timeout,
				MaxMemory: limits.maxMemory,
				Stuck:     a.exitStuck,
				Signer:    lazySigner{a},
				Client:    a.scriptClient(),
				Folder:    folder,
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
	defer a.tuneGC(limits.maxMemory)()
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
	loc, err := a.storeLocation()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(loc); errors.Is(err, fs.ErrNotExist) && !store.IsURL(loc) {
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
