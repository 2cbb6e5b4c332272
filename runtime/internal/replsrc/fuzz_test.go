package replsrc

import (
	"errors"
	"strings"
	"testing"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
)

// FuzzPrepare feeds arbitrary input to the REPL's incompleteness detector
// and rewriter. It must never panic; input that goja accepts as a script
// must be rewritten (not merely passed through) into code that still
// parses; input it calls incomplete must not be a valid script; and every
// position of the rewritten code must map back into the input.
func FuzzPrepare(f *testing.F) {
	for _, s := range []string{
		"let x = 1", "const {a, b: [c]} = o", "class A { m() {} }", "await fetch(u)",
		"const r = await fetch(u, {", "{a: 1}", "{a: await 1}", "(1 + 2) * 3", "let x = (1)\n(2)",
		"for (var i = 0; i < 3; i++) await i", "if (c) var v = await 1", "await 1; function f() {}",
		"`a ${b", "/* open", "switch (x) {", "try {}", "let t = 1\n[t]", "x = /re/g; let y = 2",
		"await (p)", "label: var q = await 1", "let a = 1, b", "const f = () => (1)", "await 1 // c",
		"let [x = (1)] = []", "await 1;\n  (x)", "let\nx = 1", "let await = 1", "(a)++; let b = 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		in, err := Prepare("REPL", src)
		prog, scriptErr := parseScript("REPL", src)
		if errors.Is(err, ErrIncomplete) {
			if scriptErr == nil && !unterminated(prog) {
				t.Fatalf("%q: called incomplete, but it parses as a script", src)
			}
			return
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("%q: %T %v, want an *Error", src, err, err)
			}
			if scriptErr == nil && !unterminated(prog) && !strings.Contains(ce.Message, "already been declared") && !strings.Contains(ce.Message, "Illegal return") {
				t.Fatalf("%q: a valid script was refused: %v", src, err)
			}
			return
		}
		if _, perr := parseScript("REPL", in.Code); perr != nil {
			t.Fatalf("%q: rewritten into %q, which does not parse: %v", src, in.Code, perr)
		}
		if scriptErr == nil && !in.Async && declares(prog) && len(in.Decls) == 0 && compiles(src) {
			t.Fatalf("%q: declarations were not rewritten (code %q)", src, in.Code)
		}
		lines := strings.Count(src, "\n") + 1
		for l, line := range strings.Split(in.Code, "\n") {
			step := max(1, len(line)/50) // a sample: mapping is linear in the code's length
			for c := 1; c <= len(line)+1; c += step {
				ml, mc, _ := in.Position(l+1, c)
				if ml < 1 || ml > lines || mc < 1 {
					t.Fatalf("%q: code position %d:%d maps to %d:%d", src, l+1, c, ml, mc)
				}
			}
		}
	})
}

// compiles reports whether goja's compiler takes src too: its parser
// accepts some input its compiler then refuses (`let A=#0`, a private name
// outside a class), which the REPL reports as the SyntaxError it is.
func compiles(src string) bool {
	_, err := goja.Compile("REPL", src, false)
	return err == nil
}

// declares reports a top-level lexical declaration that binds a name
// (`let [] = []` binds none, so there is nothing to rewrite it for).
func declares(prog *ast.Program) bool {
	for _, st := range prog.Body {
		switch s := st.(type) {
		case *ast.LexicalDeclaration:
			for _, b := range s.List {
				if len(boundNames(b.Target)) > 0 {
					return true
				}
			}
		case *ast.ClassDeclaration:
			if s.Class != nil && s.Class.Name != nil {
				return true
			}
		}
	}
	return false
}
