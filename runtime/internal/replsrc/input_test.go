package replsrc_test

import (
	"errors"
	"testing"

	"github.com/scriptrun/scriptrun/runtime/internal/replsrc"
)

// Errors name positions in the input as typed, also when it was wrapped.
func TestPrepareErrors(t *testing.T) {
	for _, tt := range []struct {
		src        string
		line, col  int
		msg        string
		incomplete bool
	}{
		{"foo(", 1, 5, "Unexpected end of input", true},
		{"let x = 1\nfoo(", 2, 5, "Unexpected end of input", true},
		{"try {}", 1, 7, "Unexpected end of input", true},
		{"let a = 1; var a", 1, 16, "Identifier 'a' has already been declared", false},
		{"await 1; let b; let b", 1, 21, "Identifier 'b' has already been declared", false},
		{"await 1; return 2", 1, 10, "Illegal return statement", false},
		{"1 +* 2", 1, 4, "Unexpected token *", false},
	} {
		_, err := replsrc.Prepare("REPL1", tt.src)
		var e *replsrc.Error
		if !errors.As(err, &e) {
			t.Errorf("Prepare(%q) = %v, want an *Error", tt.src, err)
			continue
		}
		if e.File != "REPL1" || e.Line != tt.line || e.Column != tt.col || e.Message != tt.msg {
			t.Errorf("Prepare(%q): %s:%d:%d %q, want REPL1:%d:%d %q", tt.src, e.File, e.Line, e.Column, e.Message, tt.line, tt.col, tt.msg)
		}
		if got := errors.Is(err, replsrc.ErrIncomplete); got != tt.incomplete {
			t.Errorf("Prepare(%q): incomplete = %v, want %v", tt.src, got, tt.incomplete)
		}
	}
}

// Positions in the rewritten code map back to the input as typed; text the
// rewriting inserted maps to where it was inserted.
func TestInputPosition(t *testing.T) {
	in, err := replsrc.Prepare("REPL1", "{a: await 1}")
	if err != nil {
		t.Fatal(err)
	}
	if !in.Async || !in.Rewritten() {
		t.Fatalf("Async, Rewritten = %v, %v; want both (code %q)", in.Async, in.Rewritten(), in.Code)
	}
	for _, tt := range []struct {
		line, col    int
		wantL, wantC int
	}{
		{1, 1, 1, 1},    // inside the async prefix: where it was inserted
		{1, 200, 1, 13}, // past the end of the line: the input's end
	} {
		l, c, text := in.Position(tt.line, tt.col)
		if l != tt.wantL || c != tt.wantC || text != "{a: await 1}" {
			t.Errorf("Position(%d, %d) = %d, %d, %q; want %d, %d and the input's line", tt.line, tt.col, l, c, text, tt.wantL, tt.wantC)
		}
	}
	plain, err := replsrc.Prepare("REPL2", "1 + 2")
	if err != nil {
		t.Fatal(err)
	}
	if plain.Rewritten() || plain.Code != "1 + 2" {
		t.Errorf("plain input: Rewritten %v, Code %q; want it unchanged", plain.Rewritten(), plain.Code)
	}
	if l, c, text := plain.Position(1, 3); l != 1 || c != 3 || text != "1 + 2" {
		t.Errorf("plain Position(1, 3) = %d, %d, %q", l, c, text)
	}
}
