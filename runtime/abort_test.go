package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

// abortServer holds /headers before answering and /body after the first
// part of its body, until the client goes away, reporting each cancellation
// it saw on cancelled. /entered answers once a held request has arrived,
// so a script aborts only when its request has really reached the server.
func abortServer(t *testing.T) (srv *httptest.Server, cancelled chan string) {
	cancelled = make(chan string, 10)
	var mu sync.Mutex
	arrived := make(chan struct{})
	var once sync.Once
	hold := func(r *http.Request, what string) {
		once.Do(func() { close(arrived) })
		select {
		case <-r.Context().Done():
			cancelled <- what
		case <-time.After(waitLimit):
		}
	}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/headers":
			hold(r, "headers")
		case "/body":
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, strings.Repeat("x", 50))
			w.(http.Flusher).Flush()
			hold(r, "body")
		case "/entered":
			mu.Lock()
			ch := arrived
			mu.Unlock()
			<-ch
			fmt.Fprint(w, "ok")
		}
	}))
	t.Cleanup(srv.Close)
	return srv, cancelled
}

// waitLimit bounds how long a test waits for something that should happen
// at once.
const waitLimit = 10 * time.Second

func seen(t *testing.T, ch chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Errorf("the server saw the cancellation during %s, want during %s", got, want)
		}
	case <-time.After(waitLimit):
		t.Errorf("the server never saw the request cancelled during %s", want)
	}
}

// AbortController and AbortSignal cancel the real request, in each of its
// phases, through fetch and through the http builders; the script sees the
// signal's reason, as the Fetch standard says.
func TestAbortCancelsRequests(t *testing.T) {
	for _, tt := range []struct {
		name, path, script string
	}{
		{"fetch waiting for headers", "/headers", `
const c = new AbortController();
const p = fetch(args[0] + '/headers', { signal: c.signal });
await fetch(args[0] + '/entered');
c.abort(new Error('enough'));
const e = await p.then(() => null, (e) => e);
assertEq(e && e.message, 'enough', 'fetch rejects with the reason');
assert(c.signal.aborted, 'the signal is aborted');`},
		{"fetch reading the body", "/body", `
const c = new AbortController();
const p = fetch(args[0] + '/body', { signal: c.signal });
await fetch(args[0] + '/entered');
c.abort();
const e = await p.then(() => null, (e) => e);
assert(e instanceof DOMException, 'the default reason is a DOMException: ' + e);
assertEq([e.name, e.code], ['AbortError', 20], 'AbortError');`},
		{"sendAsync waiting for headers", "/headers", `
const c = new AbortController();
const p = http.get(args[0] + '/headers').signal(c.signal).sendAsync();
await fetch(args[0] + '/entered');
c.abort('why');
assertEq(await p.then(() => null, (e) => e), 'why', 'sendAsync rejects with the reason');`},
		{"sendAsync reading the body", "/body", `
const c = new AbortController();
const p = http.get(args[0] + '/body').signal(c.signal).sendAsync();
await fetch(args[0] + '/entered');
c.abort('why');
assertEq(await p.then(() => null, (e) => e), 'why', 'sendAsync rejects with the reason');`},
		{"send with a timeout signal", "/headers", `
const s = AbortSignal.timeout(50);
let e;
try { http.get(args[0] + '/headers').signal(s).send(); } catch (x) { e = x; }
assert(e instanceof DOMException && e.name === 'TimeoutError', 'send throws the TimeoutError: ' + e);
assert(s.aborted && s.reason === e, 'the signal aborted with it');`},
		{"fetch with a timeout signal", "/body", `
const s = AbortSignal.timeout(50);
let events = 0;
s.addEventListener('abort', () => events++);
const e = await fetch(args[0] + '/body', { signal: s }).then(() => null, (e) => e);
assertEq([e && e.name, events], ['TimeoutError', 1], 'fetch rejects with the TimeoutError after the abort event');`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, cancelled := abortServer(t)
			src := "(async () => {" + tt.script + "\n})().catch((e) => { console.error(String(e.stack || e)); throw e; });" + assertJS
			s, err := runtime.CompileSource("abort.js", src)
			if err != nil {
				t.Fatal(err)
			}
			_, errOut, err := run(t, s, context.Background(), runtime.Options{Args: []string{srv.URL}, Timeout: waitLimit})
			if err != nil {
				t.Fatalf("run: %v\n%s", err, errOut)
			}
			seen(t, cancelled, strings.TrimPrefix(tt.path, "/"))
		})
	}
}

