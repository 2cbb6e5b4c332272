package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

// newSession starts a session that is closed when the test ends.
func newSession(t testing.TB, opts runtime.Options) *runtime.Session {
	t.Helper()
	s, err := runtime.NewSession(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// show renders a described value compactly, for comparisons.
func show(v *runtime.Value) string {
	if v == nil {
		return "<nil>"
	}
	entries := func(open, close string) string {
		var parts []string
		for _, e := range v.Entries {
			switch {
			case e.MapKey != nil:
				parts = append(parts, show(e.MapKey)+" => "+show(e.Value))
			case e.Key != "":
				parts = append(parts, e.Key+": "+show(e.Value))
			default:
				parts = append(parts, show(e.Value))
			}
		}
		if v.Omitted > 0 {
			parts = append(parts, fmt.Sprintf("… %d more", v.Omitted))
		}
		return open + strings.Join(parts, ", ") + close
	}
	prefix := ""
	if v.Class != "" {
		prefix = v.Class + " "
	}
	switch v.Kind {
	case runtime.KindUndefined:
		return "undefined"
	case runtime.KindNull:
		return "null"
	case runtime.KindString:
		return "'" + v.Text + "'"
	case runtime.KindBigInt:
		return v.Text + "n"
	case runtime.KindFunction:
		return "[Function: " + v.Text + "]"
	case runtime.KindClass:
		return "[class " + v.Text + "]"
	case runtime.KindArray:
		return prefix + entries("[", "]")
	case runtime.KindObject:
		return prefix + entries("{", "}")
	case runtime.KindMap:
		return fmt.Sprintf("Map(%d) ", v.Len) + entries("{", "}")
	case runtime.KindSet:
		return fmt.Sprintf("Set(%d) ", v.Len) + entries("{", "}")
	case runtime.KindPromise:
		return "Promise<" + v.Text + "> " + entries("{", "}")
	case runtime.KindHeaders:
		return "Headers " + entries("{", "}")
	case runtime.KindError:
		return "Error<" + strings.SplitN(v.Text, "\n", 2)[0] + ">"
	case runtime.KindCircular:
		return "[Circular]"
	case runtime.KindMore:
		return "[" + v.Class + "]"
	case runtime.KindGetter:
		return "[" + v.Text + "]"
	case runtime.KindResponse:
		return fmt.Sprintf("Response %d", v.Response.Status)
	case runtime.KindRequest:
		return "Request " + v.Request.Method + " " + v.Request.URL
	}
	return v.Text
}

// evaluator runs inputs against one session and checks their results.
type evaluator struct {
	t *testing.T
	s *runtime.Session
}

func (ev evaluator) ok(src, want string) {
	ev.t.Helper()
	v, err := ev.s.Eval(context.Background(), src)
	if err != nil {
		ev.t.Fatalf("Eval(%q): %v; want %s", src, err, want)
	}
	if got := show(v); got != want {
		ev.t.Fatalf("Eval(%q) = %s; want %s", src, got, want)
	}
}

func (ev evaluator) fails(src, want string) error {
	ev.t.Helper()
	v, err := ev.s.Eval(context.Background(), src)
	if err == nil {
		ev.t.Fatalf("Eval(%q) = %s; want an error containing %q", src, show(v), want)
	}
	if !strings.Contains(err.Error(), want) {
		ev.t.Fatalf("Eval(%q) failed with %q; want it to contain %q", src, err, want)
	}
	return err
}

func TestSession(t *testing.T) {
	srv, cancelled, arrived := testServer(t)
	var stderr syncBuffer
	s := newSession(t, runtime.Options{Stderr: &stderr, Args: []string{srv.URL}})
	ev := evaluator{t, s}
	ctx := context.Background()

	ev.ok("let x = 40", "undefined")
	ev.ok("x + 2", "42")
	ev.ok("_ + 1", "43")
	ev.ok("'str'", "'str'")
	ev.ok("({ a: [1, 'b'] })", "{a: [1, 'b']}")
	ev.ok("Promise.resolve(5)", "5")
	ev.ok("new Promise(r => setTimeout(() => r('late'), 20))", "'late'")
	ev.ok("typeof process", "'undefined'")

	ev.fails("(async () => { throw new Error('nope'); })()", "Error: nope")
	var se *runtime.ScriptError
	if _, err := s.Eval(ctx, "null.x"); !errors.As(err, &se) || !strings.HasPrefix(se.Message, "TypeError") {
		t.Errorf("TypeError: %v", err)
	}
	var ce *runtime.CompileError
	if _, err := s.Eval(ctx, "let = ;"); !errors.As(err, &ce) {
		t.Errorf("syntax error: %T %v", err, err)
	}

	// Cancelling interrupts a busy evaluation; the session stays usable.
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := s.Eval(tctx, "while (true) {}")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("busy eval: %v, want a deadline error", err)
	}
	ev.ok("x", "40")

	// Cancelling aborts the evaluation's request.
	cctx, cancel := context.WithCancel(ctx)
	go func() { <-arrived; cancel() }()
	if _, err = s.Eval(cctx, "http.get(args[0] + '/slow').sendAsync()"); !errors.Is(err, context.Canceled) {
		t.Fatalf("awaiting eval: %v, want context.Canceled", err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the request cancelled")
	}

	// Background errors are printed, not fatal.
	ev.ok("setTimeout(() => { throw new Error('background') }, 1); 'scheduled'", "'scheduled'")
	stderr.waitFor(t, "Uncaught Error: background")
	ev.ok("x", "40")

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Eval(ctx, "1"); !errors.Is(err, runtime.ErrSessionClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// Declarations behave like Node's REPL: let, const and class may be
// declared again by later input, const cannot be assigned, and the temporal
// dead zone and early errors of a script still apply within one input.
func TestSessionDeclarations(t *testing.T) {
	var stderr syncBuffer
	ev := evaluator{t, newSession(t, runtime.Options{Stderr: &stderr})}
	ev.ok("let a = 1", "undefined")
	ev.ok("let a = 2", "undefined")
	ev.ok("a", "2")
	ev.ok("a = 3; a", "3")
	ev.ok("const c = 1", "undefined")
	ev.fails("c = 2", "TypeError: Assignment to constant variable.")
	ev.ok("c", "1")
	ev.ok("const c = 'again'", "undefined")
	ev.ok("c", "'again'")
	ev.ok("let c = 5; c = 6; c", "6") // const → let
	ev.ok("let u; u", "undefined")
	ev.ok("class K { m() { return 'k' } }", "undefined")
	ev.ok("new K().m()", "'k'")
	ev.ok("class K { m() { return 'k2' } }; new K().m()", "'k2'")
	ev.ok("K.name", "'K'")
	ev.ok("const f = () => 1; f.name", "'f'") // names are still inferred
	ev.ok("let {p, q: [r = 7, ...rest]} = {p: 1, q: [undefined, 8, 9]}", "undefined")
	ev.ok("[p, r, rest]", "[1, 7, [8, 9]]")
	ev.ok("const [m, n] = [1, 2], o = m + n", "undefined")
	ev.ok("o", "3")
	ev.ok("function g() { return a + 1 }", "undefined")
	ev.ok("g()", "4")
	ev.fails("let g = 'shadowed'", "Identifier 'g' has already been declared") // as in Node: g is a var
	ev.ok("typeof globalThis.a", "'number'")
	ev.ok("let z = 1\nlet w = z + 1\nw", "2")
	ev.ok("1; let after = 2", "undefined")
	ev.fails("let t = 1\n[t, 2]", "Cannot access 't' before initialization") // no ASI: let t = 1[t, 2], as in a script

	// Early errors and the temporal dead zone, within one input.
	ev.fails("let d = 1; let d = 2", "Identifier 'd' has already been declared")
	ev.fails("let e = 1; var e = 2", "Identifier 'e' has already been declared")
	ev.fails("let tdz = tdz + 1", "ReferenceError: Cannot access 'tdz' before initialization")
	ev.fails("tdz2; let tdz2 = 1", "ReferenceError")
	// Globals that a script could not shadow either.
	ev.fails("let undefined = 1", "Identifier 'undefined' has already been declared")
	ev.ok("var v = 1", "undefined")
	ev.fails("let v = 2", "Identifier 'v' has already been declared")

	// Assigning _ turns off its updates, as in Node.
	ev.ok("41", "41")
	ev.ok("_ + 1", "42")
	ev.ok("_ = 'mine'", "'mine'")
	ev.ok("1 + 1", "2")
	ev.ok("_", "'mine'")
	if !strings.Contains(stderr.String(), "Expression assignment to _ now disabled.") {
		t.Errorf("stderr %q lacks the notice about _", stderr.String())
	}
}

func TestSessionTopLevelAwait(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"user":"ada","items":[1,2]}`)
	}))
	t.Cleanup(srv.Close)
	ev := evaluator{t, newSession(t, runtime.Options{Args: []string{srv.URL}})}

	ev.ok("await 1", "1")
	ev.ok("await Promise.resolve('x')", "'x'")
	ev.ok("const r = await fetch(args[0])", "undefined")
	ev.ok("r.status", "200")
	ev.ok("(await r.json()).user", "'ada'")
	ev.ok("const { items } = await r.json()", "undefined")
	ev.ok("items", "[1, 2]")
	ev.ok("const r = await http.get(args[0]).sendAsync(); r.json().items.length", "2") // redeclared
	ev.ok("let n = await 1\nn += await 2\nn", "3")
	ev.ok("var hv = await 'hoisted'", "undefined")
	ev.ok("hv", "'hoisted'")
	ev.ok("for (var i = 0; i < 3; i++) await i\ni", "3")
	ev.ok("for (var k of [await 'a', 'b']) {}\nk", "'b'")
	ev.ok("if (true) var inner = await 5\ninner", "5")
	ev.ok("{ var inBlock = await 6 }\ninBlock", "6")
	ev.ok("await null; function later() { return 'fn' }", "undefined")
	ev.ok("later()", "'fn'")
	ev.ok("callEarly(); await null; function callEarly() { return 1 }", "undefined") // hoisted within the input
	ev.ok("class C { v() { return 'c' } }; await null; new C().v()", "'c'")
	ev.ok("{ a: await 1, b: 2 }", "{a: 1, b: 2}")
	ev.ok("{ plain: true } // an object, not a block", "{plain: true}")
	ev.ok("await (Promise.resolve(3))", "3")
	ev.ok("(await 2) * 3 // comment", "6")
	ev.ok("await 1;\n(1 + 2) * 2", "6")
	ev.ok("const z = await 1; z", "1")
	ev.ok("await 1; const q = 2", "undefined")
	ev.ok("q", "2")
	ev.ok("await 1; Promise.resolve('adopted')", "'adopted'")
	ev.ok("try { await Promise.reject(new Error('e')) } catch (e) { e.message }", "undefined")
	ev.ok("let caught; try { await Promise.reject(new Error('e')) } catch (e) { caught = e.message }\ncaught", "'e'")
	ev.ok("(async () => await 4)()", "4") // no top-level await: a promise, awaited
	ev.ok("function f() { return 'await' }\nf()", "'await'")

	ev.fails("await Promise.reject(new Error('rejected'))", "Error: rejected")
	ev.ok("_error.message", "'rejected'")
	ev.fails("await 1; return 5", "Illegal return statement")
	ev.fails("const dup = await 1; const dup = 2", "Identifier 'dup' has already been declared")
	ev.fails("function g() { await 1 }", "SyntaxError")
	ev.fails("await foo(;", "SyntaxError")
}

// Errors name positions in the input as typed, not in the rewritten code.
func TestSessionErrorPositions(t *testing.T) {
	var stderr syncBuffer
	s := newSession(t, runtime.Options{Stderr: &stderr})
	ev := evaluator{t, s}
	ev.fails("await null; null.x", "REPL1:1:18")
	ev.ok("_error.stack.includes('REPL1:1:18')", "true")
	ev.fails("await 1;\n  undefinedThing", "REPL3:2:3")
	ev.fails("class A { constructor() { this.x = nope } }; new A()", "REPL4:1:36")
	ev.fails("{ a: await 1, b: nope }", "REPL5:1:18")
	ev.fails("let ok = 1\nlet bad = nope", "REPL6:2:11")
	ev.fails("let d = 1; let d = 2", "REPL7:1:16")
	ev.ok("setTimeout(async () => { await null; boom }, 0); 1", "1")
	stderr.waitFor(t, "REPL8:1:38") // the background error's position
	ev.ok("const e = await Promise.resolve(new Error('made')); e", "Error<Error: made>")
	v, _ := s.Eval(context.Background(), "e")
	if !strings.Contains(v.Text, "REPL9:1:33") {
		t.Errorf("an error value's stack %q lacks REPL9:1:33", v.Text)
	}
}

func TestIncomplete(t *testing.T) {
	incomplete := []string{
		"foo(", "function f() {", "`abc", "`a ${", "/* comment", "a = 1 +", "if (x)", "[1, 2",
		"let x = {a: 1,", "x.", "const a = 1,", "class A {", "async () => {", "switch (x) {",
		"switch (x) { case 1:", "await fetch(u, {", "const r = await fetch(u, {\n  method: 'POST',",
		"try {\n  f()\n}", "http.get(u).", "obj = {\n  a: 1,\n", "(await f()).then(x =>",
		"for (const x of xs) {", "do {", "{", "{ a: await 1,", "await x; switch (y) {",
	}
	complete := []string{
		"", "   ", "1", "foo()", "let x = 1", "}", ")", "'abc", "\"abc\n", "/re", "x = /abc",
		"try {} foo", "return 1", "await 1", "{a: 1}", "// comment", "switch (x) {}", "a\nb",
		"function f() { await 1 }", "await foo(;", "let let = 1",
	}
	for _, src := range incomplete {
		if !runtime.Incomplete(src) {
			t.Errorf("Incomplete(%q) = false, want true", src)
		}
	}
	for _, src := range complete {
		if runtime.Incomplete(src) {
			t.Errorf("Incomplete(%q) = true, want false", src)
		}
	}
}

func TestSessionValues(t *testing.T) {
	ev := evaluator{t, newSession(t, runtime.Options{})}
	tests := []struct{ src, want string }{
		{"undefined", "undefined"},
		{"null", "null"},
		{"-0", "-0"},
		{"1e21", "1e+21"},
		{"10n ** 20n", "100000000000000000000n"},
		{"true", "true"},
		{"Symbol('s')", "Symbol(s)"},
		{"function named() {}", "undefined"},
		{"named", "[Function: named]"},
		{"(() => {})", "[Function: ]"},
		{"class Shape {}; Shape", "[class Shape]"},
		{"new Shape()", "Shape {}"},
		{"Object.create(null)", "[Object: null prototype] {}"},
		{"[1, [2, [3, [4, [5, [6, [7]]]]]]]", "[1, [2, [3, [4, [5, [Array]]]]]]"},
		{"const cyc = {name: 'c'}; cyc.self = cyc; cyc", "{name: 'c', self: [Circular]}"},
		{"new Map([['k', {v: 1}]])", "Map(1) {'k' => {v: 1}}"},
		{"new Set([1, 'two'])", "Set(2) {1, 'two'}"},
		{"({get g() { throw new Error('never called') }, set s(v) {}})", "{g: [Getter], s: [Setter]}"},
		{"new Error('boom')", "Error<Error: boom>"},
		{"Object.assign(new Error('coded'), {code: 'X'})", "Error<Error: coded>"},
		{"new Date(0)", "1970-01-01T00:00:00.000Z"},
		{"new Date(NaN)", "Invalid Date"},
		{"/a+b/gi", "/a+b/gi"},
		{"Array.from({length: 150}, (_, i) => i).length", "150"},
		{"new Proxy({}, {ownKeys() { throw new Error('trap') }})", "Proxy {}"},
		{"const arr = [1, 2]; arr.extra = 'x'; arr", "[1, 2, extra: 'x']"},
		{"new Headers({'X-A': '1', Authorization: 'Bearer secret'})", "Headers {authorization: '[hidden]', x-a: '1'}"},
		{"http.get('https://example.com/x').query({a: 1})", "Request GET https://example.com/x?a=1"},
	}
	for _, tt := range tests {
		ev.ok(tt.src, tt.want)
	}
	v, err := ev.s.Eval(context.Background(), "Array.from({length: 150}, (_, i) => i)")
	if err != nil || len(v.Entries) != runtime.DescribeEntries || v.Omitted != 50 || v.Len != 150 {
		t.Errorf("long array: %d entries, %d omitted, len %d, %v", len(v.Entries), v.Omitted, v.Len, err)
	}
	v, err = ev.s.Eval(context.Background(), "'x'.repeat(20000)")
	if err != nil || len(v.Text) != runtime.DescribeString || v.Len != 20000 {
		t.Errorf("long string: %d bytes kept, len %d, %v", len(v.Text), v.Len, err)
	}
	v, err = ev.s.Eval(context.Background(), "Object.assign(new Error('coded'), {code: 'X'})")
	if err != nil || !strings.Contains(v.Text, `code: "X"`) || !strings.Contains(v.Text, "at REPL") {
		t.Errorf("error with a code: %q, %v", v.Text, err)
	}
	v, err = ev.s.Eval(context.Background(), "globalThis")
	if err != nil || v.Kind != runtime.KindObject {
		t.Fatalf("globalThis: %v %v", show(v), err)
	}
	for _, e := range v.Entries {
		if e.Key == "cyc" && e.Value.Kind == runtime.KindGetter {
			t.Errorf("globalThis shows the let binding cyc as a getter, not its value")
		}
	}
}

// A response prints status, headers and body, never the Authorization
// header the signer set, and masks cookies.
func TestSessionResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret-access-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "session=abc123")
		w.Header().Set("Authorization", "Bearer echoed-by-a-strange-server")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	s := newSession(t, runtime.Options{Signer: staticSigner("Bearer s3cret-access-token"), Args: []string{srv.URL}})
	for _, src := range []string{
		"http.get(args[0]).apiTokenAuth('t').send()",
		"http.get(args[0]).apiTokenAuth('t').sendAsync()",
		"await fetch(args[0], {apiTokenAuth: 't'})",
	} {
		v, err := s.Eval(context.Background(), src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if v.Kind != runtime.KindResponse {
			t.Fatalf("%s: %s, want a response", src, show(v))
		}
		r := v.Response
		if r.Status != 200 || string(r.Body) != `{"ok":true}` || r.ContentType != "application/json" || r.Fetch != strings.Contains(src, "fetch") {
			t.Errorf("%s: %+v", src, r)
		}
		for _, h := range r.Headers {
			if h.Name == "authorization" || strings.Contains(h.Value, "s3cret") || strings.Contains(h.Value, "echoed") {
				t.Errorf("%s: response shows %s: %s", src, h.Name, h.Value)
			}
			if h.Name == "set-cookie" && h.Value != "[hidden]" {
				t.Errorf("%s: set-cookie shown as %q", src, h.Value)
			}
		}
	}
	v, err := s.Eval(context.Background(), "http.get(args[0]).apiTokenAuth('t').header('Authorization', 'Bearer typed').timeout(500)")
	if err != nil || v.Kind != runtime.KindRequest {
		t.Fatalf("builder: %v %v", show(v), err)
	}
	if rq := v.Request; rq.Token != "t" || rq.Timeout != 500 || len(rq.Headers) != 1 || rq.Headers[0].Value != "[hidden]" {
		t.Errorf("builder: %+v", rq)
	}
}

// staticSigner signs every request with one Authorization value.
type staticSigner string

func (s staticSigner) Sign(_ context.Context, _ string, req *http.Request) error {
	req.Header.Set("Authorization", string(s))
	return nil
}

func (s staticSigner) Rejects(_ string, status int, _ []byte) (bool, int) { return status == 401, 0 }

func (s staticSigner) Rejected(context.Context, string, *http.Request) error { return nil }

func (s staticSigner) Permits(string, *url.URL) bool { return true }

func TestSessionNames(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") }))
	t.Cleanup(srv.Close)
	s := newSession(t, runtime.Options{Args: []string{srv.URL}})
	ev := evaluator{t, s}
	ev.ok("const cfg = {base: 'x', nested: {deep: 1}}", "undefined")
	ev.ok("let sideEffects = 0; const tricky = {get boom() { sideEffects++; return {a: 1} }}", "undefined")
	ev.ok("const res = http.get(args[0]).send()", "undefined")
	ctx := context.Background()
	tests := []struct {
		expr       string
		has, hasnt []string
	}{
		{"", []string{"http", "fetch", "console", "cfg", "JSON", "Promise", "URL", "setTimeout", "_"}, nil},
		{"cfg", []string{"base", "nested", "hasOwnProperty"}, nil},
		{"cfg.nested", []string{"deep"}, []string{"base"}},
		{"cfg['nested']", []string{"deep"}, nil},
		{"http", []string{"get", "post", "put", "patch", "delete", "head", "request"}, nil},
		{"http.get(u)", []string{"apiTokenAuth", "header", "query", "json", "form", "body", "timeout", "send", "sendAsync", "method", "url"}, nil},
		{"http.post(u).json({a: 1}).header('a', 'b')", []string{"apiTokenAuth", "send"}, nil},
		{"http.get(u).apiTokenAuth('x').send()", []string{"status", "ok", "headers", "body", "json", "header", "text"}, nil},
		{"http.get(u).sendAsync()", []string{"then", "catch", "finally"}, nil},
		{"fetch(u)", []string{"then"}, nil},
		{"res", []string{"status", "ok", "statusText", "url", "headers", "body", "json", "header", "text"}, nil},
		{"'abc'", []string{"length", "toUpperCase", "split"}, nil},
		{"[1, 2]", []string{"map", "filter", "length"}, nil},
		{"new URL('https://x.example')", []string{"searchParams", "hostname"}, nil},
		{"console", []string{"log", "error"}, nil},
		{"tricky.boom", nil, []string{"a"}}, // a getter written in JavaScript is not called
		{"nosuch", nil, nil},
		{"foo()", nil, nil},
		{"1 +", nil, nil},
	}
	for _, tt := range tests {
		names, err := s.Names(ctx, tt.expr)
		if err != nil {
			t.Fatalf("Names(%q): %v", tt.expr, err)
		}
		set := map[string]bool{}
		for _, n := range names {
			set[n] = true
		}
		for _, want := range tt.has {
			if !set[want] {
				t.Errorf("Names(%q) lacks %q: %v", tt.expr, want, names)
			}
		}
		for _, bad := range tt.hasnt {
			if set[bad] {
				t.Errorf("Names(%q) has %q: %v", tt.expr, bad, names)
			}
		}
	}
	ev.ok("sideEffects", "0")
	// Own properties come before inherited ones.
	names, _ := s.Names(ctx, "cfg")
	if len(names) < 2 || names[0] != "base" || names[1] != "nested" {
		t.Errorf("Names(cfg) = %v, want its own properties first", names)
	}
}

// The static list of response names matches real responses.
func TestNamesMatchResponses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	s := newSession(t, runtime.Options{Args: []string{srv.URL}})
	if _, err := s.Eval(context.Background(), "const res = http.get(args[0]).send()"); err != nil {
		t.Fatal(err)
	}
	real, _ := s.Names(context.Background(), "res")
	static, _ := s.Names(context.Background(), "http.get(u).send()")
	if strings.Join(real, ",") != strings.Join(static, ",") {
		t.Errorf("names of a response %v differ from the static ones %v", real, static)
	}
}

func TestSessionLoad(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	writeFile(t, dir, "lib.js", "const greeting = 'hi'\nfunction greet(n) { return greeting + ' ' + n }\nconst { helper } = require('./util/helper.js')\nconst loaded = await Promise.resolve(helper())")
	writeFile(t, dir, "util/helper.js", "exports.helper = () => 'helped'")
	writeFile(t, dir, "broken.js", "function broken() {\n  throw new Error('from a file')\n}\nbroken()")
	writeFile(t, dir, "data.json", `{"n": 1}`)
	writeFile(t, dir, "notes.txt", "secret")
	writeFile(t, outside, "evil.js", "'outside'")
	if err := os.Symlink(filepath.Join(outside, "evil.js"), filepath.Join(dir, "link.js")); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, runtime.Options{Folder: dir})
	ev := evaluator{t, s}
	ctx := context.Background()
	if _, err := s.Load(ctx, "lib.js"); err != nil {
		t.Fatal(err)
	}
	ev.ok("greet('ada')", "'hi ada'")
	ev.ok("loaded", "'helped'")
	if _, err := s.Load(ctx, filepath.Join(dir, "lib.js")); err != nil { // again, by absolute path: const may be redeclared
		t.Fatal(err)
	}
	ev.ok("require('./util/helper.js').helper()", "'helped'")
	if v, err := s.Load(ctx, "data.json"); err != nil || show(v) != "{n: 1}" {
		t.Errorf("load data.json: %s, %v", show(v), err)
	}
	_, err := s.Load(ctx, "broken.js")
	if err == nil || !strings.Contains(err.Error(), "broken.js:2:") {
		t.Errorf("load broken.js: %v, want a stack naming broken.js:2", err)
	}
	for _, bad := range []struct{ path, want string }{
		{"../" + filepath.Base(outside) + "/evil.js", "outside the folder"},
		{filepath.Join(outside, "evil.js"), "outside the folder"},
		{"link.js", "outside the folder"},
		{"notes.txt", "not a .js or .json file"},
		{"missing.js", "no such file"},
		{"/etc/passwd", "outside the folder"},
	} {
		if _, err := s.Load(ctx, bad.path); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Load(%q): %v, want an error saying %q", bad.path, err, bad.want)
		}
	}
	// Without a folder there is nothing to load or require.
	plain := newSession(t, runtime.Options{})
	if _, err := plain.Load(ctx, "lib.js"); err == nil {
		t.Error("a session without a folder loaded a file")
	}
}

// Ctrl-C also frees the loop from background JavaScript that never ends,
// so the session stays usable.
func TestSessionInterruptsBackgroundWork(t *testing.T) {
	var stdout, stderr syncBuffer
	s := newSession(t, runtime.Options{Stdout: &stdout, Stderr: &stderr})
	ev := evaluator{t, s}
	ev.ok("setTimeout(() => { console.log('busy'); while (true) {} }, 0); 'started'", "'started'")
	stdout.waitFor(t, "busy") // the busy timer ran
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err := s.Eval(ctx, "1")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("eval behind a busy loop: %v", err)
	}
	ev.ok("2", "2")
	ev.ok("await new Promise(r => setTimeout(r, 1)); 3", "3")
	// Ctrl-C during an await: the continuation does not run later.
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = s.Eval(ctx, "await new Promise(r => setTimeout(r, 300)); globalThis.ran = true")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("awaiting eval: %v", err)
	}
	// A timer set later for longer runs after the continuation's would have.
	ev.ok("await new Promise(r => setTimeout(r, 400)); typeof ran", "'undefined'")

	// A cancelled loop of awaits stops for good, timers and requests alike;
	// work of evaluations that finished goes on.
	ev.ok("let ticks = 0, kept = 0; setInterval(() => kept++, 5); 'interval'", "'interval'")
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		if !stdout.wait("tick", 10*time.Second) {
			t.Error("the loop of awaits never ticked")
		}
		cancel()
	}()
	_, err = s.Eval(ctx, "while (true) { await new Promise(r => setTimeout(r, 5)); ticks++; console.log('tick') }")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("loop of awaits: %v", err)
	}
	v1, _ := s.Eval(context.Background(), "[ticks, kept]")
	// Ten more runs of the 5 ms interval, set before the loop's last 5 ms
	// timer fired or was dropped: a live loop would have ticked meanwhile.
	// Read with plain evaluations: TestSessionCtrlCDuringAwaitsKeepsPromises
	// is the test of awaiting after a Ctrl-C.
	ev.ok("var keptAtStop = kept; 'marked'", "'marked'")
	var v2 *runtime.Value
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := s.Eval(context.Background(), "kept >= keptAtStop + 10")
		if err != nil {
			t.Fatal(err)
		}
		if v.Text == "true" {
			v2, _ = s.Eval(context.Background(), "[ticks, kept]")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the earlier evaluation's interval did not run 10 more times in 10 s: did Ctrl-C stop it?")
		}
		// Each evaluation is a turn of the event loop, where the interval runs.
	}
	if v1.Entries[0].Value.Text != v2.Entries[0].Value.Text {
		t.Errorf("the cancelled loop goes on: ticks %s, then %s", v1.Entries[0].Value.Text, v2.Entries[0].Value.Text)
	}
	if v1.Entries[1].Value.Text == v2.Entries[1].Value.Text {
		t.Errorf("Ctrl-C stopped the interval of an earlier evaluation too (kept = %s)", v2.Entries[1].Value.Text)
	}
	if strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr: %q", stderr.String())
	}
}

func TestSessionTimeout(t *testing.T) {
	s := newSession(t, runtime.Options{Timeout: 100 * time.Millisecond})
	var te *runtime.TimeoutError
	if _, err := s.Eval(context.Background(), "while (true) {}"); !errors.As(err, &te) {
		t.Fatalf("busy eval with a timeout: %v", err)
	}
	evaluator{t, s}.ok("'still here'", "'still here'")
}

func BenchmarkNewSession(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s, err := runtime.NewSession(runtime.Options{})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkEval measures one small input, including its rewriting.
func BenchmarkEval(b *testing.B) {
	s := newSession(b, runtime.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Eval(ctx, "const x = [1, 2, 3].map(n => n * 2); x"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvalAwait measures one input that uses top-level await.
func BenchmarkEvalAwait(b *testing.B) {
	s := newSession(b, runtime.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Eval(ctx, "const y = await Promise.resolve({a: 1}); y"); err != nil {
			b.Fatal(err)
		}
	}
}

// Continue applies a line to the last input's value, or to the variable it
// declared, without running the input again.
func TestSessionContinue(t *testing.T) {
	s := newSession(t, runtime.Options{})
	ev := evaluator{t, s}
	ctx := context.Background()
	cont := func(line, want string) {
		t.Helper()
		v, err := s.Continue(ctx, line)
		if err != nil {
			t.Fatalf("Continue(%q): %v; want %s", line, err, want)
		}
		if got := show(v); got != want {
			t.Fatalf("Continue(%q) = %s; want %s", line, got, want)
		}
	}
	if _, err := s.Continue(ctx, ".x"); !errors.Is(err, runtime.ErrNoContinuation) {
		t.Fatalf("Continue before any input: %v", err)
	}
	ev.ok("var calls = 0; function make() { calls++; return { n: 1, inc() { this.n++; return this } } }", "undefined")
	ev.ok("const o = make()", "undefined")
	cont("  .inc()", "undefined") // o is redeclared with the result
	cont(".inc()", "undefined")
	ev.ok("o.n + ' ' + calls", "'3 1'")
	ev.ok("make().inc()", "{n: 2, inc: [Function: inc]}")
	cont(".inc().n", "3")
	ev.ok("calls", "2")

	// A value that was awaited is awaited again when continued.
	ev.ok("const body = await Promise.resolve({ json() { return Promise.resolve(42) } })", "undefined")
	cont(".json()", "undefined")
	ev.ok("body", "42")

	// A failed continuation keeps the input to continue; its positions are
	// those of the line.
	ev.ok("let text = 'ab'", "undefined")
	_, err := s.Continue(ctx, "\n  .nope()")
	var se *runtime.ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Stack, ":2:") {
		t.Errorf("a failing continuation: %v; want a position on the line's own line 2", err)
	}
	cont(".toUpperCase()", "undefined")
	ev.ok("text", "'AB'")

	// A semicolon, a failure or a statement ends what can be continued.
	for _, src := range []string{"1;", "nope()", "if (true) 1"} {
		_, _ = s.Eval(ctx, src)
		if _, err := s.Continue(ctx, ".x"); !errors.Is(err, runtime.ErrNoContinuation) {
			t.Errorf("Continue after %q: %v, want ErrNoContinuation", src, err)
		}
	}
	names, _ := s.Names(ctx, "")
	for _, n := range names {
		if strings.HasPrefix(n, "__scriptrun") {
			t.Errorf("completion offers %s", n)
		}
	}
}

// Ctrl-C while awaiting must leave promises working: an interrupt landing
// in a resumed async function breaks goja's promise jobs, so a stop only
// interrupts code that keeps the loop busy. Repeated: the landing is a race.
func TestSessionCtrlCDuringAwaitsKeepsPromises(t *testing.T) {
	for i := range 10 {
		var stdout, stderr syncBuffer
		s := newSession(t, runtime.Options{Stdout: &stdout, Stderr: &stderr})
		ev := evaluator{t, s}
		ev.ok("let kept = 0; setInterval(() => kept++, 5); 'interval'", "'interval'")
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			stdout.wait("tick", 10*time.Second)
			cancel()
		}()
		_, err := s.Eval(ctx, "while (true) { await new Promise(r => setTimeout(r, 5)); console.log('tick') }")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: loop of awaits: %v", i, err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		_, err = s.Eval(ctx, "await new Promise(r => { const k = kept, t = setInterval(() => { if (kept >= k + 3) { clearInterval(t); r() } }, 1) }); 'awaited'")
		cancel()
		if err != nil {
			t.Fatalf("round %d: await after Ctrl-C: %v (stderr %q)", i, err, stderr.String())
		}
	}
}

// Busy code after an await is interrupted inside a promise job, which goja
// does not recover from: the session says so, and an await fails at once
// instead of hanging. Plain evaluations go on working.
func TestSessionInterruptedContinuationSaysPromisesBroken(t *testing.T) {
	var stdout, stderr syncBuffer
	s := newSession(t, runtime.Options{Stdout: &stdout, Stderr: &stderr})
	ev := evaluator{t, s}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		stdout.wait("busy", 10*time.Second)
		cancel()
	}()
	_, err := s.Eval(ctx, "await null; console.log('busy'); while (true) {}")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("busy continuation: %v", err)
	}
	ev.ok("1 + 1", "2")
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = s.Eval(ctx, "await 1")
	switch {
	case err == nil:
		// goja unwound the job after all (a fixed goja): promises work.
		t.Log("promises still work after the interrupt")
	case errors.Is(err, runtime.ErrPromisesBroken):
		if !strings.Contains(stderr.String(), "start a new session") {
			t.Errorf("stderr %q does not tell the user what happened", stderr.String())
		}
	default:
		t.Fatalf("await after an interrupted continuation: %v, want ErrPromisesBroken at once", err)
	}
}
