package runtime

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja/token"
)

// This file turns what a person types into a REPL into a program goja can
// run with the semantics of Node's REPL:
//
//   - Top-level let, const and class declarations may be repeated on later
//     lines. They are rewritten into assignments to bindings that the session
//     defines on the global object before the input runs (see Session.declare):
//     an accessor that throws a ReferenceError until it is initialised (the
//     temporal dead zone) and, for const, a TypeError on reassignment. The
//     keyword is replaced by text of the same length, so columns do not move.
//   - Input that uses await outside a function is wrapped in an async arrow
//     function; its top-level declarations become the same global bindings,
//     its var declarations (anywhere outside nested functions) are hoisted to
//     the global object, its top-level function declarations are copied there
//     when the wrapper starts, and the value of a final expression statement
//     is returned.
//   - Input that starts with { and does not end with ; is an object literal if
//     it parses as one, as in Node.
//
// Everything else runs unchanged, so statements keep their completion value.

// asyncParam is the parameter of the async wrapper through which it copies
// its top-level function declarations to the global object.
const asyncParam = "__scriptrun_repl"

// asyncPrefix and asyncSuffix wrap input that uses top-level await. The
// prefix has no line break, so line numbers stay those of the input.
const (
	asyncPrefix = "(async (" + asyncParam + ") => {"
	asyncSuffix = "\n})"
)

// declKind is the kind of a top-level lexical declaration.
type declKind int

const (
	declLet declKind = iota
	declConst
	declClass
)

// decl is a top-level lexical declaration, defined by the session before the
// input runs.
type decl struct {
	name string
	kind declKind
	// ready is true for `let x;` (no initialiser): it is undefined, not in
	// its temporal dead zone, from the start.
	ready bool
}

// input is REPL input prepared for running.
type input struct {
	name  string
	src   string // as typed
	code  string // what is compiled
	async bool   // code evaluates to an async function to call with the hoisting helper
	// void is true when the input ends with a declaration, whose value is
	// undefined (the rewritten assignment would have one).
	void  bool
	decls []decl
	vars  []string // async: var names hoisted to the global object
	funcs []string // async: top-level function names copied to the global object
	edits []edit   // how code differs from src, to map positions back
}

// edit replaces src[at:at+del] with ins.
type edit struct {
	at, del int
	ins     string
}

// errIncomplete marks a *CompileError caused by input that ends early.
var errIncomplete = errors.New("incomplete input")

// Incomplete reports whether src is the beginning of valid REPL input that
// needs more lines: an unclosed bracket, template literal or comment, an
// expression that ends in an operator, and so on — the cases where goja
// reports an unexpected end of input. Top-level await is taken into account.
// A REPL keeps reading lines while Incomplete is true.
func Incomplete(src string) bool {
	_, err := prepare("REPL", src)
	return errors.Is(err, errIncomplete)
}

// incompleteError is a *CompileError that also matches errIncomplete.
type incompleteError struct{ *CompileError }

func (e *incompleteError) Unwrap() []error { return []error{e.CompileError, errIncomplete} }

// parseScript parses src as non-strict script code, as compileProgram does.
func parseScript(name, src string) (*ast.Program, error) {
	return parser.ParseFile(nil, name, src, 0, parser.WithDisableSourceMaps)
}

// firstError is the first message and position of a parser error.
func firstError(err error) (msg string, line, col int, ok bool) {
	var list parser.ErrorList
	var single *parser.Error
	switch {
	case errors.As(err, &list) && len(list) > 0:
		return list[0].Message, list[0].Position.Line, list[0].Position.Column, true
	case errors.As(err, &single):
		return single.Message, single.Position.Line, single.Position.Column, true
	}
	return "", 0, 0, false
}

// atEOF reports whether a parser error says the input ended too early.
func atEOF(err error) bool {
	msg, _, _, ok := firstError(err)
	return ok && msg == "Unexpected end of input"
}