// An abort while the connection is still being made ends the request at
// once. net/http lets the dial itself go on (a connection it makes is kept
// for the next request), so the dialer here holds every dial until the test
// ends and checks none had returned when the script saw its rejections.
func TestAbortDuringConnect(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	dials, returned := 0, 0
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dials++
			mu.Unlock()
			select { // a server that never completes the handshake
			case <-release:
			case <-ctx.Done():
			}
			mu.Lock()
			returned++
			mu.Unlock()
			return nil, errors.New("no handshake")
		},
	}}
	defer client.CloseIdleConnections()
	defer close(release)
	s, err := runtime.CompileSource("connect.js", `(async () => {
const c = new AbortController();
const p = fetch('http://192.0.2.1/', { signal: c.signal });
setTimeout(() => c.abort('stop'), 0);
assertEq(await p.then(() => null, (e) => e), 'stop', 'fetch rejects with the reason');
const q = http.get('http://192.0.2.2/').signal(AbortSignal.timeout(10)).sendAsync();
const e = await q.then(() => null, (e) => e);
assertEq(e && e.name, 'TimeoutError', 'sendAsync rejects with the TimeoutError');
})();`+assertJS)
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, err := run(t, s, context.Background(), runtime.Options{Client: client, Timeout: waitLimit})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	// The first abort may in principle beat its dial; the timeout's 10 ms
	// leave the second one no such chance.
	if dials < 1 || returned != 0 {
		t.Errorf("%d dials started, %d returned before the script ended; want at least one started, none returned", dials, returned)
	}
}

// Aborted before it is sent, a request is not sent at all.
func TestAbortedBeforeSending(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	s, err := runtime.CompileSource("before.js", `(async () => {
const s = AbortSignal.abort('no');
assertEq(await fetch(args[0], { signal: s }).then(() => null, (e) => e), 'no', 'fetch');
assertEq(await http.get(args[0]).signal(s).sendAsync().then(() => null, (e) => e), 'no', 'sendAsync');
let e; try { http.get(args[0]).signal(s).send(); } catch (x) { e = x; }
assertEq(e, 'no', 'send');
const req = new Request(args[0], { signal: s });
assert(req.signal === s, 'request.signal is the signal given');
assertEq(await fetch(req).then(() => null, (e) => e), 'no', 'fetch(request) with an aborted signal');
assertEq(await fetch(req.clone()).then(() => null, (e) => e), 'no', 'a clone keeps the signal');
let bad; try { http.get(args[0]).signal({}); } catch (x) { bad = x; }
assertEq(bad && bad.code, 'BAD_REQUEST', 'a non-signal is refused');
const ok = await http.get(args[0]).signal(s).signal(null).sendAsync();
assertEq(ok.status, 200, '.signal(null) removes the signal');
const ok2 = await fetch(req, { signal: null });
assertEq([ok2.status, new Request(req, { signal: null }).signal], [200, null], 'init.signal null removes the Request\'s signal');
})();`+assertJS)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := run(t, s, context.Background(), runtime.Options{Args: []string{srv.URL}}); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("the server got %d requests, want only the two without the signal", n)
	}
}

// A pending AbortSignal.timeout does not keep a script running, as in Node.
func TestTimeoutSignalDoesNotKeepTheRunAlive(t *testing.T) {
	s, err := runtime.CompileSource("idle.js", `AbortSignal.timeout(60000).onabort = () => console.log('late');`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, _, err := run(t, s, context.Background(), runtime.Options{Timeout: waitLimit})
	if err != nil || out != "" || time.Since(start) > waitLimit/2 {
		t.Errorf("run took %s, printed %q, error %v", time.Since(start), out, err)
	}
}

// An exception in an abort listener is reported as uncaught, after abort()
// has returned, as the DOM says; it fails the run like any other.
func TestAbortListenerErrorsAreUncaught(t *testing.T) {
	s, err := runtime.CompileSource("listener.js", `const c = new AbortController();
c.signal.onabort = () => { throw new Error('in listener'); };
c.abort();
console.log('abort returned');`)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, s, context.Background(), runtime.Options{Timeout: waitLimit})
	var se *runtime.ScriptError
	if out != "abort returned\n" || !errors.As(err, &se) || !strings.Contains(err.Error(), "in listener") {
		t.Errorf("printed %q, error %v (%T); want the print and a ScriptError naming the listener's error", out, err, err)
	}
}
