package bindings_test

import (
	"context"
	"embed"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/bindings"
)

//go:embed testdata/*.js
var testdata embed.FS

// closedURL returns the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestScripts runs the JavaScript assertions in testdata against real test
// servers; each file checks one area of the API.
func TestScripts(t *testing.T) {
	tests := []struct {
		file     string
		signer   func() *fakeSigner
		maxBytes int64
		check    func(t *testing.T, api, other *server, s *fakeSigner)
	}{
		{file: "builder.js"},
		{file: "errors.js"},
		{file: "async.js"},
		{file: "fetch.js"},
		{file: "fetchtypes.js"},
		{file: "auth.js", signer: bearerSigner, check: func(t *testing.T, api, other *server, s *fakeSigner) {
			for _, a := range other.authSeen() {
				if a != "" {
					t.Errorf("the other origin received Authorization %q after a redirect; want none", a)
				}
			}
			if n := other.hitCount("/echo"); n != 3 {
				t.Errorf("other origin got %d requests, want 3 (the redirected send, fetch and sendAsync)", n)
			}
		}},
		{file: "retry.js", signer: retrySigner, check: func(t *testing.T, api, other *server, s *fakeSigner) {
			// always401: 2 for the signed request (one retry), 1 unsigned, 1 whose refresh failed.
			if n := api.hitCount("/always401"); n != 4 {
				t.Errorf("/always401 received %d requests, want 4", n)
			}
			if n := api.hitCount("/protected"); n != 2 {
				t.Errorf("/protected received %d requests, want 2 (401, then the retry)", n)
			}
			if _, rejected := s.counts(); rejected != 3 {
				t.Errorf("Signer.Rejected called %d times, want 3", rejected)
			}
		}},
		{file: "limits.js", maxBytes: 1024, check: func(t *testing.T, api, other *server, s *fakeSigner) {
			for i := 0; i < 3; i++ {
				select {
				case <-api.cancelled:
				case <-time.After(5 * time.Second):
					t.Fatalf("the server saw %d of 3 timed-out requests cancelled", i)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			src, err := testdata.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			api, other := newServer(t), newServer(t)
			opts := bindings.Options{MaxResponseBytes: tt.maxBytes}
			var s *fakeSigner
			if tt.signer != nil {
				s = tt.signer()
				opts.Signer = s
			}
			globals := map[string]any{"BASE": api.URL, "OTHER": other.URL, "CLOSED": closedURL(t)}
			if err := runJS(context.Background(), tt.file, string(src), opts, globals); err != nil {
				t.Fatalf("%s: %v", tt.file, err)
			}
			if tt.check != nil {
				tt.check(t, api, other, s)
			}
		})
	}
}

// retrySigner signs "stale" with an old token until Rejected is called, and
// refuses to refresh "gone".
func retrySigner() *fakeSigner {
	var mu sync.Mutex
	refreshed := false
	s := &fakeSigner{}
	s.SignFn = func(ctx context.Context, token string, req *http.Request) error {
		mu.Lock()
		defer mu.Unlock()
		if token == "stale" && !refreshed {
			req.Header.Set("Authorization", "Bearer expired")
			return nil
		}
		req.Header.Set("Authorization", secret)
		return nil
	}
	s.RejectedFn = func(ctx context.Context, token string, req *http.Request) error {
		if req.Header.Get("Authorization") == "" {
			return errors.New("Rejected got a request without the signed header")
		}
		if token == "gone" {
			return &codeErr{"REAUTH_REQUIRED", `the refresh token was revoked; press "Get authorization token" for "gone"`}
		}
		mu.Lock()
		refreshed = true
		mu.Unlock()
		return nil
	}
	return s
}

// TestHostContext checks that stopping the script (the Host context) aborts a
// request in flight, reported as TIMEOUT for deadlines and CANCELLED otherwise.
func TestHostContext(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		code string
		msg  string
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, "TIMEOUT", "the script ran out of time"},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, "CANCELLED", "cancelled before the response was complete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newServer(t)
			ctx, cancel := tt.ctx()
			defer cancel()
			src := `assertThrows(() => http.get(BASE + '/slow').send(), CODE, MSG, 'stopped');`
			globals := map[string]any{"BASE": api.URL, "CODE": tt.code, "MSG": tt.msg}
			if err := runJS(ctx, "host.js", src, bindings.Options{}, globals); err != nil {
				t.Fatal(err)
			}
			select {
			case <-api.cancelled:
			case <-time.After(5 * time.Second):
				t.Fatal("the server did not see the request cancelled")
			}
		})
	}
}