// prepare classifies and rewrites REPL input. Errors are *CompileError
// values; those for incomplete input also match errIncomplete.
func prepare(name, src string) (*input, error) {
	if strings.TrimSpace(src) == "" {
		return &input{name: name, src: src, code: src}, nil
	}
	// Node: `{ a: 1 }` on its own is an object, not a block with a label.
	if t := strings.TrimSpace(src); strings.HasPrefix(t, "{") && !strings.HasSuffix(t, ";") {
		wrapped := "(" + src + "\n)" // the line break ends a trailing // comment
		if prog, err := parseScript(name, wrapped); err == nil && !unterminated(prog) {
			return &input{name: name, src: src, code: wrapped, edits: []edit{{at: 0, ins: "("}, {at: len(src), ins: "\n)"}}}, nil
		}
		if in, err := prepareAsync(name, src, true); err == nil {
			return in, nil
		}
	}

	prog, err := parseScript(name, src)
	if err == nil {
		if unterminated(prog) {
			return nil, incomplete(name, src)
		}
		// `await (x)` parses as a call of a function called await; in a
		// REPL it means top-level await, as in Node.
		if hasAwaitIdentifier(prog) {
			if in, err := prepareAsync(name, src, false); err == nil {
				return in, nil
			}
		}
		return prepareScript(name, src, prog)
	}
	if atEOF(err) {
		return nil, &incompleteError{compileError(name, src, err, 0)}
	}
	if containsWord(src, "await") {
		// Is it incomplete once await is read as the unary operator it is
		// in an async function? (await and "void " have the same length.)
		if prog2, err2 := parseScript(name, replaceWord(src, "await", "void ")); atEOF(err2) || err2 == nil && unterminated(prog2) {
			return nil, incomplete(name, src)
		}
		in, err3 := prepareAsync(name, src, false)
		if err3 == nil || errors.Is(err3, errIncomplete) {
			return in, err3
		}
		var ce *CompileError
		if errors.As(err3, &ce) && ce.Line > 0 {
			return nil, err3 // positions inside the input: a better message than the script parse's
		}
	}
	// try { … } followed by nothing yet: catch or finally may follow.
	if msg, _, _, _ := firstError(err); msg == "Missing catch or finally after try" && strings.HasSuffix(strings.TrimSpace(src), "}") {
		return nil, incomplete(name, src)
	}
	return nil, compileError(name, src, err, 0)
}

// incomplete is the error for input that ends too early.
func incomplete(name, src string) error {
	lines := strings.Split(src, "\n")
	last := lines[len(lines)-1]
	return &incompleteError{&CompileError{File: name, Line: len(lines), Column: len(last) + 1, Message: "Unexpected end of input", Source: strings.TrimRight(last, "\r")}}
}

// compileError converts a parser error into a *CompileError. shift is the
// number of bytes of wrapper text before src on its first line.
func compileError(name, src string, err error, shift int) *CompileError {
	msg, line, col, ok := firstError(err)
	if !ok {
		return &CompileError{File: name, Line: 1, Column: 1, Message: err.Error()}
	}
	if line == 1 {
		col -= shift
	}
	if col < 1 {
		col = 1
	}
	ce := &CompileError{File: name, Line: line, Column: col, Message: msg}
	if lines := strings.Split(src, "\n"); line >= 1 && line <= len(lines) {
		ce.Source = strings.TrimRight(lines[line-1], "\r")
	}
	return ce
}

// prepareScript rewrites the top-level lexical declarations of a script.
func prepareScript(name, src string, prog *ast.Program) (*input, error) {
	in := &input{name: name, src: src}
	base := int(prog.File.Base())
	r := rewriter{src: src, base: base}
	for _, st := range prog.Body {
		r.topLevel(st)
	}
	r.collectVarNames(prog.Body)
	if err := r.checkDuplicates(name); err != nil {
		return nil, err
	}
	in.decls, in.edits = r.decls, r.edits
	if n := len(prog.Body); n > 0 {
		switch prog.Body[n-1].(type) {
		case *ast.LexicalDeclaration, *ast.ClassDeclaration:
			in.void = true
		}
	}
	in.code = apply(src, in.edits)
	// A rewrite that does not parse is a bug here, not the user's: fall back
	// to the input as typed, which only loses re-declaration.
	if len(in.edits) > 0 {
		if _, err := parseScript(name, in.code); err != nil {
			return &input{name: name, src: src, code: src}, nil
		}
	}
	return in, nil
}

