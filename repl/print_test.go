package repl

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/termtext"
)

// evalValue evaluates src in a fresh session and returns its description.
func evalValue(t *testing.T, s *runtime.Session, src string) *runtime.Value {
	t.Helper()
	v, err := s.Eval(context.Background(), src)
	if err != nil {
		t.Fatalf("Eval(%q): %v", src, err)
	}
	return v
}

func TestPrint(t *testing.T) {
	s, err := runtime.NewSession(runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := Printer{Width: 60}
	tests := []struct{ src, want string }{
		{"undefined", "undefined"},
		{"null", "null"},
		{"42", "42"},
		{"-0", "-0"},
		{"2n ** 64n", "18446744073709551616n"},
		{"'it\\'s'", `"it's"`},
		{"'a\\nb\\t\\u0001'", `'a\nb\t\u0001'`},
		{"`both ' and \"`", "`both ' and \"`"},
		{"Symbol('s')", "Symbol(s)"},
		{"function named() {}; named", "[Function: named]"},
		{"(() => {})", "[Function (anonymous)]"},
		{"class K {}; K", "[class K]"},
		{"new K()", "K {}"},
		{"[]", "[]"},
		{"({})", "{}"},
		{"[1, 'two', null, undefined, true]", "[ 1, 'two', null, undefined, true ]"},
		{"({a: 1, 'b-c': 2, 3: 'n', nested: {x: [1]}})", "{ '3': 'n', a: 1, 'b-c': 2, nested: { x: [ 1 ] } }"},
		{"new Map([['k', 1]])", "Map(1) { 'k' => 1 }"},
		{"new Set([1])", "Set(1) { 1 }"},
		{"Promise.reject(new Error('x')).catch(() => {}); [Promise.resolve(1)]", "[ Promise { 1 } ]"},
		{"[new Promise(() => {})]", "[ Promise { <pending> } ]"},
		{"new Date(0)", "1970-01-01T00:00:00.000Z"},
		{"/x/g", "/x/g"},
		{"const c = {}; c.c = c; c", "{ c: [Circular] }"},
		{"({get g() { return 1 }})", "{ g: [Getter] }"},
		{"[new Error('inner')]", "[ [Error: inner] ]"},
		{"({deep: {a: {b: {c: {d: {e: 1}}}}}})", "{ deep: { a: { b: { c: { d: [Object] } } } } }"},
		{"Object.create(null)", "[Object: null prototype] {}"},
		{"http.get('https://api.example.com/v1/me')", "Request GET https://api.example.com/v1/me (not sent: .send() or .sendAsync())"},
		{"http.post('https://a.example/x').apiTokenAuth('t').json({a: 1})", "Request POST https://a.example/x {\n  apiTokenAuth: 't',\n  headers: { 'content-type': 'application/json' },\n  body: 7 bytes\n}"},
		{"({long: 'x'.repeat(30), other: 'y'.repeat(30)})", "{\n  long: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',\n  other: 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'\n}"},
	}
	for _, tt := range tests {
		if got := p.Value(evalValue(t, s, tt.src)); got != tt.want {
			t.Errorf("%s printed\n%s\nwant\n%s", tt.src, got, tt.want)
		}
	}
	// Many short elements are packed several to a line.
	got := p.Value(evalValue(t, s, "Array.from({length: 30}, (_, i) => i * 100)"))
	lines := strings.Split(got, "\n")
	if len(lines) < 3 || len(lines) > 8 || !strings.HasPrefix(lines[1], "  0,") {
		t.Errorf("30 numbers printed as:\n%s", got)
	}
	got = p.Value(evalValue(t, s, "Array.from({length: 150}, (_, i) => i)"))
	if !strings.Contains(got, "... 50 more items") {
		t.Errorf("150 elements printed without saying 50 were left out:\n%s", got)
	}
	got = p.Value(evalValue(t, s, "'z'.repeat(10005)"))
	if !strings.HasSuffix(got, "... 5 more characters") {
		t.Errorf("long string ends %q", got[len(got)-40:])
	}
	got = p.Value(evalValue(t, s, "new Error('top')"))
	if !strings.HasPrefix(got, "Error: top\n    at REPL") {
		t.Errorf("error printed as %q", got)
	}
}

func TestPrintColour(t *testing.T) {
	s, err := runtime.NewSession(runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := Printer{Color: true}
	got := p.Value(evalValue(t, s, "({n: 1, s: 'x', u: undefined, f() {}})"))
	for _, want := range []string{styleYellow + "1" + styleReset, styleGreen + "'x'" + styleReset, styleDim + "undefined" + styleReset, styleCyan + "[Function: f]" + styleReset} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if visibleLen(got) != len("{ n: 1, s: 'x', u: undefined, f: [Function: f] }") {
		t.Errorf("visible length of %q is %d", got, visibleLen(got))
	}
}

// A response prints its status, headers and a preview of its body, never
// the Authorization header the signer set.
func TestPrintResponse(t *testing.T) {
	big := strings.Repeat(`{"id": 1, "subject": "hello"},`, 400)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Set-Cookie", "sid=topsecret")
			fmt.Fprint(w, `{"user":"ada","auth":"`+r.Header.Get("Authorization")[:6]+`"}`)
		case "/big":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "["+big+`{"id": 2}]`)
		case "/binary":
			w.Write([]byte{0x89, 'P', 'N', 'G', 0, 1, 2})
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/missing":
			http.NotFound(w, r)
		case "/hostile":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("X-Note", "a\u202eb")
			fmt.Fprint(w, "clip\x1b]52;c;ZXZpbA==\x07 \x1b[2J \u009b1m \u202eevil\nline two")
		}
	}))
	t.Cleanup(srv.Close)
	s, err := runtime.NewSession(runtime.Options{Signer: bearer("the-access-token"), Args: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := Printer{}

	got := p.Value(evalValue(t, s, "await fetch(args[0] + '/json', {apiTokenAuth: 'x'})"))
	for _, want := range []string{"Response (fetch) 200 OK " + srv.URL + "/json", "content-type: application/json", "set-cookie: [hidden]", "{\n  \"user\": \"ada\",\n  \"auth\": \"Bearer\"\n}"} {
		if !strings.Contains(got, want) {
			t.Errorf("response lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(strings.ToLower(got), "authorization") || strings.Contains(got, "the-access-token") || strings.Contains(got, "topsecret") {
		t.Errorf("the printed response shows a credential:\n%s", got)
	}

	got = p.Value(evalValue(t, s, "http.get(args[0] + '/big').send()"))
	if lines := strings.Count(got, "\n"); lines > previewLines+previewHeaders+5 {
		t.Errorf("big body printed in %d lines", lines)
	}
	if !strings.Contains(got, "res.body or res.json() has all of it") {
		t.Errorf("big body preview does not say how to get the rest:\n%s", got[len(got)-200:])
	}
	if got := p.Value(evalValue(t, s, "http.get(args[0] + '/binary').send()")); !strings.HasSuffix(got, "(binary body, 7 bytes)") {
		t.Errorf("binary body printed as:\n%s", got)
	}
	if got := p.Value(evalValue(t, s, "http.get(args[0] + '/empty').send()")); !strings.Contains(got, "204 No Content") || !strings.HasSuffix(got, "(empty body)") {
		t.Errorf("empty body printed as:\n%s", got)
	}
	if got := p.Value(evalValue(t, s, "http.get(args[0] + '/missing').send()")); !strings.Contains(got, "404 Not Found") || !strings.Contains(got, "404 page not found") {
		t.Errorf("404 printed as:\n%s", got)
	}
	// A server's body and headers are shown as text: no escape sequence
	// reaches the terminal (OSC 52 would write the clipboard).
	got = Printer{Color: true}.Value(evalValue(t, s, "http.get(args[0] + '/hostile').send()"))
	plain := ansi.Get().ReplaceAllString(got, "") // the printer's own colours
	for _, r := range plain {
		if r != '\n' && r != '\t' && termtext.Unsafe(r) {
			t.Errorf("the printed response holds %U raw: %q", r, got)
			break
		}
	}
	if !strings.Contains(plain, `clip\x1b]52;c;ZXZpbA==\x07 \x1b[2J \u009b1m \u202eevil`+"\nline two") || !strings.Contains(plain, `x-note: a\u202eb`) {
		t.Errorf("the hostile response is not shown as text:\n%s", plain)
	}
	if got := (Printer{}).Error("Error: \x1b]0;title\x07 failed"); got != `Error: \x1b]0;title\x07 failed` {
		t.Errorf("Error printed as %q", got)
	}
	got = Printer{Color: true}.Value(evalValue(t, s, "http.get(args[0] + '/missing').send()"))
	if !strings.Contains(got, styleBold+styleRed+"404 Not Found") {
		t.Errorf("404 in colour: %q", got)
	}
}

// bearer signs every request with a fixed access token.
type bearer string

func (b bearer) Sign(_ context.Context, _ string, req *http.Request) error {
	req.Header.Set("Authorization", "Bearer "+string(b))
	return nil
}

func (b bearer) Rejects(_ string, status int, _ []byte) (bool, int) { return status == 401, 0 }

func (b bearer) Rejected(context.Context, string, *http.Request) error { return nil }

func (b bearer) Permits(string, *url.URL) bool { return true }

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "'plain'"},
		{"it's", `"it's"`},
		{`it's "x"`, "`it's \"x\"`"},
		{"it's \"x\" `y`", `'it\'s "x" ` + "`y`'"},
		{"back\\slash", `'back\\slash'`},
		{"\x7f", `'\u007f'`},
		{"é ✓", "'é ✓'"},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
