package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

// Session is the JavaScript session a REPL drives; *runtime.Session
// implements it.
type Session interface {
	// Eval evaluates one input and describes its value.
	Eval(ctx context.Context, src string) (*runtime.Value, error)
	// Load evaluates a file from the session's folder.
	Load(ctx context.Context, path string) (*runtime.Value, error)
	// Continue evaluates a line that starts with a dot as the continuation
	// of the last input (runtime.ErrNoContinuation when there is none).
	Continue(ctx context.Context, line string) (*runtime.Value, error)
	// Names lists what can follow expr and a dot (globals for "").
	Names(ctx context.Context, expr string) ([]string, error)
	Close() error
}

var _ Session = (*runtime.Session)(nil)

// TokenInfo is what .tokens shows of a stored token, and completion uses:
// never its secrets.
type TokenInfo struct {
	Name, Provider string
	State          string // unauthorized, authorized, reauth_required
	Active         bool
	Expires        time.Time // zero when the provider gave no expiry
	BaseURL        string
	LastMessage    string
}

// Options configures Run.
type Options struct {
	// NewSession starts the JavaScript session; Run calls it at the start
	// and again for .clear.
	NewSession func() (Session, error)
	// Tokens lists the stored tokens for .tokens and for completing token
	// names; nil means there is no token store.
	Tokens func(context.Context) ([]TokenInfo, error)

	// In is read when Terminal is false; Out receives results and Err errors.
	In       io.Reader
	Out, Err io.Writer
	// Terminal makes the REPL interactive: it reads the process's terminal
	// with line editing, history and completion, and shows prompts. It
	// requires standard input and output to be a terminal.
	Terminal bool
	// Color prints values in colour.
	Color bool
	// Width is the width values are laid out in; 0 means 80.
	Width int
	// HistoryFile is where an interactive REPL keeps its history; "" keeps none.
	HistoryFile string
	// Folder is the folder .load and .save resolve names in (the session's
	// folder, where require() reads files too).
	Folder string
	// Interrupts delivers Ctrl-C while an evaluation runs (SIGINT): it
	// cancels the evaluation, including its HTTP requests. Without a
	// terminal it also stops reading input.
	Interrupts <-chan os.Signal
	// Now is the clock for token expiry in .tokens; nil means time.Now.
	Now func() time.Time
}

// ErrInterrupted is returned by Run when Ctrl-C stopped a REPL reading
// input that is not a terminal.
var ErrInterrupted = errors.New("repl: interrupted")

// FailedError is returned by Run when input that is not a terminal threw:
// the REPL ran every input and printed each error, and its exit code must
// say that something failed.
type FailedError struct {
	Failed, Total int // inputs that threw, and inputs evaluated
}

// Error says how many inputs failed.
func (e *FailedError) Error() string {
	return fmt.Sprintf("%d of %d inputs failed", e.Failed, e.Total)
}

const (
	prompt       = "> "
	continuation = "... "
	exitHint     = "(To exit, press Ctrl+C again or Ctrl+D or type .exit)"
)

// repl is one running REPL.
type repl struct {
	opts    Options
	printer Printer
	reader  lineReader
	history *history
	comp    *completer

	sessMu sync.Mutex
	sess   Session

	inputs          []string // that ran without error, for .save
	failed, total   int
	lastTyped       bool // the last input was typed and ran: .save adds its continuations to it
	historyWarned   bool
	interruptedEval bool

	mu         sync.Mutex
	cancelEval context.CancelFunc // while an evaluation runs
	stopRun    context.CancelFunc // stops reading input that is not a terminal
	stopped    bool
}

// Run runs the REPL until the input ends, .exit, or (on a terminal) Ctrl-D
// or Ctrl-C twice. Without a terminal it evaluates In line by line (lines
// that leave an input incomplete are joined with the next ones), prints
// each result but undefined to Out and each error to Err, and returns a
// *FailedError when any input threw.
func Run(ctx context.Context, opts Options) error {
	return run(ctx, opts, nil)
}