// prepareAsync wraps input that uses top-level await. When object is true
// the input is wrapped in parentheses first, as an object literal.
func prepareAsync(name, src string, object bool) (*input, error) {
	text, shift := src, 0
	if object {
		text, shift = "("+src+")", 1
	}
	prog, err := parseScript(name, asyncPrefix+text+asyncSuffix)
	if err != nil {
		ce := compileError(name, src, err, len(asyncPrefix)+shift)
		if ce.Line > strings.Count(src, "\n")+1 {
			// The error is in the wrapper's closing text: the input closed
			// the wrapper itself. Not a position to show.
			ce.Line = 0
		}
		return nil, ce
	}
	if unterminated(prog) {
		return nil, incomplete(name, src)
	}
	body := asyncBody(prog)
	if body == nil || !hasTopLevelAwait(body) {
		return nil, errors.New("no top-level await")
	}
	if ret := findReturn(body); ret != nil {
		line, col, text := position(src, int(ret.Return)-int(prog.File.Base())-len(asyncPrefix)-shift)
		return nil, &CompileError{File: name, Line: line, Column: col, Message: "Illegal return statement", Source: text}
	}
	build := func(capture bool) (*input, error) {
		// goja positions count from the start of the wrapper; base makes
		// them offsets into text.
		r := rewriter{src: text, base: int(prog.File.Base()) + len(asyncPrefix), async: true}
		for _, st := range body {
			r.topLevel(st)
		}
		r.collectVarNames(body)
		if err := r.checkDuplicates(name); err != nil {
			return nil, err
		}
		r.hoistVars(body)
		if capture {
			r.captureLast(body)
		}
		edits := r.edits
		if object {
			edits = unwrapEdits(edits, len(text))
		}
		prelude := asyncPrefix
		for _, f := range r.funcs {
			prelude += asyncParam + "(" + strconv.Quote(f) + "," + f + ");"
		}
		in := &input{name: name, src: src, async: true, decls: r.decls, vars: r.vars, funcs: r.funcs}
		in.edits = append(append([]edit{{at: 0, ins: prelude}}, edits...), edit{at: len(src), ins: asyncSuffix})
		in.code = apply(src, in.edits)
		if _, err := parseScript(name, in.code); err != nil {
			return nil, compileError(name, src, err, 0)
		}
		return in, nil
	}
	in, err := build(true)
	var ce *CompileError
	if err != nil && errors.As(err, &ce) && !strings.Contains(ce.Message, "already been declared") {
		// Capturing the final value went wrong (goja reports some positions
		// imprecisely): run without it rather than fail.
		return build(false)
	}
	return in, err
}

// asyncBody returns the statements of the wrapper's arrow function.
func asyncBody(prog *ast.Program) []ast.Statement {
	if len(prog.Body) != 1 {
		return nil
	}
	es, ok := prog.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return nil
	}
	fn, ok := es.Expression.(*ast.ArrowFunctionLiteral)
	if !ok {
		return nil
	}
	block, ok := fn.Body.(*ast.BlockStatement)
	if !ok {
		return nil
	}
	return block.List
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

// rewriter collects the edits for one input. Offsets are byte offsets in src;
// base converts goja's file.Idx values into them.
type rewriter struct {
	src   string
	base  int
	async bool

	edits    []edit
	decls    []decl
	declPos  []int // where each decl's name is, for messages
	vars     []string
	funcs    []string
	varNames map[string]int // var-scoped names → position, for the duplicate check
}

// off converts a goja position into an offset in src, clamped.
func (r *rewriter) off(idx int) int {
	return min(max(idx-r.base, 0), len(r.src))
}

