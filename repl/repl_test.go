package repl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

// syncBuffer is a bytes.Buffer that the session's goroutine and the test
// may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// scripted is a lineReader that replays lines as a person would type them
// at a terminal. An error in lines is returned instead of a line; a func()
// is called (to act while the REPL waits) and skipped.
type scripted struct {
	mu      sync.Mutex
	lines   []any
	prompts []string
	history []string
	editor  []bool // calls of Editor
}

func (s *scripted) ReadLine(_ context.Context, prompt string) (input, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prompts = append(s.prompts, prompt)
	for len(s.lines) > 0 {
		next := s.lines[0]
		s.lines = s.lines[1:]
		switch x := next.(type) {
		case string:
			return input{text: x}, nil
		case input:
			return x, nil
		case error:
			return input{}, x
		case func():
			x()
		}
	}
	return input{}, io.EOF
}

func (s *scripted) Editor(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.editor = append(s.editor, on)
}

func (s *scripted) AddHistory(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = append(s.history, line)
}

func (s *scripted) Close() error { return nil }

// harness runs a REPL on real sessions.
type harness struct {
	t        *testing.T
	opts     Options
	out, err syncBuffer
	sessions int
}

func newHarness(t *testing.T, sessionOpts runtime.Options) *harness {
	h := &harness{t: t}
	h.opts = Options{
		Out: &h.out,
		Err: &h.err,
		NewSession: func() (Session, error) {
			h.sessions++
			o := sessionOpts
			o.Stdout, o.Stderr = &h.out, &h.err
			return runtime.NewSession(o)
		},
	}
	return h
}

// interactive runs the REPL as on a terminal with the scripted input.
func (h *harness) interactive(in *scripted) error {
	h.t.Helper()
	h.opts.Terminal = true
	return run(context.Background(), h.opts, in)
}

// piped runs the REPL on input that is not a terminal.
func (h *harness) piped(input string) error {
	h.t.Helper()
	h.opts.Terminal = false
	h.opts.In = strings.NewReader(input)
	return run(context.Background(), h.opts, nil)
}

func TestMultiLineAndPrompts(t *testing.T) {
	h := newHarness(t, runtime.Options{})
	in := &scripted{lines: []any{
		"function add(a, b) {",
		"  return a + b",
		"}",
		"add(2, 3)",
		"const o = {",
		"  a: [1,",
		".break",
		"typeof o",
		"`multi",
		"line`",
		"1 +",
		"",
		"2",
	}}
	if err := h.interactive(in); err != nil {
		t.Fatal(err)
	}
	want := []string{"> ", "... ", "... ", "> ", "> ", "... ", "... ", "> ", "> ", "... ", "> ", "... ", "... ", "> "}
	if strings.Join(in.prompts, "|") != strings.Join(want, "|") {
		t.Errorf("prompts %q, want %q", in.prompts, want)
	}
	out := h.out.String()
	for _, w := range []string{"5\n", "'undefined'\n", "'multi\\nline'\n", "3\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if len(in.history) != len(want)-1 {
		t.Errorf("history has %d lines, want every line typed (%d): %q", len(in.history), len(want)-1, in.history)
	}
}

func TestCtrlCAtThePrompt(t *testing.T) {
	h := newHarness(t, runtime.Options{})
	in := &scripted{lines: []any{
		"const x = {", errAborted, // abandons the multi-line input
		"'after'", errAborted, "'still here'", // one Ctrl-C only arms the exit
		errAborted, errAborted, // twice in a row: leave
		"'never read'",
	}}
	if err := h.interactive(in); err != nil {
		t.Fatal(err)
	}
	out := h.out.String()
	if !strings.Contains(out, "'after'") || !strings.Contains(out, "'still here'") || strings.Contains(out, "never") {
		t.Errorf("output:\n%s", out)
	}
	if strings.Count(out, exitHint) != 2 {
		t.Errorf("want the exit hint twice:\n%s", out)
	}
	if in.prompts[1] != "... " || in.prompts[2] != "> " {
		t.Errorf("Ctrl-C did not abandon the multi-line input: prompts %q", in.prompts)
	}
}

