package replsrc

import (
	"errors"
	"strings"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/token"
)

// Continuation says how a later line that starts with a dot continues an
// input: the line is applied to a value, never to the input's text run
// again, so nothing the input did happens twice.
//
// The value is the input's value (`http.get(u)` then `.send()`), or, when
// the input ends by declaring or assigning one variable, that variable's
// (`const res = http.get(u)` then `.send()` gives res the response). Head
// is the text that declares or assigns it again ("const res = "), "" for
// the input's value; it ends with "await " when the input awaited the value
// continued.
type Continuation struct {
	Head   string
	Target string // the variable whose value continues; "" for the input's value
}

// continuation finds how the input whose last top-level statement is last
// can be continued: nil when it ends with a semicolon or with a statement
// that is not an expression, a declaration of one variable or an
// assignment to one.
func (r *rewriter) continuation(last ast.Statement) *Continuation {
	if last == nil {
		return nil
	}
	end := r.endOf(int(last.Idx1()))
	if i := r.skipBlank(end); i < len(r.src) && r.src[i] == ';' {
		return nil
	}
	switch s := last.(type) {
	case *ast.ExpressionStatement:
		if a, ok := s.Expression.(*ast.AssignExpression); ok && a.Operator == token.ASSIGN {
			if id, ok := a.Left.(*ast.Identifier); ok {
				if head, ok := r.head(int(id.Idx), int(id.Idx1())); ok {
					return &Continuation{Head: head + awaited(a.Right)}
				}
				return nil
			}
		}
		return &Continuation{Head: awaited(s.Expression)}
	case *ast.LexicalDeclaration:
		if len(s.List) == 1 {
			return r.declared(int(s.Idx), s.List[0])
		}
	case *ast.VariableStatement:
		if len(s.List) == 1 {
			return r.declared(int(s.Var), s.List[0])
		}
	}
	return nil
}

// awaited is "await " when the value continued was awaited: the
// continuation's is too (`const r = await fetch(u)` then `.json()` leaves
// the parsed body in r).
func awaited(e ast.Expression) string {
	if _, ok := e.(*ast.AwaitExpression); ok {
		return "await "
	}
	return ""
}

// declared is the continuation of `let|const|var name = value`.
func (r *rewriter) declared(start int, b *ast.Binding) *Continuation {
	id, ok := b.Target.(*ast.Identifier)
	if !ok || b.Initializer == nil {
		return nil
	}
	head, ok := r.head(start, int(id.Idx1()))
	if !ok {
		return nil
	}
	return &Continuation{Head: head + awaited(b.Initializer), Target: id.Name.String()}
}

// head returns the text from start to the = that follows the name ending at
// nameEnd, and a space: a line of its own.
func (r *rewriter) head(start, nameEnd int) (string, bool) {
	eq := r.skipBlank(r.off(nameEnd))
	if eq >= len(r.src) || r.src[eq] != '=' {
		return "", false
	}
	head := r.src[r.off(start) : eq+1]
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(head) + " ", true
}

// PrepareContinued prepares line, which starts with a dot, as the
// continuation of an input: what runs is prefix + line (the head of the
// input's continuation and an expression for its value), and positions,
// in syntax errors and through Position, are those of line as typed.
func PrepareContinued(name, prefix, line string) (*Input, error) {
	in, err := Prepare(name, prefix+line)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Line == 1 {
			e.Column = max(e.Column-len(prefix), 1)
			e.Source, _, _ = strings.Cut(line, "\n")
		}
		return nil, err
	}
	// The prefix, as rewritten, becomes one insertion before the line.
	k := len(prefix)
	edits := []edit{{}}
	for _, e := range in.edits {
		if e.at < len(prefix) {
			if e.at+e.del > len(prefix) {
				return in, nil // straddles the line: keep positions of prefix + line
			}
			k += len(e.ins) - e.del
			continue
		}
		e.at -= len(prefix)
		edits = append(edits, e)
	}
	edits[0] = edit{ins: in.Code[:k]}
	if apply(line, edits) != in.Code {
		return in, nil
	}
	in.Source, in.edits = line, edits
	return in, nil
}
