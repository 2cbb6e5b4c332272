package replsrc

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Kind is the kind of a top-level lexical declaration.
type Kind int

// Kinds of declarations.
const (
	Let Kind = iota
	Const
	Class
)

// String returns the keyword: "let", "const" or "class".
func (k Kind) String() string {
	switch k {
	case Let:
		return "let"
	case Const:
		return "const"
	case Class:
		return "class"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Decl is a top-level lexical declaration of an input. The caller defines it
// as a global binding before the input runs; the rewritten code assigns it.
type Decl struct {
	Name string
	Kind Kind
	// Ready is true for `let x;` (no initialiser): it is undefined, not in
	// its temporal dead zone, from the start.
	Ready bool
}

// Input is one REPL input prepared for running.
type Input struct {
	// Name names the input in positions (REPL1, or a loaded file's name).
	Name string
	// Source is the input as typed.
	Source string
	// Code is what to compile, as a non-strict script.
	Code string
	// Async is true when Code evaluates to an async arrow function (the input
	// uses top-level await). Call it with one argument, a function
	// (name, value) that defines value as the global name: through it the
	// wrapper copies its top-level function declarations to the global
	// object. The call returns a promise of the input's value.
	Async bool
	// Void is true when the input ends with a declaration, whose value is
	// undefined (the assignment it was rewritten into would have one).
	Void bool
	// Decls are the top-level let, const and class declarations, to define
	// before running Code.
	Decls []Decl
	// Vars are, for async input, the var names to define on the global
	// object (as undefined, unless they exist) before running Code.
	Vars []string
	// Continue says how a later line that starts with a dot continues this
	// input; nil when it cannot be (see Continuation).
	Continue *Continuation

	edits []edit // how Code differs from Source, to map positions back
}

// Rewritten reports whether Code differs from Source, so that positions in
// Code need Position to be shown.
func (in *Input) Rewritten() bool { return len(in.edits) > 0 }

// Position converts a 1-based line and column of Code into those of the
// input as typed, and returns the text of that line. A position inside
// inserted text maps to where the text was inserted.
func (in *Input) Position(line, col int) (int, int, string) {
	off := offsetIn(in.Code, line, col)
	if len(in.edits) == 0 { // Code is Source
		_, _, text := position(in.Source, off)
		return line, col, text
	}
	delta := 0 // Code offset - Source offset, before the current edit
	src := -1
	for _, e := range sortEdits(in.edits) {
		start := e.at + delta
		if off < start {
			src = off - delta
			break
		}
		if off < start+len(e.ins) {
			src = e.at
			break
		}
		delta += len(e.ins) - e.del
	}
	if src < 0 {
		src = off - delta
	}
	return position(in.Source, src)
}

// ErrIncomplete is matched (errors.Is) by an *Error for input that ends too
// early: more lines could complete it.
var ErrIncomplete = errors.New("replsrc: incomplete input")

// Error is a syntax error in REPL input, at a position in the input as
// typed.
type Error struct {
	File    string // the input's name
	Line    int    // 1-based; 0 when no position in the input can be shown
	Column  int    // 1-based
	Message string // the parser's message, without "SyntaxError: "
	Source  string // the offending line, if known

	incomplete bool
}

// Error returns "file:line:column: SyntaxError: message".
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: SyntaxError: %s", e.File, e.Line, e.Column, e.Message)
}

// Unwrap returns ErrIncomplete for input that ends too early.
func (e *Error) Unwrap() error {
	if e.incomplete {
		return ErrIncomplete
	}
	return nil
}

// edit replaces src[at:at+del] with ins.
type edit struct {
	at, del int
	ins     string
}

// apply returns src with the edits applied. Edits are sorted by position;
// insertions at the same position keep their order.
func apply(src string, edits []edit) string {
	sorted := sortEdits(edits)
	var b strings.Builder
	b.Grow(len(src) + 64)
	pos := 0
	for _, e := range sorted {
		at := min(max(e.at, pos), len(src))
		b.WriteString(src[pos:at])
		b.WriteString(e.ins)
		pos = min(at+e.del, len(src))
	}
	b.WriteString(src[pos:])
	return b.String()
}

func sortEdits(edits []edit) []edit {
	sorted := append([]edit(nil), edits...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].at < sorted[j].at })
	return sorted
}

// unwrapEdits converts edits of "(" + src + ")" into edits of src that
// also insert the parentheses: an edit before the "(" stays before it, one
// after the ")" after it.
func unwrapEdits(edits []edit, n int) []edit {
	var before, inside, after []edit
	for _, e := range edits {
		switch {
		case e.at <= 0:
			e.at = 0
			before = append(before, e)
		case e.at >= n:
			e.at = n - 2
			after = append(after, e)
		default:
			e.at--
			inside = append(inside, e)
		}
	}
	out := append(before, edit{at: 0, ins: "("})
	out = append(out, inside...)
	out = append(out, edit{at: n - 2, ins: ")"})
	return append(out, after...)
}

// position converts an offset in src into a 1-based line and column and
// returns the line's text.
func position(src string, off int) (line, col int, text string) {
	off = min(max(off, 0), len(src))
	line = strings.Count(src[:off], "\n") + 1
	start := strings.LastIndexByte(src[:off], '\n') + 1
	end := strings.IndexByte(src[off:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += off
	}
	return line, off - start + 1, strings.TrimRight(src[start:end], "\r")
}

// offsetIn converts a 1-based line and column of text into an offset.
func offsetIn(text string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(text[off:], '\n')
		if i < 0 {
			return len(text)
		}
		off += i + 1
	}
	return min(off+max(col-1, 0), len(text))
}
