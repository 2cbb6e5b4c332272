package bindings_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/bindings"
)

// Installed.Unsent reports the builders given a token and never sent, in
// the order they got it, each at the line of its first apiTokenAuth since
// it was last sent or reported, and forgets them: a builder sent out of
// order, sent and given a token again, given a second token, or reported
// once and given a token again is reported as that history says, and so is
// one given a token in an async function, a callback or through .call and
// Reflect.apply; past 100 builders the rest are not remembered. (The
// positions are those the map-based version before the lazy capture gave.)
func TestUnsentOrderAndPositions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	signer := &fakeSigner{SignFn: func(_ context.Context, _ string, req *http.Request) error {
		req.Header.Set("Authorization", secret)
		return nil
	}}
	vm := goja.New()
	in := bindings.Enable(vm, &testHost{ctx: context.Background(), ch: make(chan func() error)}, bindings.Options{Signer: signer})
	if err := vm.Set("U", srv.URL); err != nil {
		t.Fatal(err)
	}
	run := func(name, src string) {
		t.Helper()
		if _, err := vm.RunScript(name, src); err != nil {
			t.Fatal(err)
		}
	}
	report := func() string {
		var b strings.Builder
		for _, u := range in.Unsent() {
			fmt.Fprintf(&b, "%s %s %s at %s; ", u.Token, u.Method, strings.TrimPrefix(u.URL, srv.URL), u.Position)
		}
		return b.String()
	}
	run("first.js", `const a = http.get(U + '/a').apiTokenAuth('t');
const b = http.post(U + '/b').apiTokenAuth('t');
const c = http.get(U + '/c').apiTokenAuth('t');
b.send();
const d = http.get(U + '/d').apiTokenAuth('t'); d.send();
  d.apiTokenAuth('u');
a.apiTokenAuth('x');
`)
	if got, want := report(), "x GET /a at first.js:1:42; t GET /c at first.js:3:42; u GET /d at first.js:6:17; "; got != want {
		t.Errorf("Unsent:\n got %s\nwant %s", got, want)
	}
	if got := report(); got != "" {
		t.Errorf("Unsent a second time: %s, want nothing (forgotten)", got)
	}
	run("again.js", "\na.apiTokenAuth('y');\nc.send();\n")
	if got, want := report(), "y GET /a at again.js:2:15; "; got != want {
		t.Errorf("Unsent after a builder was reported and given a token again:\n got %s\nwant %s", got, want)
	}
	run("async.js", `(async () => {
  await null;
  globalThis.e = http.get(U + '/e').apiTokenAuth('t');
  await null; await null;
  globalThis.f = http.get(U + '/f').apiTokenAuth('t');
})();
`)
	if got, want := report(), "t GET /e at async.js:3:49; t GET /f at async.js:5:49; "; got != want {
		t.Errorf("Unsent of builders made in an async function:\n got %s\nwant %s", got, want)
	}
	run("indirect.js", `Promise.resolve().then(() => { globalThis.g = http.get(U + '/g').apiTokenAuth('t'); });
globalThis.h = [1].map(() => http.get(U + '/h').apiTokenAuth('t'))[0];
const m = http.get(U + '/i'); globalThis.i = m.apiTokenAuth.call(m, 't');
globalThis.j = Reflect.apply(m.apiTokenAuth, http.get(U + '/j'), ['t']);
`)
	if got, want := report(), "t GET /h at indirect.js:2:61; t GET /i at indirect.js:3:65; t GET /j at indirect.js:4:29; t GET /g at indirect.js:1:78; "; got != want {
		t.Errorf("Unsent of builders given a token indirectly:\n got %s\nwant %s", got, want)
	}
	run("many.js", "const all = []; for (let i = 0; i < 150; i++) all.push(http.get(U + '/' + i).apiTokenAuth('t'));\n")
	got := in.Unsent()
	if len(got) != 100 || got[0].URL != srv.URL+"/0" || got[99].URL != srv.URL+"/99" {
		t.Errorf("Unsent of 150 builders: %d, want the first 100", len(got))
	}
}
