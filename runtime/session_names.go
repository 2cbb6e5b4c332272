package runtime

import (
	"context"
	"reflect"
	"sort"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// identifierPattern matches names that can follow a dot.
var identifierPattern = lazy.Regexp{Expr: `^[A-Za-z_$][A-Za-z0-9_$]*$`}

// responseNames are the properties and methods of a response from send();
// TestNamesMatchResponses keeps the list in step with bindings.
// (own properties first, then the prototype's methods, as chain lists them).
var responseNames = []string{"body", "headers", "ok", "status", "statusText", "url", "header", "json", "text"}

// Names returns the names that can follow expr and a dot, for tab
// completion: the properties of the value expr stands for, its own first,
// then those of its prototypes. An empty expr lists the global names.
//
// expr is not evaluated, so completion never runs code or sends a request:
// it may be a global name followed by property accesses (a.b, a['b']),
// literals, new X(…), and calls whose result is known without calling
// them — http.get(url) and the other request builders, their methods
// (.header(…), .apiTokenAuth(…), …, .send(), .sendAsync()) and fetch(…).
// Getters written in JavaScript are not called. An expression of any other
// form has no names.
func (s *Session) Names(ctx context.Context, expr string) ([]string, error) {
	if s.ctx.Err() != nil {
		return nil, ErrSessionClosed
	}
	out := make(chan []string, 1)
	if !s.e.loop.RunOnLoop(func(*goja.Runtime) {
		var names []string
		defer func() {
			if recover() != nil {
				names = nil
			}
			out <- names
		}()
		names = s.names.names(expr)
	}) {
		return nil, ErrSessionClosed
	}
	select {
	case names := <-out:
		return names, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.ctx.Done():
		return nil, ErrSessionClosed
	case <-s.loopDone:
		return nil, s.crash
	}
}

// namer resolves completion expressions. It keeps the built-ins it relies
// on from before any input ran, so replacing a global does not fool it.
type namer struct {
	s        *Session
	builders map[*goja.Object]bool // http.get, http.post, …, http.request
	httpGet  goja.Callable
	fetch    *goja.Object
	protos   map[string]*goja.Object // prototypes of String, Number, …
	builder  *goja.Object            // prototype of request builders, made on first use
}

// resolved is what a completion expression stands for.
type resolved struct {
	v goja.Value
	// kind is set when the value is known only by its kind (never made):
	// a request builder or a response of send().
	kind string
}

func newNamer(s *Session) *namer {
	vm := s.e.vm
	n := &namer{s: s, builders: map[*goja.Object]bool{}, protos: map[string]*goja.Object{}}
	if h, ok := vm.Get("http").(*goja.Object); ok {
		for _, m := range []string{"get", "post", "put", "patch", "delete", "head", "request"} {
			if fn, ok := h.Get(m).(*goja.Object); ok {
				n.builders[fn] = true
			}
		}
		n.httpGet, _ = goja.AssertFunction(h.Get("get"))
	}
	n.fetch, _ = vm.Get("fetch").(*goja.Object)
	return n
}

// proto returns the prototype of the built-in kind of value, found from a
// value of that kind (not from a global, which input may have replaced),
// on first use: building them all for every session would slow its start.
func (n *namer) proto(kind string) *goja.Object {
	if p, ok := n.protos[kind]; ok {
		return p
	}
	vm := n.s.e.vm
	var p *goja.Object
	_ = vm.Try(func() {
		switch kind {
		case "String":
			p = vm.ToValue("").ToObject(vm).Prototype()
		case "Number":
			p = vm.ToValue(0).ToObject(vm).Prototype()
		case "Boolean":
			p = vm.ToValue(true).ToObject(vm).Prototype()
		case "Array":
			p = vm.NewArray().Prototype()
		case "Object":
			p = vm.NewObject().Prototype()
		case "Promise":
			promise, _, _ := vm.NewPromise()
			p = vm.ToValue(promise).ToObject(vm).Prototype()
		case "RegExp":
			if re, err := vm.RunString("/(?:)/"); err == nil {
				p = re.ToObject(vm).Prototype()
			}
		}
	})
	n.protos[kind] = p
	return p
}

func (n *namer) names(expr string) []string {
	vm := n.s.e.vm
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return filterNames(vm.GlobalObject().GetOwnPropertyNames())
	}
	prog, err := parser.ParseFile(nil, "completion", expr, 0, parser.WithDisableSourceMaps)
	if err != nil || len(prog.Body) != 1 {
		return nil
	}
	es, ok := prog.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return nil
	}
	r, ok := n.resolve(es.Expression)
	if !ok {
		return nil
	}
	switch r.kind {
	case "builder":
		if p := n.builderProto(); p != nil {
			return dedupe(append([]string{"method", "url"}, n.chain(p)...))
		}
		return nil
	case "response":
		return dedupe(append(append([]string(nil), responseNames...), n.chain(n.proto("Object"))...))
	}
	if r.v == nil || goja.IsUndefined(r.v) || goja.IsNull(r.v) {
		return nil
	}
	o := r.v.ToObject(vm)
	return n.chain(o)
}

// chain lists the names of o and its prototypes: each level sorted, the
// nearest first, without repeats.
func (n *namer) chain(o *goja.Object) []string {
	var out []string
	for depth := 0; o != nil && depth < 32; depth++ {
		if o.ExportType() == reflect.TypeFor[goja.Proxy]() {
			break
		}
		names := filterNames(o.GetOwnPropertyNames())
		out = append(out, names...)
		o = o.Prototype()
	}
	return dedupe(out)
}