// Ctrl-C on a line with text drops the line and never arms the exit, even
// when it comes right after one on an empty line.
func TestCtrlCClearsALine(t *testing.T) {
	h := newHarness(t, runtime.Options{})
	in := &scripted{lines: []any{
		errCleared, errCleared, errCleared, // as often as you like
		errAborted, errCleared, errAborted, // the clear disarms
		"'still here'",
		"[1,", errCleared, "'fresh'", // drops the pending input too
	}}
	if err := h.interactive(in); err != nil {
		t.Fatal(err)
	}
	out := h.out.String()
	if !strings.Contains(out, "'still here'") || !strings.Contains(out, "'fresh'") {
		t.Errorf("Ctrl-C on a line with text ended the REPL or kept the input:\n%s", out)
	}
	if got := strings.Count(out, exitHint); got != 2 {
		t.Errorf("exit hint shown %d times, want 2 (once per Ctrl-C on an empty line):\n%s", got, out)
	}
}

// A paste is one input: its lines are not evaluated one by one, dot-commands
// in it are not commands, and one that ends without a line break waits for
// its last line.
func TestPaste(t *testing.T) {
	h := newHarness(t, runtime.Options{})
	in := &scripted{lines: []any{
		input{text: "const s = [3, 1, 2]\n  .sort()\n  .join('-')\ns + '!'", paste: true},
		input{text: "const n = [1, 2]", paste: true, open: true},
		"  .length", // the paste's last line, finished in the editor
		"n",
		input{text: ".help", paste: true}, // JavaScript, not the command
	}}
	if err := h.interactive(in); err != nil {
		t.Fatal(err)
	}
	out, errs := h.out.String(), h.err.String()
	for _, want := range []string{"'1-2-3!'", "2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "dot-commands") || !strings.Contains(errs, "SyntaxError") {
		t.Errorf("a pasted .help ran the command, or did not fail as JavaScript: %s\n%s", out, errs)
	}
	if want := []string{"> ", "> ", "... ", "> ", "> ", "> "}; !slices.Equal(in.prompts, want) {
		t.Errorf("prompts %q, want %q", in.prompts, want)
	}
	if !slices.Contains(in.history, "  .sort()") {
		t.Errorf("the paste's lines are not in the history one by one: %q", in.history)
	}
}

// A line that starts with a dot continues the last input, on its value:
// the input is not run again.
func TestLeadingDotContinues(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, runtime.Options{Folder: dir})
	h.opts.Folder = dir
	in := &scripted{lines: []any{
		"const counter = { hits: 0, hit() { this.hits++; return this } }",
		"counter.hit()",
		"  .hit()", // on the value: hit() is not called again
		"counter.hits",
		"const s = 'ab'",
		"  .toUpperCase()", // s takes the result
		"s",
		"[1, 2]",
		".map(n =>", // a continuation over several lines
		"  n * 10)",
		".nope()", // fails: the last input stays [10, 20]
		".length", //
		".help",   // a dot-command stays one
		"'x';",    // a semicolon ends it
		".length", // so this is not JavaScript
		".save s.js",
	}}
	if err := h.interactive(in); err != nil {
		t.Fatal(err)
	}
	out, errs := h.out.String(), h.err.String()
	for _, want := range []string{"2\n", "'AB'", "[ 10, 20 ]", "show this help"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hits: 3") || !strings.Contains(out, "\n2\n") {
		t.Errorf("the continued input ran again:\n%s", out)
	}
	for _, want := range []string{"has no member 'nope'", "Unknown REPL command .length"} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors lack %q:\n%s", want, errs)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "s.js"))
	if err != nil || !strings.Contains(string(b), "const s = 'ab'\n  .toUpperCase()\n") || !strings.Contains(string(b), "[1, 2]\n.map(n =>\n  n * 10)\n.length") {
		t.Errorf(".save wrote %q (%v): want each chain as typed", b, err)
	}
}

// Piped input follows the same rule: a script's chain runs line by line.
func TestLeadingDotContinuesPiped(t *testing.T) {
	h := newHarness(t, runtime.Options{})
	if err := h.piped("const n = [1, 2, 3]\n  .map(x => x * 2)\n  .reduce((a, b) => a + b)\nn\n"); err != nil {
		t.Fatalf("%v\n%s", err, h.err.String())
	}
	if got := h.out.String(); got != "12\n" {
		t.Errorf("stdout %q, want 12", got)
	}
}