// run is Run with a line reader of the caller's choice (tests); nil picks
// the terminal or the plain reader.
func run(ctx context.Context, opts Options, reader lineReader) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Err == nil {
		opts.Err = io.Discard
	}
	if opts.In == nil {
		opts.In = strings.NewReader("")
	}
	sess, err := opts.NewSession()
	if err != nil {
		return err
	}
	r := &repl{opts: opts, sess: sess, printer: Printer{Color: opts.Color, Width: opts.Width}}
	defer func() { r.session().Close() }()
	r.comp = &completer{session: r.session, tokens: opts.Tokens, folder: opts.Folder, now: opts.Now}
	for _, c := range commands() {
		r.comp.commands = append(r.comp.commands, "."+c.name)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.stopRun = cancel
	var past []string
	if opts.Terminal && opts.HistoryFile != "" {
		r.history = &history{path: opts.HistoryFile}
		if past, err = r.history.load(); err != nil {
			fmt.Fprintf(opts.Err, "scriptrun: %v; this session's history will not be kept\n", err)
			r.history = nil
		}
	}
	switch {
	case reader != nil:
		for _, l := range past {
			reader.AddHistory(l)
		}
	case opts.Terminal:
		if reader, err = newTerminalReader(r.comp.complete, past); err != nil {
			return err
		}
	default:
		reader = newPlainReader(opts.In)
	}
	r.reader = reader
	defer r.reader.Close()
	if opts.Terminal {
		fmt.Fprintln(opts.Out, "scriptrun REPL: JavaScript with http, fetch and your tokens. .help for help, Ctrl-D to leave.")
	}

	done := make(chan struct{})
	defer close(done)
	go r.watchInterrupts(done)

	err = r.loop(ctx)
	if r.history != nil {
		_ = r.history.trim()
	}
	switch {
	case err != nil:
		return err
	case !opts.Terminal && r.failed > 0:
		return &FailedError{Failed: r.failed, Total: r.total}
	}
	return nil
}

func (r *repl) session() Session {
	r.sessMu.Lock()
	defer r.sessMu.Unlock()
	return r.sess
}

// watchInterrupts handles Ctrl-C that arrives as a signal: while an
// evaluation runs it is cancelled; without a terminal, reading stops too.
func (r *repl) watchInterrupts(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case _, ok := <-r.opts.Interrupts:
			if !ok {
				return
			}
			r.mu.Lock()
			if r.cancelEval != nil {
				r.cancelEval()
				r.interruptedEval = true
			}
			if !r.opts.Terminal {
				r.stopped = true
				r.stopRun()
			} else if r.cancelEval == nil {
				// Only reached when the terminal is not one liner can edit on.
				fmt.Fprintln(r.opts.Err, "\n(To exit, press Ctrl+D or type .exit)")
			}
			r.mu.Unlock()
		}
	}
}

// loop reads and evaluates input until it ends.
func (r *repl) loop(ctx context.Context) error {
	var pending []string // lines of an input that is not complete yet
	armed := false       // Ctrl-C was pressed on an empty prompt
	open := false        // the last line read was a paste that goes on in the editor
	cont := false        // pending continues the last input (its first line starts with a dot)
	for {
		p := prompt
		if len(pending) > 0 {
			p = continuation
		}
		in, err := r.reader.ReadLine(ctx, p)
		switch {
		case errors.Is(err, io.EOF):
			if len(pending) > 0 && !r.opts.Terminal {
				r.eval(ctx, strings.Join(pending, "\n"), pending) // reports the syntax error
			}
			if r.opts.Terminal {
				fmt.Fprintln(r.opts.Out)
			}
			return nil
		case errors.Is(err, errCleared):
			// Ctrl-C on a line with text drops it (and the input it
			// continued) and never leaves.
			pending, armed, open = nil, false, false
			continue
		case errors.Is(err, errAborted):
			if len(pending) > 0 {
				pending, armed, open = nil, false, false
				continue
			}
			if armed {
				return nil
			}
			armed = true
			fmt.Fprintln(r.opts.Out, exitHint)
			continue
		case err != nil:
			if r.isStopped() {
				return ErrInterrupted
			}
			return err
		}
		armed = false
		line := in.text
		for l := range strings.SplitSeq(line, "\n") {
			r.reader.AddHistory(l)
		}

		// A dot-command is a line of its own: never part of a paste.
		if cmd, arg, ok := parseCommand(line); ok && !in.paste && !open && (len(pending) == 0 || cmd.name == "break" || cmd.name == "exit") {
			if cmd.name == "break" {
				pending = nil
			}
			r.remember([]string{line})
			if cmd.run(r, ctx, arg) {
				return nil
			}
			if r.isStopped() {
				return ErrInterrupted
			}
			continue
		}
		if len(pending) == 0 {
			cont = !in.paste && continues(line)
		}
		pending = append(pending, line)
		if open = in.open; open {
			continue // the paste's last line is being finished in the editor
		}
		src := strings.Join(pending, "\n")
		if strings.TrimSpace(src) == "" {
			pending = nil
			continue
		}
		// A continuation is complete when it would be after any value.
		if cont && runtime.Incomplete("_"+src) || !cont && runtime.Incomplete(src) {
			continue
		}
		lines := pending
		pending = nil
		if cont {
			r.continueWith(ctx, src, lines)
		} else {
			r.eval(ctx, src, lines)
		}
		if r.isStopped() {
			return ErrInterrupted
		}
	}
}