// topLevel rewrites one statement of the input's top level.
func (r *rewriter) topLevel(st ast.Statement) {
	switch s := st.(type) {
	case *ast.LexicalDeclaration:
		kind, kw := declLet, "let"
		if s.Token == token.CONST {
			kind, kw = declConst, "const"
		}
		at := r.off(int(s.Idx))
		if !strings.HasPrefix(r.src[at:], kw) || len(s.List) == 0 {
			return
		}
		_, pattern := s.List[0].Target.(ast.Pattern)
		// `let x = 1` → `;   x = 1`: same columns; the ; ends whatever came
		// before, as the declaration did. A leading pattern needs parentheses.
		repl := ";" + strings.Repeat(" ", len(kw)-1)
		if pattern {
			repl = ";(" + strings.Repeat(" ", len(kw)-2)
		}
		r.edits = append(r.edits, edit{at: at, del: len(kw), ins: repl})
		end := r.endOf(int(s.Idx1()))
		if pattern {
			r.edits = append(r.edits, edit{at: end, ins: ")"})
		}
		r.terminate(end)
		for _, b := range s.List {
			for _, id := range boundNames(b.Target) {
				r.addDecl(decl{name: id.name, kind: kind, ready: b.Initializer == nil && kind == declLet}, r.off(id.idx))
			}
		}
	case *ast.ClassDeclaration:
		c := s.Class
		if c == nil || c.Name == nil {
			return
		}
		at := r.off(int(c.Class))
		if !strings.HasPrefix(r.src[at:], "class") {
			return
		}
		name := c.Name.Name.String()
		// `class A {}` → `;A=class A {};`: the class expression keeps its name.
		r.edits = append(r.edits, edit{at: at, ins: ";" + name + "="}, edit{at: r.off(int(c.Idx1())), ins: ";"})
		r.addDecl(decl{name: name, kind: declClass}, r.off(int(c.Name.Idx)))
	case *ast.FunctionDeclaration:
		if r.async && s.Function != nil && s.Function.Name != nil {
			r.funcs = append(r.funcs, s.Function.Name.Name.String())
		}
	}
}

func (r *rewriter) addDecl(d decl, pos int) {
	r.decls = append(r.decls, d)
	r.declPos = append(r.declPos, pos)
}

// endOf returns the offset just after the construct that goja says ends at
// idx, including closing parentheses it does not count (goja drops
// parentheses from the tree, so `(1)` ends before its `)`).
func (r *rewriter) endOf(idx int) int {
	end := r.off(idx)
	for i := end; i < len(r.src); {
		c := r.src[i]
		switch {
		case c == ')':
			i++
			end = i
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(r.src[i:], "//"):
			nl := strings.IndexByte(r.src[i:], '\n')
			if nl < 0 {
				return end
			}
			i += nl + 1
		case strings.HasPrefix(r.src[i:], "/*"):
			cl := strings.Index(r.src[i+2:], "*/")
			if cl < 0 {
				return end
			}
			i += 2 + cl + 2
		default:
			return end
		}
	}
	return end
}

// terminate ends a rewritten declaration with a semicolon unless one
// follows: a declaration ends where the parser inserted one (let a\n[b]),
// but the expression it becomes would continue into the next line.
func (r *rewriter) terminate(end int) {
	rest := strings.TrimLeft(r.src[end:], " \t")
	if !strings.HasPrefix(rest, ";") {
		r.edits = append(r.edits, edit{at: end, ins: ";"})
	}
}

// startOf returns the offset where a statement whose first token goja
// places at idx really starts, including opening parentheses; from is the
// end of the previous statement (or of the prefix).
func (r *rewriter) startOf(from, idx int) int {
	from, to := r.off(from), r.off(idx)
	start := to
	for i := from; i < to; {
		c := r.src[i]
		switch {
		case c == '(':
			return i
		case c == ')' || c == ';' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(r.src[i:], "//"):
			nl := strings.IndexByte(r.src[i:], '\n')
			if nl < 0 {
				return start
			}
			i += nl + 1
		case strings.HasPrefix(r.src[i:], "/*"):
			cl := strings.Index(r.src[i+2:], "*/")
			if cl < 0 {
				return start
			}
			i += 2 + cl + 2
		default:
			return start
		}
	}
	return start
}

// captureLast makes the wrapper return the value of a final expression
// statement. It reports whether it did.
func (r *rewriter) captureLast(body []ast.Statement) bool {
	if len(body) == 0 {
		return false
	}
	es, ok := body[len(body)-1].(*ast.ExpressionStatement)
	if !ok || es.Expression == nil {
		return false
	}
	from := r.base // start of the input
	if len(body) > 1 {
		from = int(body[len(body)-2].Idx1())
	}
	start := r.startOf(from, int(es.Idx0()))
	end := r.endOf(int(es.Idx1()))
	r.edits = append(r.edits, edit{at: start, ins: "return ("}, edit{at: end, ins: ")"})
	return true
}

