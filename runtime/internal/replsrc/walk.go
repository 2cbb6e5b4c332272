package replsrc

import "github.com/dop251/goja/ast"

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