// commandError prints the failure of a dot-command; like an input that
// threw, it makes a REPL without a terminal exit with 1.
func (r *repl) commandError(msg string) {
	r.failed++
	r.total++
	fmt.Fprintln(r.opts.Err, r.printer.Error(msg))
}

// continues reports whether a line that is not a dot-command continues
// the last input: after its indentation, a dot and the start of a name
// (.send(), .status). A line starting with a dot and a digit is a number.
func continues(line string) bool {
	t := strings.TrimLeft(line, " \t")
	return len(t) > 1 && t[0] == '.' && (isLetter(t[1]) || t[1] == '_' || t[1] == '$')
}

// continueWith evaluates a line that starts with a dot as the continuation
// of the last input, and keeps it with that input for .save, so that the
// saved script holds the chain as typed.
func (r *repl) continueWith(ctx context.Context, src string, lines []string) {
	r.remember(lines)
	v, err := r.run(ctx, func(ctx context.Context) (*runtime.Value, error) { return r.session().Continue(ctx, src) })
	if errors.Is(err, runtime.ErrNoContinuation) {
		word, _, _ := strings.Cut(strings.TrimLeft(lines[0], " \t")[1:], " ")
		fmt.Fprintln(r.opts.Err, r.printer.Error(fmt.Sprintf("Unknown REPL command .%s; .help lists them. "+
			"(A line starting with a dot continues the last input only if it ran without error and ended with a value, without a semicolon.)", word)))
		return
	}
	if err == nil {
		if r.lastTyped && len(r.inputs) > 0 {
			r.inputs[len(r.inputs)-1] += "\n" + src
		} else {
			r.inputs = append(r.inputs, src)
		}
	}
	r.show(v, err)
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func (r *repl) isStopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped
}

// remember writes an input's lines to the history file (unless they look
// secret).
func (r *repl) remember(lines []string) {
	if r.history == nil {
		return
	}
	if err := r.history.add(lines); err != nil && !r.historyWarned {
		r.historyWarned = true
		fmt.Fprintf(r.opts.Err, "scriptrun: %v; history is not being saved\n", err)
	}
}

// eval evaluates one input and prints its value or error.
func (r *repl) eval(ctx context.Context, src string, lines []string) {
	r.remember(lines)
	v, err := r.run(ctx, func(ctx context.Context) (*runtime.Value, error) { return r.session().Eval(ctx, src) })
	if err == nil {
		r.inputs = append(r.inputs, src)
	}
	r.lastTyped = err == nil
	r.show(v, err)
}

// run runs one evaluation that Ctrl-C can cancel.
func (r *repl) run(ctx context.Context, f func(context.Context) (*runtime.Value, error)) (*runtime.Value, error) {
	evalCtx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	r.cancelEval, r.interruptedEval = cancel, false
	r.mu.Unlock()
	v, err := f(evalCtx)
	r.mu.Lock()
	r.cancelEval = nil
	interrupted := r.interruptedEval
	r.mu.Unlock()
	cancel()
	if err != nil && interrupted && errors.Is(err, context.Canceled) {
		err = errInterruptedEval
	}
	r.total++
	if err != nil {
		r.failed++
	}
	return v, err
}

// errInterruptedEval is an evaluation cancelled by Ctrl-C; errorText words
// it for the prompt.
var errInterruptedEval = errors.New("repl: evaluation interrupted (Ctrl-C)")

// show prints a value, or an error.
func (r *repl) show(v *runtime.Value, err error) {
	if err != nil {
		fmt.Fprintln(r.opts.Err, r.printer.Error(errorText(err)))
		return
	}
	if !r.opts.Terminal && (v == nil || v.Kind == runtime.KindUndefined) {
		return // automation wants results, not undefined after every statement
	}
	fmt.Fprintln(r.opts.Out, r.printer.Value(v))
}

// errorText renders an evaluation's error as Node's REPL does.
func errorText(err error) string {
	var se *runtime.ScriptError
	var ce *runtime.CompileError
	var te *runtime.TimeoutError
	switch {
	case errors.Is(err, errInterruptedEval):
		return "Interrupted (Ctrl-C): the evaluation and its requests were cancelled"
	case errors.As(err, &se):
		return "Uncaught " + strings.TrimPrefix(se.Error(), "Uncaught ")
	case errors.As(err, &ce):
		return ce.Error()
	case errors.As(err, &te) && te.Timeout > 0:
		return fmt.Sprintf("Timed out after %s (--timeout): the evaluation and its requests were cancelled", te.Timeout)
	case errors.As(err, &te):
		return "Timed out: " + te.Error()
	case errors.Is(err, runtime.ErrSessionClosed):
		return "The session is closed."
	}
	return err.Error()
}
