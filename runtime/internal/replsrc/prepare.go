package replsrc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja/token"
)

// asyncParam is the parameter of the async wrapper through which it copies
// its top-level function declarations to the global object.
const asyncParam = "__scriptrun_repl"

// asyncPrefix and asyncSuffix wrap input that uses top-level await. The
// prefix has no line break, so line numbers stay those of the input.
const (
	asyncPrefix = "(async (" + asyncParam + ") => {"
	asyncSuffix = "\n})"
)

// Incomplete reports whether src is the beginning of valid REPL input that
// needs more lines: an unclosed bracket, template literal or comment, an
// expression that ends in an operator, and so on — the cases where goja
// reports an unexpected end of input. Top-level await is taken into account.
// A REPL keeps reading lines while Incomplete is true.
func Incomplete(src string) bool {
	_, err := Prepare("REPL", src)
	return errors.Is(err, ErrIncomplete)
}

// parseScript parses src as non-strict script code, as the runtime compiles
// it.
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

// Prepare classifies and rewrites one REPL input; name names it in
// positions. Errors are *Error values; those for input that ends too early
// also match ErrIncomplete.
func Prepare(name, src string) (*Input, error) {
	if strings.TrimSpace(src) == "" {
		return &Input{Name: name, Source: src, Code: src}, nil
	}
	// Node: `{ a: 1 }` on its own is an object, not a block with a label.
	if t := strings.TrimSpace(src); strings.HasPrefix(t, "{") && !strings.HasSuffix(t, ";") {
		wrapped := "(" + src + "\n)" // the line break ends a trailing // comment
		if prog, err := parseScript(name, wrapped); err == nil && !unterminated(prog) {
			return &Input{Name: name, Source: src, Code: wrapped, edits: []edit{{at: 0, ins: "("}, {at: len(src), ins: "\n)"}}}, nil
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
		e := parseError(name, src, err, 0)
		e.incomplete = true
		return nil, e
	}
	if containsWord(src, "await") {
		// Is it incomplete once await is read as the unary operator it is
		// in an async function? (await and "void " have the same length.)
		if prog2, err2 := parseScript(name, replaceWord(src, "await", "void ")); atEOF(err2) || err2 == nil && unterminated(prog2) {
			return nil, incomplete(name, src)
		}
		in, err3 := prepareAsync(name, src, false)
		if err3 == nil || errors.Is(err3, ErrIncomplete) {
			return in, err3
		}
		var ce *Error
		if errors.As(err3, &ce) && ce.Line > 0 {
			return nil, err3 // positions inside the input: a better message than the script parse's
		}
	}
	// try { … } followed by nothing yet: catch or finally may follow.
	if msg, _, _, _ := firstError(err); msg == "Missing catch or finally after try" && strings.HasSuffix(strings.TrimSpace(src), "}") {
		return nil, incomplete(name, src)
	}
	return nil, parseError(name, src, err, 0)
}

// incomplete is the error for input that ends too early.
func incomplete(name, src string) error {
	lines := strings.Split(src, "\n")
	last := lines[len(lines)-1]
	return &Error{File: name, Line: len(lines), Column: len(last) + 1, Message: "Unexpected end of input", Source: strings.TrimRight(last, "\r"), incomplete: true}
}

// parseError converts a parser error into an *Error. shift is the
// number of bytes of wrapper text before src on its first line.
func parseError(name, src string, err error, shift int) *Error {
	msg, line, col, ok := firstError(err)
	if !ok {
		return &Error{File: name, Line: 1, Column: 1, Message: err.Error()}
	}
	if line == 1 {
		col -= shift
	}
	if col < 1 {
		col = 1
	}
	ce := &Error{File: name, Line: line, Column: col, Message: msg}
	if lines := strings.Split(src, "\n"); line >= 1 && line <= len(lines) {
		ce.Source = strings.TrimRight(lines[line-1], "\r")
	}
	return ce
}

// prepareScript rewrites the top-level lexical declarations of a script.
func prepareScript(name, src string, prog *ast.Program) (*Input, error) {
	in := &Input{Name: name, Source: src}
	base := int(prog.File.Base())
	r := rewriter{src: src, base: base}
	for _, st := range prog.Body {
		r.topLevel(st)
	}
	r.collectVarNames(prog.Body)
	if err := r.checkDuplicates(name); err != nil {
		return nil, err
	}
	in.Decls, in.edits = r.decls, r.edits
	if n := len(prog.Body); n > 0 {
		in.Continue = r.continuation(prog.Body[n-1])
		switch prog.Body[n-1].(type) {
		case *ast.LexicalDeclaration, *ast.ClassDeclaration:
			in.Void = true
		}
	}
	in.Code = apply(src, in.edits)
	// A rewrite that does not parse is a bug here, not the user's: fall back
	// to the input as typed, which only loses re-declaration.
	if len(in.edits) > 0 {
		if _, err := parseScript(name, in.Code); err != nil {
			return &Input{Name: name, Source: src, Code: src}, nil
		}
	}
	return in, nil
}

// prepareAsync wraps input that uses top-level await. When object is true
// the input is wrapped in parentheses first, as an object literal.
func prepareAsync(name, src string, object bool) (*Input, error) {
	text, shift := src, 0
	if object {
		text, shift = "("+src+")", 1
	}
	prog, err := parseScript(name, asyncPrefix+text+asyncSuffix)
	if err != nil {
		ce := parseError(name, src, err, len(asyncPrefix)+shift)
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
		return nil, &Error{File: name, Line: line, Column: col, Message: "Illegal return statement", Source: text}
	}
	build := func(capture bool) (*Input, error) {
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
		in := &Input{Name: name, Source: src, Async: true, Decls: r.decls, Vars: r.vars}
		if n := len(body); n > 0 && !object {
			// Offsets into text are offsets into src (text is src).
			in.Continue = r.continuation(body[n-1])
		}
		in.edits = append(append([]edit{{at: 0, ins: prelude}}, edits...), edit{at: len(src), ins: asyncSuffix})
		in.Code = apply(src, in.edits)
		if _, err := parseScript(name, in.Code); err != nil {
			return nil, parseError(name, src, err, 0)
		}
		return in, nil
	}
	in, err := build(true)
	var ce *Error
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

// rewriter collects the edits for one input. Offsets are byte offsets in src;
// base converts goja's file.Idx values into them.
type rewriter struct {
	src   string
	base  int
	async bool

	edits    []edit
	decls    []Decl
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
		kind, kw := Let, "let"
		if s.Token == token.CONST {
			kind, kw = Const, "const"
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
				r.addDecl(Decl{Name: id.name, Kind: kind, Ready: b.Initializer == nil && kind == Let}, r.off(id.idx))
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
		r.addDecl(Decl{Name: name, Kind: Class}, r.off(int(c.Name.Idx)))
	case *ast.FunctionDeclaration:
		if r.async && s.Function != nil && s.Function.Name != nil {
			r.funcs = append(r.funcs, s.Function.Name.Name.String())
		}
	}
}

func (r *rewriter) addDecl(d Decl, pos int) {
	r.decls = append(r.decls, d)
	r.declPos = append(r.declPos, pos)
}

// endOf returns the offset just after the construct that goja says ends at
// idx, including closing parentheses it does not count (goja drops
// parentheses from the tree, so `(1)` ends before its `)`).
func (r *rewriter) endOf(idx int) int {
	end := r.off(idx)
	for i := r.skipBlank(end); i < len(r.src) && r.src[i] == ')'; i = r.skipBlank(i + 1) {
		end = i + 1
	}
	return end
}

// skipBlank returns the offset of the first byte at or after i that is
// neither white space nor inside a comment; len(src) if there is none.
func (r *rewriter) skipBlank(i int) int {
	for i < len(r.src) {
		switch c := r.src[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(r.src[i:], "//"):
			nl := strings.IndexByte(r.src[i:], '\n')
			if nl < 0 {
				return len(r.src)
			}
			i += nl + 1
		case strings.HasPrefix(r.src[i:], "/*"):
			cl := strings.Index(r.src[i+2:], "*/")
			if cl < 0 {
				return len(r.src)
			}
			i += 2 + cl + 2
		default:
			return i
		}
	}
	return len(r.src)
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
	for i := r.skipBlank(from); i < to; i = r.skipBlank(i + 1) {
		switch r.src[i] {
		case '(':
			return i
		case ')', ';':
		default:
			return to
		}
	}
	return to
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
		_, isVar := r.varNames[d.Name]
		if seen[d.Name] || isVar {
			pos := r.declPos[i]
			if p, ok := r.varNames[d.Name]; ok && !seen[d.Name] && p > pos {
				pos = p
			}
			line, col, text := position(r.src, pos)
			return &Error{File: file, Line: line, Column: col, Message: fmt.Sprintf("Identifier '%s' has already been declared", d.Name), Source: text}
		}
		seen[d.Name] = true
	}
	return nil
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
