package cron

import (
	"context"
	"testing"
)

// A cron job gets the same Web globals as scriptrun run and the REPL
// (runtime's TestWebAPIGlobals runs the same script there).
func TestJobsHaveWebAPIs(t *testing.T) {
	const script = `(async () => {
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
	const want = "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg= hi € 36 number 2 6869 20 AbortError false body POST\n"
	e := newEnv(t, t0, nil)
	e.put(t, job("web", "@daily", script))
	r, err := e.s.RunNow(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if r, err = e.s.Wait(ctx, r.ID); err != nil || r.Error != "" {
		t.Fatalf("Wait = %+v, %v", r, err)
	}
	if out := e.output(t, r.ID); out != want {
		t.Errorf("the job printed %q, want %q", out, want)
	}
}