// .editor takes lines until Ctrl-D and runs them as one input; Ctrl-C
// drops them.
func TestEditor(t *testing.T) {
	h := newHarness(t, runtime.Options{})
	in := &scripted{lines: []any{
		".editor", "const v = [1, 2]", "// .exit here is a comment, not the command", "v.length", input{text: "  + 40", finish: true},
		".editor", "'dropped'", errCleared,
		".editor", "1 +", input{finish: true}, // a syntax error, reported
		"'after'",
	}}
	if err := h.interactive(in); err != nil {
		t.Fatal(err)
	}
	out, errs := h.out.String(), h.err.String()
	if strings.Count(out, "// Entering editor mode") != 3 || !strings.Contains(out, "42") || !strings.Contains(out, "'after'") {
		t.Errorf("output:\n%s", out)
	}
	if strings.Contains(out, "'dropped'") || !strings.Contains(errs, "SyntaxError") {
		t.Errorf("Ctrl-C did not drop the editor's lines, or the incomplete input was not reported:\n%s\n%s", out, errs)
	}
	if want := []bool{true, false, true, false, true, false}; !slices.Equal(in.editor, want) {
		t.Errorf("Editor calls %v, want %v", in.editor, want)
	}
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "lib.js"), []byte("const libValue = 'from lib'\nfunction double(n) { return 2 * n }\n"), 0o644)
	h := newHarness(t, runtime.Options{Folder: dir})
	h.opts.Folder = dir
	h.opts.Tokens = func(context.Context) ([]TokenInfo, error) {
		return []TokenInfo{
			{Name: "graph-mail", State: "authorized", Active: true, Expires: time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC), BaseURL: "https://graph.microsoft.com"},
			{Name: "old", State: "reauth_required", Active: false, LastMessage: "invalid_grant: consent revoked"},
		}, nil
	}
	h.opts.Now = func() time.Time { return time.Date(2030, 1, 1, 0, 18, 0, 0, time.UTC) }
	in := &scripted{lines: []any{
		".help",
		".load lib.js",
		"double(21)",
		"let kept = libValue + '!'",
		"nope()",
		".save saved.js",
		".tokens",
		".frobnicate",
		".clear",
		"typeof kept",
		".load ../outside.js",
		".load",
		".exit",
		"'not reached'",
	}}
	if err := h.interactive(in); err != nil {
		t.Fatal(err)
	}
	out, errs := h.out.String(), h.err.String()
	for _, w := range []string{
		".load FILE", ".tokens", "Tab completes", // .help
		"42\n",
		"Saved 3 inputs to saved.js",
		"graph-mail", "authorized", "in 42m", "https://graph.microsoft.com",
		"reauth_required (inactive)", "invalid_grant: consent revoked",
		"Cleared: a fresh session.",
		"'undefined'", // .clear forgot kept
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, w := range []string{"Unknown REPL command .frobnicate", "outside the folder", "Usage: .load FILE", "nope is not defined"} {
		if !strings.Contains(errs, w) {
			t.Errorf("errors lack %q:\n%s", w, errs)
		}
	}
	if strings.Contains(out, "not reached") {
		t.Error(".exit did not leave")
	}
	if h.sessions != 2 {
		t.Errorf("%d sessions started, want 2 (.clear starts one)", h.sessions)
	}
	saved, err := os.ReadFile(filepath.Join(dir, "saved.js"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "// .load lib.js\ndouble(21)\nlet kept = libValue + '!'\n"; string(saved) != want {
		t.Errorf("saved %q, want %q (inputs that failed are left out)", saved, want)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "saved.js")); fi.Mode().Perm() != 0o600 {
		t.Errorf("saved file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestPiped(t *testing.T) {
	h := newHarness(t, runtime.Options{})
	err := h.piped("1 + 1\nlet x = 5\nconsole.log('logged')\nconst f = () => {\n  return x * 2\n}\nf()\nnull.boom\n'last'\n")
	var fe *FailedError
	if !errors.As(err, &fe) || fe.Failed != 1 || fe.Total != 7 {
		t.Fatalf("err = %v, want 1 of 7 inputs failed", err)
	}
	if want := "2\nlogged\n10\n'last'\n"; h.out.String() != want {
		t.Errorf("stdout %q, want %q (no prompts, no undefined)", h.out.String(), want)
	}
	if !strings.Contains(h.err.String(), "Uncaught TypeError") {
		t.Errorf("stderr %q", h.err.String())
	}
	if strings.Contains(h.out.String()+h.err.String(), "\x1b[") {
		t.Error("colour in piped output")
	}

	h = newHarness(t, runtime.Options{})
	if err := h.piped("'ok'\n.exit\nnull.boom\n"); err != nil {
		t.Errorf(".exit before a failing line: %v", err)
	}
	h = newHarness(t, runtime.Options{})
	if err := h.piped("const unfinished = {\n"); err == nil || !strings.Contains(h.err.String(), "Unexpected end of input") {
		t.Errorf("input ending early: %v, %q", err, h.err.String())
	}
	h = newHarness(t, runtime.Options{})
	if err := h.piped(".frobnicate\n'next'\n"); err == nil || !strings.Contains(h.err.String(), "Unknown REPL command .frobnicate") {
		t.Errorf("an unknown command with piped input: %v, %q; want it to count as a failure", err, h.err.String())
	}
	h = newHarness(t, runtime.Options{})
	if err := h.piped(""); err != nil || h.out.String() != "" {
		t.Errorf("empty input: %v %q", err, h.out.String())
	}
}

// Ctrl-C (SIGINT) cancels the running evaluation and its request; on a
// terminal the REPL goes on, with piped input it stops.
func TestInterrupt(t *testing.T) {
	cancelled := make(chan struct{}, 1)
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(30 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	interrupts := make(chan os.Signal, 1)
	h := newHarness(t, runtime.Options{Args: []string{srv.URL}})
	h.opts.Interrupts = interrupts
	go func() {
		<-started
		interrupts <- os.Interrupt
	}()
	in := &scripted{lines: []any{"await fetch(args[0])", "'alive'"}}
	if err := h.interactive(in); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not see the request cancelled")
	}
	if !strings.Contains(h.err.String(), "Interrupted") || !strings.Contains(h.out.String(), "'alive'") {
		t.Errorf("stdout %q stderr %q", h.out.String(), h.err.String())
	}

	h = newHarness(t, runtime.Options{Args: []string{srv.URL}})
	h.opts.Interrupts = interrupts
	go func() {
		<-started
		interrupts <- os.Interrupt
	}()
	err := h.piped("http.get(args[0]).send()\n'not evaluated'\n")
	if !errors.Is(err, ErrInterrupted) || strings.Contains(h.out.String(), "not evaluated") {
		t.Errorf("piped: %v, stdout %q", err, h.out.String())
	}
	<-cancelled
}

func TestHistoryIsKept(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "home", "repl_history")
	h := newHarness(t, runtime.Options{})
	h.opts.HistoryFile = file
	in := &scripted{lines: []any{
		"const a = 1",
		"fetch(u, {headers: {Authorization: 'Bearer abcdef123456'}})",
		"const b = {",
		"  password: 'hunter2' }",
		" 'leading space'",
		"a + 1",
	}}
	if err := h.interactive(in); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := "const a = 1\na + 1\n"; string(b) != want {
		t.Errorf("history file %q, want %q", b, want)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("history mode %v, want 0600", fi.Mode().Perm())
	}
	// The next REPL starts with it.
	in2 := &scripted{}
	if err := h.interactive(in2); err != nil {
		t.Fatal(err)
	}
	if strings.Join(in2.history, "|") != "const a = 1|a + 1" {
		t.Errorf("history offered to the next REPL: %q", in2.history)
	}
}

func TestSessionThatCannotStart(t *testing.T) {
	err := Run(context.Background(), Options{NewSession: func() (Session, error) { return nil, fmt.Errorf("no folder") }})
	if err == nil || err.Error() != "no folder" {
		t.Errorf("Run: %v", err)
	}
}