// collectVarNames records the var-scoped names of the input (var anywhere
// outside nested functions, top-level function declarations) for the
// duplicate check.
func (r *rewriter) collectVarNames(body []ast.Statement) {
	r.varNames = map[string]int{}
	visitVarDecls(body, func(_ int, list []*ast.Binding, _ varSite) {
		for _, b := range list {
			for _, id := range boundNames(b.Target) {
				if _, ok := r.varNames[id.name]; !ok {
					r.varNames[id.name] = r.off(id.idx)
				}
			}
		}
	})
	for _, st := range body {
		if f, ok := st.(*ast.FunctionDeclaration); ok && f.Function != nil && f.Function.Name != nil {
			name := f.Function.Name.Name.String()
			if _, ok := r.varNames[name]; !ok {
				r.varNames[name] = r.off(int(f.Function.Name.Idx))
			}
		}
	}
}

// checkDuplicates reports what a script would: a lexical name declared twice
// in the same input, or also declared with var or function.
func (r *rewriter) checkDuplicates(file string) error {
	seen := map[string]bool{}
	for i, d := range r.decls {
		_, isVar := r.varNames[d.name]
		if seen[d.name] || isVar {
			pos := r.declPos[i]
			if p, ok := r.varNames[d.name]; ok && !seen[d.name] && p > pos {
				pos = p
			}
			line, col, text := position(r.src, pos)
			return &CompileError{File: file, Line: line, Column: col, Message: fmt.Sprintf("Identifier '%s' has already been declared", d.name), Source: text}
		}
		seen[d.name] = true
	}
	return nil
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

// varSite says where a var declaration stands, which decides how it can be
// rewritten without changing what surrounds it.
type varSite int

const (
	siteList   varSite = iota // an item of a statement list: may start with ;
	siteSingle                // the body of if, a loop or a label: must stay one statement
	siteFor                   // for (var …; …) or for (var x in/of …)
)

// hoistVars rewrites the var declarations of async input into assignments
// to global variables, which the session defines before running it.
func (r *rewriter) hoistVars(body []ast.Statement) {
	seen := map[string]bool{}
	visitVarDecls(body, func(kw int, list []*ast.Binding, site varSite) {
		for _, b := range list {
			for _, id := range boundNames(b.Target) {
				if !seen[id.name] {
					seen[id.name] = true
					r.vars = append(r.vars, id.name)
				}
			}
		}
		at := r.varKeyword(kw, list[0])
		if at < 0 {
			return
		}
		switch site {
		case siteFor: // for (var i = 0; …) → for (    i = 0; …)
			r.edits = append(r.edits, edit{at: at, del: 3, ins: "   "})
		case siteList: // var a = 1, b; → ;( a = 1, b);
			end := r.endOf(int(list[len(list)-1].Idx1()))
			r.edits = append(r.edits, edit{at: at, del: 3, ins: ";( "}, edit{at: end, ins: ")"})
			r.terminate(end)
		case siteSingle: // if (c) var a = 1; → if (c) (  a = 1);
			end := r.endOf(int(list[len(list)-1].Idx1()))
			r.edits = append(r.edits, edit{at: at, del: 3, ins: "(  "}, edit{at: end, ins: ")"})
			r.terminate(end)
		}
	})
}

// varKeyword returns the offset of the var keyword of a declaration, or -1.
// goja records no position for it in for (var x in/of …) (kw is 0 there):
// it is the word before the binding.
func (r *rewriter) varKeyword(kw int, first *ast.Binding) int {
	if kw > 0 {
		at := r.off(kw)
		if strings.HasPrefix(r.src[at:], "var") {
			return at
		}
		return -1
	}
	before := strings.TrimRight(r.src[:r.off(int(first.Idx0()))], " \t\r\n")
	if strings.HasSuffix(before, "var") {
		return len(before) - 3
	}
	return -1
}

// boundName is an identifier a declaration binds, with its position.
type boundName struct {
	name string
	idx  int
}

// boundNames lists the identifiers bound by a declaration target.
func boundNames(t ast.Expression) []boundName {
	var out []boundName
	var walk func(ast.Expression)
	walk = func(e ast.Expression) {
		switch x := e.(type) {
		case *ast.Identifier:
			out = append(out, boundName{x.Name.String(), int(x.Idx)})
		case *ast.ObjectPattern:
			for _, p := range x.Properties {
				switch p := p.(type) {
				case *ast.PropertyShort:
					out = append(out, boundName{p.Name.Name.String(), int(p.Name.Idx)})
				case *ast.PropertyKeyed:
					walk(p.Value)
				case *ast.SpreadElement:
					walk(p.Expression)
				}
			}
			if x.Rest != nil {
				walk(x.Rest)
			}
		case *ast.ArrayPattern:
			for _, el := range x.Elements {
				if el != nil {
					walk(el)
				}
			}
			if x.Rest != nil {
				walk(x.Rest)
			}
		case *ast.AssignExpression: // a default: {a = 1}, [b = 2]
			walk(x.Left)
		case *ast.Binding:
			walk(x.Target)
		}
	}
	walk(t)
	return out
}

// visitVarDecls calls fn once per var declaration (a statement or a for
// loop head) outside nested functions, with the position of its var keyword
// (0 when goja does not record it), its bindings and where it stands.
func visitVarDecls(body []ast.Statement, fn func(kw int, list []*ast.Binding, site varSite)) {
	var stmt func(ast.Statement, varSite)
	list := func(l []ast.Statement) {
		for _, s := range l {
			stmt(s, siteList)
		}
	}
	forInto := func(into ast.ForInto) {
		if v, ok := into.(*ast.ForIntoVar); ok && v.Binding != nil {
			fn(0, []*ast.Binding{v.Binding}, siteFor)
		}
	}
	stmt = func(s ast.Statement, site varSite) {
		switch s := s.(type) {
		case *ast.VariableStatement:
			if len(s.List) > 0 {
				fn(int(s.Var), s.List, site)
			}
		case *ast.BlockStatement:
			list(s.List)
		case *ast.IfStatement:
			stmt(s.Consequent, siteSingle)
			if s.Alternate != nil {
				stmt(s.Alternate, siteSingle)
			}
		case *ast.ForStatement:
			if init, ok := s.Initializer.(*ast.ForLoopInitializerVarDeclList); ok && len(init.List) > 0 {
				fn(int(init.Var), init.List, siteFor)
			}
			stmt(s.Body, siteSingle)
		case *ast.ForInStatement:
			forInto(s.Into)
			stmt(s.Body, siteSingle)
		case *ast.ForOfStatement:
			forInto(s.Into)
			stmt(s.Body, siteSingle)
		case *ast.WhileStatement:
			stmt(s.Body, siteSingle)
		case *ast.DoWhileStatement:
			stmt(s.Body, siteSingle)
		case *ast.LabelledStatement:
			stmt(s.Statement, siteSingle)
		case *ast.WithStatement:
			stmt(s.Body, siteSingle)
		case *ast.TryStatement:
			if s.Body != nil {
				list(s.Body.List)
			}
			if s.Catch != nil && s.Catch.Body != nil {
				list(s.Catch.Body.List)
			}
			if s.Finally != nil {
				list(s.Finally.List)
			}
		case *ast.SwitchStatement:
			for _, c := range s.Body {
				list(c.Consequent)
			}
		}
	}
	list(body)
}

// walk calls visit for n and every node below it, in source order. inFunc
// tells whether a node is inside a function (or class) nested in the input.
// visit returns false to skip a node's children.
func walk(n ast.Node, inFunc bool, visit func(n ast.Node, inFunc bool) bool) {
	if n == nil || !visit(n, inFunc) {
		return
	}
	for _, c := range children(n) {
		switch n.(type) {
		case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral, *ast.ClassLiteral:
			walk(c, true, visit)
		default:
			walk(c, inFunc, visit)
		}
	}
}

// children lists the child nodes of n that are not nil.
func children(n ast.Node) []ast.Node {
	var out []ast.Node
	add := func(ns ...ast.Node) {
		for _, c := range ns {
			if c != nil && !isNilNode(c) {
				out = append(out, c)
			}
		}
	}
	exprs := func(es []ast.Expression) {
		for _, e := range es {
			add(e)
		}
	}
	stmts := func(ss []ast.Statement) {
		for _, s := range ss {
			add(s)
		}
	}
	bindings := func(bs []*ast.Binding) {
		for _, b := range bs {
			add(b)
		}
	}
	switch x := n.(type) {
	// Expressions.
	case *ast.YieldExpression:
		add(x.Argument)
	case *ast.AwaitExpression:
		add(x.Argument)
	case *ast.ArrayLiteral:
		exprs(x.Value)
	case *ast.ArrayPattern:
		exprs(x.Elements)
		add(x.Rest)
	case *ast.AssignExpression:
		add(x.Left, x.Right)
	case *ast.BinaryExpression:
		add(x.Left, x.Right)
	case *ast.BracketExpression:
		add(x.Left, x.Member)
	case *ast.CallExpression:
		add(x.Callee)
		exprs(x.ArgumentList)
	case *ast.ConditionalExpression:
		add(x.Test, x.Consequent, x.Alternate)
	case *ast.DotExpression:
		add(x.Left)
	case *ast.PrivateDotExpression:
		add(x.Left)
	case *ast.OptionalChain:
		add(x.Expression)
	case *ast.Optional:
		add(x.Expression)
	case *ast.FunctionLiteral:
		if x.ParameterList != nil {
			add(x.ParameterList)
		}
		if x.Body != nil {
			add(x.Body)
		}
	case *ast.ClassLiteral:
		add(x.SuperClass)
		for _, el := range x.Body {
			add(el)
		}
	case *ast.ArrowFunctionLiteral:
		if x.ParameterList != nil {
			add(x.ParameterList)
		}
		add(x.Body)
	case *ast.ExpressionBody:
		add(x.Expression)
	case *ast.NewExpression:
		add(x.Callee)
		exprs(x.ArgumentList)
	case *ast.ObjectLiteral:
		for _, p := range x.Value {
			add(p)
		}
	case *ast.ObjectPattern:
		for _, p := range x.Properties {
			add(p)
		}
		add(x.Rest)
	case *ast.ParameterList:
		bindings(x.List)
		add(x.Rest)
	case *ast.PropertyShort:
		add(&x.Name, x.Initializer)
	case *ast.PropertyKeyed:
		add(x.Key, x.Value)
	case *ast.SpreadElement:
		add(x.Expression)
	case *ast.SequenceExpression:
		exprs(x.Sequence)
	case *ast.TemplateLiteral:
		add(x.Tag)
		exprs(x.Expressions)
	case *ast.UnaryExpression:
		add(x.Operand)
	case *ast.Binding:
		add(x.Target, x.Initializer)
	case *ast.FieldDefinition:
		add(x.Key, x.Initializer)
	case *ast.MethodDefinition:
		add(x.Key)
		if x.Body != nil {
			add(x.Body)
		}
	case *ast.ClassStaticBlock:
		if x.Block != nil {
			add(x.Block)
		}
	// Statements.
	case *ast.BlockStatement:
		stmts(x.List)
	case *ast.CaseStatement:
		add(x.Test)
		stmts(x.Consequent)
	case *ast.CatchStatement:
		add(x.Parameter)
		if x.Body != nil {
			add(x.Body)
		}
	case *ast.DoWhileStatement:
		add(x.Body, x.Test)
	case *ast.ExpressionStatement:
		add(x.Expression)
	case *ast.ForInStatement:
		add(x.Into, x.Source, x.Body)
	case *ast.ForOfStatement:
		add(x.Into, x.Source, x.Body)
	case *ast.ForStatement:
		add(x.Initializer, x.Test, x.Update, x.Body)
	case *ast.IfStatement:
		add(x.Test, x.Consequent, x.Alternate)
	case *ast.LabelledStatement:
		add(x.Statement)
	case *ast.ReturnStatement:
		add(x.Argument)
	case *ast.SwitchStatement:
		add(x.Discriminant)
		for _, c := range x.Body {
			add(c)
		}
	case *ast.ThrowStatement:
		add(x.Argument)
	case *ast.TryStatement:
		if x.Body != nil {
			add(x.Body)
		}
		if x.Catch != nil {
			add(x.Catch)
		}
		if x.Finally != nil {
			add(x.Finally)
		}
	case *ast.VariableStatement:
		bindings(x.List)
	case *ast.LexicalDeclaration:
		bindings(x.List)
	case *ast.WhileStatement:
		add(x.Test, x.Body)
	case *ast.WithStatement:
		add(x.Object, x.Body)
	case *ast.FunctionDeclaration:
		if x.Function != nil {
			add(x.Function)
		}
	case *ast.ClassDeclaration:
		if x.Class != nil {
			add(x.Class)
		}
	case *ast.ForLoopInitializerExpression:
		add(x.Expression)
	case *ast.ForLoopInitializerVarDeclList:
		bindings(x.List)
	case *ast.ForLoopInitializerLexicalDecl:
		bindings(x.LexicalDeclaration.List)
	case *ast.ForIntoVar:
		if x.Binding != nil {
			add(x.Binding)
		}
	case *ast.ForDeclaration:
		add(x.Target)
	case *ast.ForIntoExpression:
		add(x.Expression)
	}
	return out
}

// isNilNode reports whether n is an interface holding a nil pointer.
func isNilNode(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.Identifier:
		return x == nil
	case *ast.BlockStatement:
		return x == nil
	case *ast.FunctionLiteral:
		return x == nil
	case *ast.ClassLiteral:
		return x == nil
	case *ast.Binding:
		return x == nil
	case *ast.ParameterList:
		return x == nil
	case *ast.CatchStatement:
		return x == nil
	case *ast.CaseStatement:
		return x == nil
	}
	return false
}

