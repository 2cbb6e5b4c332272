package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

// command is a dot-command. run returns true to leave the REPL.
type command struct {
	name, args, help string
	run              func(r *repl, ctx context.Context, arg string) bool
}

// commands returns the REPL's dot-commands, in the order .help lists them.
// A function, not a variable: .help lists them, so a variable would have to
// be set by an init function, at every start of every command.
func commands() []command {
	return []command{
		{"break", "", "abandon the input being typed over several lines", func(*repl, context.Context, string) bool { return false }},
		{"clear", "", "start a fresh session: globals, _ and what .save writes are reset", (*repl).clear},
		{"editor", "", "enter the editor mode: type lines, Ctrl-D runs them as one input, Ctrl-C cancels", (*repl).editor},
		{"exit", "", "leave the REPL (also Ctrl-D, or Ctrl-C twice)", func(*repl, context.Context, string) bool { return true }},
		{"help", "", "show this help", (*repl).help},
		{"load", "FILE", "run a .js or .ts file from this folder in the session (the folder rule of require)", (*repl).load},
		{"save", "FILE", "write the inputs that ran without error to FILE, as a script", (*repl).save},
		{"tokens", "", "list the stored tokens: name, state, expiry (never secrets)", (*repl).tokens},
	}
}

// parseCommand recognises a dot-command line: a known command name after a
// dot at the start of the line, then its argument.
func parseCommand(line string) (command, string, bool) {
	t := strings.TrimSpace(line)
	if !strings.HasPrefix(t, ".") {
		return command{}, "", false
	}
	name, arg, _ := strings.Cut(t[1:], " ")
	for _, c := range commands() {
		if c.name == name {
			return c, strings.TrimSpace(arg), true
		}
	}
	return command{}, "", false
}

// editor reads lines until Ctrl-D (or the end of the input) and evaluates
// them as one input, as Node's .editor does; Ctrl-C drops them. No line is
// evaluated on its own and none is taken as a dot-command.
func (r *repl) editor(ctx context.Context, _ string) bool {
	fmt.Fprintln(r.opts.Out, "// Entering editor mode (Ctrl+D to finish, Ctrl+C to cancel)")
	r.reader.Editor(true)
	defer r.reader.Editor(false)
	var lines []string
	for done := false; !done; {
		in, err := r.reader.ReadLine(ctx, "")
		switch {
		case errors.Is(err, errAborted) || errors.Is(err, errCleared):
			return false
		case errors.Is(err, io.EOF):
			done = true
		case err != nil:
			return false
		default:
			for l := range strings.SplitSeq(in.text, "\n") {
				r.reader.AddHistory(l)
			}
			if done = in.finish; !done || in.text != "" {
				lines = append(lines, in.text)
			}
		}
	}
	if strings.TrimSpace(strings.Join(lines, "\n")) != "" {
		r.eval(ctx, strings.Join(lines, "\n"), lines)
	}
	return false
}

func (r *repl) help(context.Context, string) bool {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, ".%s %s\t%s\n", c.name, c.args, c.help)
	}
	tw.Flush()
	b.WriteString(`
Type JavaScript: results print as they would in Node, and top-level await works:
  const r = await fetch('https://api.example.com/me', {apiTokenAuth: 'my-token'})
  http.get('https://api.example.com/me').apiTokenAuth('my-token').send()
_ holds the last value, _error the last error. A line that is not complete
(an open bracket, a trailing dot or operator) continues on the next line.

A paste is one input, run as pasted. Typed, a line that starts with a dot and
a name (.send()) continues the last input on the value it produced, or on the
variable it declared or assigned, without running it again:
  const res = http.get(u)
    .apiTokenAuth('my-token')      res is now the builder with the token
    .send()                        and now the response
It needs the last input to have run and to end without a semicolon. A dot and
a command's name alone (.help) is the command.

Keys: Tab completes names, properties, request builder methods and token names
in apiTokenAuth('…'); Up, Down and Ctrl-R search the history; Ctrl-C cancels a
running evaluation and its HTTP requests, or clears the line; Ctrl-C twice on
an empty line, or Ctrl-D on an empty line, leaves. Lines that look like they
hold a secret (a bearer token, a password, …) or start with a space are not
saved in the history.
`)
	fmt.Fprint(r.opts.Out, b.String())
	return false
}

// clear replaces the session with a fresh one.
func (r *repl) clear(context.Context, string) bool {
	s, err := r.opts.NewSession()
	if err != nil {
		r.commandError("Cannot start a new session: " + err.Error())
		return false
	}
	r.sessMu.Lock()
	old := r.sess
	r.sess = s
	r.sessMu.Unlock()
	old.Close()
	r.inputs = nil
	fmt.Fprintln(r.opts.Out, "Cleared: a fresh session.")
	return false
}

// load runs a file in the session.
func (r *repl) load(ctx context.Context, arg string) bool {
	if arg == "" {
		r.commandError("Usage: .load FILE (a .js or .ts file in this folder)")
		return false
	}
	v, err := r.run(ctx, func(ctx context.Context) (*runtime.Value, error) { return r.session().Load(ctx, arg) })
	if err == nil {
		r.inputs = append(r.inputs, "// .load "+arg)
		r.lastTyped = false
	}
	r.show(v, err)
	return false
}

// save writes the inputs that ran without error.
func (r *repl) save(_ context.Context, arg string) bool {
	if arg == "" {
		r.commandError("Usage: .save FILE")
		return false
	}
	path := arg
	if !filepath.IsAbs(path) {
		path = filepath.Join(r.opts.Folder, path)
	}
	content := strings.Join(r.inputs, "\n")
	if content != "" {
		content += "\n"
	}
	// 0600: what was typed may include data the user would not share.
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		r.commandError("Cannot save: " + err.Error())
		return false
	}
	fmt.Fprintf(r.opts.Out, "Saved %d inputs to %s\n", len(r.inputs), arg)
	return false
}

// tokens lists the stored tokens.
func (r *repl) tokens(ctx context.Context, _ string) bool {
	if r.opts.Tokens == nil {
		fmt.Fprintln(r.opts.Out, "No token store.")
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := r.opts.Tokens(ctx)
	if err != nil {
		r.commandError("Cannot list tokens: " + err.Error())
		return false
	}
	if len(list) == 0 {
		fmt.Fprintln(r.opts.Out, "No tokens yet: add one with `scriptrun token add NAME --provider P`, then `scriptrun token authorize NAME`.")
		return false
	}
	now := r.opts.Now()
	tw := tabwriter.NewWriter(r.opts.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tEXPIRES\tBASE URL\tLAST MESSAGE")
	for _, t := range list {
		state := t.State
		if !t.Active {
			state += " (inactive)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, state, dash(expiry(t.Expires, now)), dash(t.BaseURL), dash(oneLine(t.LastMessage, 60)))
	}
	tw.Flush()
	return false
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// expiry says when a token expires in words: "in 42m", "3h ago".
func expiry(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	word, suffix := "in ", ""
	if d < 0 {
		d, word, suffix = -d, "expired ", " ago"
	}
	switch {
	case d < time.Minute:
		d = d.Round(time.Second)
	case d < time.Hour:
		d = d.Round(time.Minute)
	default:
		d = d.Round(time.Hour)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
	if s == "" {
		s = "0s"
	}
	return word + s + suffix
}
