package replsrc

import (
	"errors"
	"testing"
)

func TestContinuation(t *testing.T) {
	tests := []struct {
		src  string
		want *Continuation // nil: cannot be continued
	}{
		{"http.get(u)", &Continuation{}},
		{"x = 1; http.get(u)", &Continuation{}},
		{"http.get(u) // a comment", &Continuation{}},
		{"const res = http.get(u)", &Continuation{Head: "const res = ", Target: "res"}},
		{"let res=http.get(u)", &Continuation{Head: "let res= ", Target: "res"}},
		{"var res = (http.get(u))", &Continuation{Head: "var res = ", Target: "res"}},
		{"const res\n  = http.get(u)", &Continuation{Head: "const res   = ", Target: "res"}},
		{"res = http.get(u)", &Continuation{Head: "res = "}},
		{"const r = await fetch(u)", &Continuation{Head: "const r = await ", Target: "r"}},
		{"r = await fetch(u)", &Continuation{Head: "r = await "}},
		{"await fetch(u)", &Continuation{Head: "await "}},
		{"(await fetch(u)).x", &Continuation{}},
		{"http.get(u);", nil},
		{"const res = http.get(u);", nil},
		{"http.get(u) ; // done", nil},
		{"const a = 1, b = 2", nil},
		{"const {a} = o", nil},
		{"let x", nil},
		{"res += 1", &Continuation{}},
		{"o.x = 1", &Continuation{}},
		{"function f() {}", nil},
		{"if (x) y()", nil},
		{"class A {}", nil},
	}
	for _, tt := range tests {
		in, err := Prepare("REPL1", tt.src)
		if err != nil {
			t.Errorf("Prepare(%q): %v", tt.src, err)
			continue
		}
		switch got := in.Continue; {
		case got == nil && tt.want == nil:
		case got == nil || tt.want == nil || *got != *tt.want:
			t.Errorf("Prepare(%q).Continue = %+v, want %+v", tt.src, got, tt.want)
		}
	}
}

// A continuation runs prefix + line, but its positions are the line's.
func TestPrepareContinued(t *testing.T) {
	in, err := PrepareContinued("REPL2", "const res = __prev", "\n  .apiTokenAuth('x')")
	if err != nil {
		t.Fatal(err)
	}
	if in.Source != "\n  .apiTokenAuth('x')" || in.Code == in.Source {
		t.Errorf("Source %q, Code %q", in.Source, in.Code)
	}
	if in.Continue == nil || in.Continue.Target != "res" {
		t.Errorf("the continuation cannot be continued in turn: %+v", in.Continue)
	}
	// Line 2, column 4 of the code (the dot) is line 2, column 3 of the line.
	if line, col, text := in.Position(2, 3); line != 2 || col != 3 || text != "  .apiTokenAuth('x')" {
		t.Errorf("Position(2, 3) = %d, %d, %q", line, col, text)
	}
	in, err = PrepareContinued("REPL3", "__prev", ".send().x")
	if err != nil {
		t.Fatal(err)
	}
	if line, col, _ := in.Position(1, len("__prev")+8); line != 1 || col != 8 {
		t.Errorf("Position = %d:%d, want 1:8 (the x)", line, col)
	}
	_, err = PrepareContinued("REPL4", "__prev", ".send(])")
	var e *Error
	if !errors.As(err, &e) || e.Line != 1 || e.Column != 7 || e.Source != ".send(])" {
		t.Errorf("syntax error %+v, want at 1:7 of the line", e)
	}
	if _, err := PrepareContinued("REPL5", "__prev", ".send("); !errors.Is(err, ErrIncomplete) {
		t.Errorf("an open call: %v, want ErrIncomplete", err)
	}
	if in, err := PrepareContinued("REPL6", "const r = __prev", ".json(await x)"); err != nil || !in.Async {
		t.Errorf("await in a continuation: %+v, %v", in, err)
	}
}
