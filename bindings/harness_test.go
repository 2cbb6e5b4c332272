package bindings_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/require"
	"github.com/dop251/goja_nodejs/url"

	"github.com/scriptrun/scriptrun/bindings"
)

// testHost is a minimal bindings.Host: Enqueue callbacks are delivered on a
// channel and run by runJS on the goroutine that owns the runtime.
type testHost struct {
	ctx     context.Context
	pending int
	ch      chan func() error
}

var _ bindings.Host = (*testHost)(nil)

func (h *testHost) Context() context.Context { return h.ctx }

func (h *testHost) Enqueue() func(func() error) {
	h.pending++
	var once sync.Once
	return func(cb func() error) { once.Do(func() { h.ch <- cb }) }
}

// fakeSigner is a bindings.Signer whose behaviour each test chooses.
type fakeSigner struct {
	SignFn     func(ctx context.Context, token string, req *http.Request) error
	RejectedFn func(ctx context.Context, token string, req *http.Request) error
	// RejectsFn answers Rejects; nil rejects a 401 alone, as tokens do by default.
	RejectsFn func(token string, status int, body []byte) (bool, int)
	// PermitsFn answers Permits; nil permits every URL (an unbound token).
	PermitsFn func(token string, u *neturl.URL) bool

	mu       sync.Mutex
	signs    int
	rejected int
}

var _ bindings.Signer = (*fakeSigner)(nil)

func (s *fakeSigner) Sign(ctx context.Context, token string, req *http.Request) error {
	s.mu.Lock()
	s.signs++
	s.mu.Unlock()
	return s.SignFn(ctx, token, req)
}

func (s *fakeSigner) Rejects(token string, status int, body []byte) (bool, int) {
	if s.RejectsFn == nil {
		return status == http.StatusUnauthorized, 0
	}
	return s.RejectsFn(token, status, body)
}

func (s *fakeSigner) Rejected(ctx context.Context, token string, req *http.Request) error {
	s.mu.Lock()
	s.rejected++
	s.mu.Unlock()
	if s.RejectedFn == nil {
		return nil
	}
	return s.RejectedFn(ctx, token, req)
}

func (s *fakeSigner) Permits(token string, u *neturl.URL) bool {
	if s.PermitsFn == nil {
		return true
	}
	return s.PermitsFn(token, u)
}

func (s *fakeSigner) counts() (signs, rejected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signs, s.rejected
}

// codeErr is a signer error carrying a code, as tokens.Manager's errors do.
type codeErr struct{ code, msg string }

func (e *codeErr) Error() string     { return e.msg }
func (e *codeErr) ErrorCode() string { return e.code }

// secret is the credential the fake signer attaches; no message and no
// JavaScript value may ever contain it.
const secret = "Bearer s3cr3t-access-token"

// bearerSigner signs with secret, or fails for a few special token names.
func bearerSigner() *fakeSigner {
	return &fakeSigner{SignFn: func(ctx context.Context, token string, req *http.Request) error {
		switch token {
		case "missing":
			return &codeErr{"TOKEN_NOT_FOUND", `token "missing" does not exist; create it with scriptrun token add`}
		case "reauth":
			return fmt.Errorf("sign: %w", &codeErr{"REAUTH_REQUIRED", `token "reauth" must be authorized again: press "Get authorization token"`})
		case "broken":
			return errors.New("the token store is unreadable")
		}
		req.Header.Set("Authorization", secret)
		return nil
	}}
}

// assertJS is injected into every test script.
const assertJS = `
function assert(cond, msg) { if (!cond) throw new Error('assertion failed: ' + msg); }
function assertEq(got, want, msg) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error('assertion failed: ' + msg + ': got ' + g + ', want ' + w);
}
function assertThrows(fn, code, includes, msg) {
  try { fn(); } catch (e) {
    assert(e instanceof Error, msg + ': thrown value is an Error');
    assertEq(e.code, code, msg + ': code');
    for (const s of [].concat(includes || [])) assert(e.message.includes(s), msg + ': message ' + JSON.stringify(e.message) + ' includes ' + JSON.stringify(s));
    return e;
  }
  throw new Error('assertion failed: ' + msg + ': no exception');
}
async function assertRejects(p, code, includes, msg) {
  try { await p; } catch (e) {
    assert(e instanceof Error, msg + ': rejection is an Error');
    assertEq(e.code, code, msg + ': code');
    for (const s of [].concat(includes || [])) assert(e.message.includes(s), msg + ': message ' + JSON.stringify(e.message) + ' includes ' + JSON.stringify(s));
    return e;
  }
  throw new Error('assertion failed: ' + msg + ': no rejection');
}
`

var assertProgram = goja.MustCompile("assert.js", assertJS, false)