// unterminated reports a switch statement without its closing brace, which
// goja's parser accepts at the end of the input.
func unterminated(prog *ast.Program) bool {
	found := false
	for _, st := range prog.Body {
		walk(st, false, func(n ast.Node, _ bool) bool {
			if s, ok := n.(*ast.SwitchStatement); ok && s.RightBrace == 0 {
				found = true
			}
			return !found
		})
	}
	return found
}

// hasAwaitIdentifier reports a reference to an identifier called await
// outside functions: in a script, await(x) is a call.
func hasAwaitIdentifier(prog *ast.Program) bool {
	found := false
	for _, st := range prog.Body {
		walk(st, false, func(n ast.Node, inFunc bool) bool {
			if id, ok := n.(*ast.Identifier); ok && !inFunc && id.Name == "await" {
				found = true
			}
			return !found
		})
	}
	return found
}

// hasTopLevelAwait reports an await expression outside nested functions.
func hasTopLevelAwait(body []ast.Statement) bool {
	found := false
	for _, st := range body {
		walk(st, false, func(n ast.Node, inFunc bool) bool {
			if _, ok := n.(*ast.AwaitExpression); ok && !inFunc {
				found = true
			}
			return !found && !inFunc
		})
	}
	return found
}

// findReturn finds a return statement outside nested functions, which the
// wrapper would otherwise accept.
func findReturn(body []ast.Statement) *ast.ReturnStatement {
	var found *ast.ReturnStatement
	for _, st := range body {
		walk(st, false, func(n ast.Node, inFunc bool) bool {
			if r, ok := n.(*ast.ReturnStatement); ok && !inFunc && found == nil {
				found = r
			}
			return found == nil && !inFunc
		})
	}
	return found
}

// isIdentPart reports whether c may continue an identifier (any non-ASCII
// byte counts, which errs on the side of not matching a word).
func isIdentPart(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// wordAt reports whether word occurs in s at i as a whole word.
func wordAt(s string, i int, word string) bool {
	return strings.HasPrefix(s[i:], word) && (i == 0 || !isIdentPart(s[i-1])) && (i+len(word) == len(s) || !isIdentPart(s[i+len(word)]))
}

// containsWord reports whether word occurs in s as a whole word.
func containsWord(s, word string) bool {
	for i := strings.Index(s, word); i >= 0; {
		if wordAt(s, i, word) {
			return true
		}
		j := strings.Index(s[i+1:], word)
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// replaceWord replaces whole-word occurrences of word in s (word and with
// must have the same length, so positions do not move).
func replaceWord(s, word, with string) string {
	b := []byte(s)
	for i := 0; i+len(word) <= len(s); i++ {
		if wordAt(s, i, word) {
			copy(b[i:], with)
			i += len(word) - 1
		}
	}
	return string(b)
}
