package runtime_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/runtime"
)

// webAPIScript touches every global package webapi adds, and Buffer, and
// prints what they gave; the same script is run by the cron tests.
const webAPIScript = `(async () => {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode('key'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode('The quick brown fox jumps over the lazy dog')));
  await new Promise((resolve) => queueMicrotask(resolve));
  console.log([
    btoa(String.fromCharCode(...mac)), atob('aGk='), new TextDecoder().decode(new Uint8Array([0xe2, 0x82, 0xac])),
    crypto.randomUUID().length, typeof performance.now(), structuredClone(new Map([[1, 2]])).get(1),
    require('buffer').Buffer.from('hi').toString('hex'), new DOMException('x', 'AbortError').code,
    AbortSignal.abort().reason.name, new AbortController().signal.aborted,
    await new Response('body', { status: 201 }).text(), new Request('https://example.com/', { method: 'post' }).method,
  ].join(' '));
})();`

// webAPIWant is what webAPIScript prints: the HMAC is Wikipedia's
// HMAC_SHA256("key", "The quick brown fox jumps over the lazy dog").
const webAPIWant = "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg= hi € 36 number 2 6869 20 AbortError false body POST\n"

// The Web globals are there, the same, in a run and in a REPL session.
func TestWebAPIGlobals(t *testing.T) {
	t.Run("run", func(t *testing.T) {
		s, err := runtime.CompileSource("webapi.js", webAPIScript)
		if err != nil {
			t.Fatal(err)
		}
		out, errOut, err := run(t, s, context.Background(), runtime.Options{})
		if err != nil || out != webAPIWant {
			t.Fatalf("run printed %q (stderr %q, error %v), want %q", out, errOut, err, webAPIWant)
		}
	})
	t.Run("session", func(t *testing.T) {
		var out bytes.Buffer
		s := newSession(t, runtime.Options{Stdout: &out})
		// As typed in the REPL: top-level await, one input after another.
		for _, src := range []string{
			`const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('key'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])`,
			`const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode('The quick brown fox jumps over the lazy dog')))`,
			webAPIScript,
		} {
			if _, err := s.Eval(context.Background(), src); err != nil {
				t.Fatalf("Eval(%.40q…): %v", src, err)
			}
		}
		v, err := s.Eval(context.Background(), `btoa(String.fromCharCode(...mac))`)
		if err != nil {
			t.Fatal(err)
		}
		if got := show(v); !strings.Contains(got, "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=") {
			t.Errorf("the HMAC typed in the session = %s", got)
		}
		// Reading the output after one more turn of the loop, however
		// Eval waits, leaves the async function time to print.
		if _, err := s.Eval(context.Background(), `await new Promise((r) => setTimeout(r, 0))`); err != nil {
			t.Fatal(err)
		}
		if out.String() != webAPIWant {
			t.Errorf("session printed %q, want %q", out.String(), webAPIWant)
		}
		// The REPL shows what an input gives; these must describe, not fail.
		for _, src := range []string{
			"key", "crypto", "crypto.subtle", "new TextDecoder()", "new AbortController()", "AbortSignal.timeout(1000)",
			"new Request('https://example.com/', { apiTokenAuth: 'secret-name' })", "new Response('x')", "performance",
			"new DOMException('m', 'AbortError')", "structuredClone", "atob",
		} {
			v, err := s.Eval(context.Background(), src)
			if err != nil {
				t.Errorf("Eval(%q): %v", src, err)
				continue
			}
			if got := show(v); strings.Contains(got, "secret-name") {
				t.Errorf("Eval(%q) shows the token name: %s", src, got)
			}
		}
		// Tab completion knows the new globals and their methods.
		for expr, want := range map[string]string{"": "structuredClone", "crypto.subtle": "importKey", "http.get(u)": "signal"} {
			names, err := s.Names(context.Background(), expr)
			if err != nil || !slices.Contains(names, want) {
				t.Errorf("Names(%q) = %v, %v; want it to include %q", expr, names, err, want)
			}
		}
	})
}