func filterNames(names []string) []string {
	out := names[:0:0]
	for _, k := range names {
		if identifierPattern.Get().MatchString(k) && !strings.HasPrefix(k, "__scriptrun") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func dedupe(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0:0]
	for _, k := range names {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// builderProto is the prototype of request builders, taken from a builder
// made with the original http.get (which sends nothing).
func (n *namer) builderProto() *goja.Object {
	if n.builder == nil && n.httpGet != nil {
		_ = n.s.e.vm.Try(func() {
			if b, err := n.httpGet(goja.Undefined(), n.s.e.vm.ToValue("http://localhost/")); err == nil {
				if o, ok := b.(*goja.Object); ok {
					n.builder = o.Prototype()
				}
			}
		})
	}
	return n.builder
}

// resolve finds what e stands for without running it.
func (n *namer) resolve(e ast.Expression) (resolved, bool) {
	vm := n.s.e.vm
	proto := func(name string) (resolved, bool) {
		p := n.proto(name)
		return resolved{v: p}, p != nil
	}
	switch x := e.(type) {
	case *ast.Identifier:
		v, ok := n.property(vm.GlobalObject(), x.Name.String())
		return resolved{v: v}, ok
	case *ast.ThisExpression:
		return resolved{v: vm.GlobalObject()}, true
	case *ast.StringLiteral, *ast.TemplateLiteral:
		return proto("String")
	case *ast.NumberLiteral:
		return proto("Number")
	case *ast.BooleanLiteral:
		return proto("Boolean")
	case *ast.ArrayLiteral:
		return proto("Array")
	case *ast.ObjectLiteral:
		return proto("Object")
	case *ast.RegExpLiteral:
		return proto("RegExp")
	case *ast.DotExpression:
		return n.member(x.Left, x.Identifier.Name.String())
	case *ast.BracketExpression:
		switch m := x.Member.(type) {
		case *ast.StringLiteral:
			return n.member(x.Left, m.Value.String())
		case *ast.NumberLiteral:
			return n.member(x.Left, m.Literal)
		}
	case *ast.NewExpression:
		c, ok := n.resolve(x.Callee)
		if !ok || c.kind != "" {
			return resolved{}, false
		}
		if ctor, ok := c.v.(*goja.Object); ok {
			if p, ok := n.property(ctor, "prototype"); ok {
				return resolved{v: p}, true
			}
		}
	case *ast.CallExpression:
		return n.call(x)
	}
	return resolved{}, false
}

// member resolves left.name.
func (n *namer) member(left ast.Expression, name string) (resolved, bool) {
	l, ok := n.resolve(left)
	if !ok {
		return resolved{}, false
	}
	var o *goja.Object
	switch l.kind {
	case "builder":
		o = n.builderProto()
	case "response":
		return resolved{}, false
	default:
		if l.v == nil || goja.IsUndefined(l.v) || goja.IsNull(l.v) {
			return resolved{}, false
		}
		o = l.v.ToObject(n.s.e.vm)
	}
	if o == nil {
		return resolved{}, false
	}
	v, ok := n.property(o, name)
	return resolved{v: v}, ok
}

// call resolves the calls whose result is known without making them.
func (n *namer) call(c *ast.CallExpression) (resolved, bool) {
	if dot, ok := c.Callee.(*ast.DotExpression); ok {
		l, ok := n.resolve(dot.Left)
		if ok && l.kind == "builder" {
			switch dot.Identifier.Name.String() {
			case "send":
				return resolved{kind: "response"}, true
			case "sendAsync":
				return resolved{v: n.proto("Promise")}, true
			case "header", "query", "json", "form", "body", "apiTokenAuth", "timeout":
				return resolved{kind: "builder"}, true
			}
			return resolved{}, false
		}
	}
	callee, ok := n.resolve(c.Callee)
	if !ok || callee.kind != "" {
		return resolved{}, false
	}
	fn, ok := callee.v.(*goja.Object)
	if !ok {
		return resolved{}, false
	}
	switch {
	case n.builders[fn]:
		return resolved{kind: "builder"}, true
	case n.fetch != nil && fn == n.fetch:
		return resolved{v: n.proto("Promise")}, true
	}
	return resolved{}, false
}

// property reads o[name] along the prototype chain without calling getters
// written in JavaScript. Native getters (the lazy URL and Headers globals,
// _ and _error) are called; the session's let/const bindings give their value.
func (n *namer) property(o *goja.Object, name string) (goja.Value, bool) {
	s := n.s
	vm := s.e.vm
	if o == vm.GlobalObject() {
		if b, ok := s.bindings[name]; ok {
			if d := s.descriptor(o, name); d != nil && b.getter.SameAs(d.Get("get")) {
				return b.value, b.ready
			}
		}
	}
	for level, depth := o, 0; level != nil && depth < 32; level, depth = level.Prototype(), depth+1 {
		if level.ExportType() == reflect.TypeFor[goja.Proxy]() {
			return nil, false
		}
		desc := s.descriptor(level, name)
		if desc == nil {
			continue
		}
		get := desc.Get("get")
		if get == nil || goja.IsUndefined(get) {
			if set := desc.Get("set"); set != nil && !goja.IsUndefined(set) {
				return nil, false // a setter only
			}
			return desc.Get("value"), true
		}
		getter, ok := goja.AssertFunction(get)
		if !ok || !isNative(vm, get) {
			return nil, false
		}
		var v goja.Value
		if ex := vm.Try(func() {
			var err error
			if v, err = getter(o); err != nil {
				v = nil
			}
		}); ex != nil || v == nil {
			return nil, false
		}
		return v, true
	}
	return nil, false
}

// isNative reports whether fn is implemented in Go rather than JavaScript.
func isNative(vm *goja.Runtime, fn goja.Value) bool {
	src := ""
	_ = vm.Try(func() { src = fn.String() })
	return strings.Contains(src, "[native code]")
}