// runJS runs src with the bindings enabled, the assert helpers, URL and
// URLSearchParams, and globals; it waits for every pending callback and, if
// the script's value is a promise, for that promise. Unhandled rejections fail.
func runJS(ctx context.Context, name, src string, opts bindings.Options, globals map[string]any) error {
	vm := goja.New()
	new(require.Registry).Enable(vm)
	url.Enable(vm)
	h := &testHost{ctx: ctx, ch: make(chan func() error)}
	bindings.Enable(vm, h, opts)
	var unhandled []*goja.Promise
	vm.SetPromiseRejectionTracker(func(p *goja.Promise, op goja.PromiseRejectionOperation) {
		if op == goja.PromiseRejectionReject {
			unhandled = append(unhandled, p)
			return
		}
		for i, q := range unhandled {
			if q == p {
				unhandled = append(unhandled[:i], unhandled[i+1:]...)
				break
			}
		}
	})
	for k, v := range globals {
		if err := vm.Set(k, v); err != nil {
			return err
		}
	}
	if _, err := vm.RunProgram(assertProgram); err != nil {
		return err
	}
	prg, err := goja.Compile(name, src, false)
	if err != nil {
		return err
	}
	v, err := vm.RunProgram(prg)
	if err != nil {
		return err
	}
	for h.pending > 0 {
		select {
		case cb := <-h.ch:
			h.pending--
			if err := cb(); err != nil {
				return err
			}
		case <-time.After(20 * time.Second):
			return errors.New("timed out waiting for pending requests")
		}
	}
	if o, ok := v.(*goja.Object); ok {
		if p, ok := o.Export().(*goja.Promise); ok {
			switch p.State() {
			case goja.PromiseStatePending:
				return errors.New("the script's promise never settled")
			case goja.PromiseStateRejected:
				return jsError(p.Result())
			}
		}
	}
	if len(unhandled) > 0 {
		return fmt.Errorf("unhandled rejection: %w", jsError(unhandled[0].Result()))
	}
	return nil
}

func jsError(v goja.Value) error {
	if o, ok := v.(*goja.Object); ok {
		if s := o.Get("stack"); s != nil && !goja.IsUndefined(s) {
			return fmt.Errorf("%s (code %v)", s, o.Get("code"))
		}
	}
	return fmt.Errorf("%v", v)
}

// server is an httptest server recording what it receives.
type server struct {
	*httptest.Server
	mu        sync.Mutex
	auth      []string // Authorization headers received, in order
	hits      map[string]int
	cancelled chan string // paths whose request context was cancelled
}

func (s *server) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.hits[r.URL.Path]++
}

func (s *server) hitCount(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *server) authSeen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

// newServer starts the test API. Endpoints:
//
//	/echo        JSON of the request (never its Authorization header)
//	/status/N    answers N
//	/text        a text body
//	/badjson     an HTML page; /badjson2 broken JSON on line 3
//	/empty       204 without a body
//	/big?n=N     N bytes (?chunked=1: without Content-Length)
//	/slow        waits until the client gives up (reports it on cancelled)
//	/protected   200 for secret, else 401; /always401 always 401
//	/redirect?to=URL  302 to URL
//	/delay?ms=N  answers after N ms
func newServer(t testing.TB) *server {
	s := &server{hits: map[string]int{}, cancelled: make(chan string, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		body, _ := io.ReadAll(r.Body)
		headers := map[string]string{}
		for k, v := range r.Header {
			if k != "Authorization" {
				headers[strings.ToLower(k)] = strings.Join(v, ", ")
			}
		}
		headers["host"] = r.Host
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Multi", "one")
		w.Header().Add("X-Multi", "two")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method":     r.Method,
			"path":       r.URL.Path,
			"rawQuery":   r.URL.RawQuery,
			"query":      r.URL.Query(),
			"headers":    headers,
			"body":       string(body),
			"authorized": r.Header.Get("Authorization") == secret,
		})
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d", code)
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "héllo wörld")
	})
	mux.HandleFunc("/badjson", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!DOCTYPE html><html><body>Bad Gateway</body></html>")
	})
	mux.HandleFunc("/badjson2", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "{\n  \"a\": 1,\n  \"b\": ,\n  \"c\": 3\n}")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		chunk := strings.Repeat("x", 512)
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		for n > 0 {
			m := min(n, len(chunk))
			if _, err := io.WriteString(w, chunk[:m]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			n -= m
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		select {
		case <-r.Context().Done():
			s.cancelled <- r.URL.Path
		case <-time.After(10 * time.Second):
			fmt.Fprint(w, "too late")
		}
	})
	mux.HandleFunc("/delay", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		// Not a wait: the latency of a slow API, which the test asks for.
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, `{"i": %q}`, r.URL.Query().Get("i"))
	})
	mux.HandleFunc("/protected", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		if r.Header.Get("Authorization") != secret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_token"}`)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	mux.HandleFunc("/always401", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		// Close the connection with a TCP reset, mid-request.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}