// TestNoSecretInErrors checks that no error message carries the credential,
// even when the API answers with an error.
func TestNoSecretInErrors(t *testing.T) {
	api := newServer(t)
	src := `
const msgs = [];
for (const f of [
  () => http.get(BASE + '/badjson').apiTokenAuth('t').send().json(),
  () => http.get(BASE + '/slow').apiTokenAuth('t').timeout(20).send(),
  () => http.get(CLOSED).apiTokenAuth('t').send(),
]) { try { f(); } catch (e) { msgs.push(e.message + ' ' + e.stack); } }
assertEq(msgs.length, 3, 'all failed');
assert(!msgs.join().includes('s3cr3t'), 'no secret in ' + msgs.join('\n'));
`
	globals := map[string]any{"BASE": api.URL, "CLOSED": closedURL(t)}
	if err := runJS(context.Background(), "secret.js", src, bindings.Options{Signer: bearerSigner()}, globals); err != nil {
		t.Fatal(err)
	}
}

// TestInternalErrorIsReported checks that a panicking Signer does not crash
// the process: sendAsync rejects with INTERNAL.
func TestInternalErrorIsReported(t *testing.T) {
	api := newServer(t)
	s := &fakeSigner{SignFn: func(context.Context, string, *http.Request) error { panic("boom") }}
	src := `(async () => { await assertRejects(http.get(BASE + '/echo').apiTokenAuth('t').sendAsync(), 'INTERNAL', 'internal error: boom', 'panic'); })()`
	if err := runJS(context.Background(), "panic.js", src, bindings.Options{Signer: s}, map[string]any{"BASE": api.URL}); err != nil {
		t.Fatal(err)
	}
}

// FuzzQuery feeds arbitrary strings, and JSON values parsed from them, to
// .query() and .header(): the builder must either accept them (and the server
// must then receive string values unchanged) or throw BAD_REQUEST; it must
// never panic or fail in another way.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{
		"plain", "", "a b&c=d#e?f", "$top", "ü€😀", "\r\nX-Injected: 1", "\x00\x7f", "%zz%20",
		`{"a":[1,"x",true]}`, `[1,[2]]`, `null`, `12.5e300`, `"quoted"`, `{"__proto__":{"x":1}}`, "\xff\xfe",
	} {
		f.Add(seed)
	}
	api := newServer(f)
	const src = `
let v;
try { v = JSON.parse(INPUT); } catch (e) { v = INPUT; }
const ok = e => { if (!(e instanceof Error) || e.code !== 'BAD_REQUEST') throw e; };
let req = http.get(BASE + '/echo');
for (const args of [['q', INPUT], ['v', v], [INPUT, 'x'], [{ [INPUT]: v }], [v]]) {
  try { req.query(...args); } catch (e) { ok(e); }
}
for (const args of [['X-Fuzz', v], [INPUT, 'x'], [{ [INPUT]: v }]]) {
  try { req.header(...args); } catch (e) { ok(e); }
}
try { req.json(v); } catch (e) { ok(e); }
try { req.form({ f: v }); } catch (e) { ok(e); }
const echo = req.send().json();
assertEq(echo.query.q[0], INPUT, 'the server received the string unchanged');
`
	f.Fuzz(func(t *testing.T, input string) {
		input = strings.ToValidUTF8(input, "\uFFFD") // JavaScript strings cannot hold invalid UTF-8
		globals := map[string]any{"BASE": api.URL, "INPUT": input}
		if err := runJS(context.Background(), "fuzz.js", src, bindings.Options{Client: &http.Client{Timeout: 3 * time.Second}}, globals); err != nil {
			t.Fatalf("input %q: %v", input, err)
		}
	})
}
