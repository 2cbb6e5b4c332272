package bindings_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/bindings"
)

// answer is what the retry server says to one request.
type answer struct {
	status     int
	retryAfter string
}

// retryServer answers its requests with answers in turn (the last one
// repeats) and records what each request carried.
type retryServer struct {
	*httptest.Server
	mu      sync.Mutex
	answers []answer
	bodies  []string
	auths   []string
}

func newRetryServer(t *testing.T, answers ...answer) *retryServer {
	s := &retryServer{answers: answers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(body))
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		n := len(s.bodies)
		a := s.answers[min(n, len(s.answers))-1]
		s.mu.Unlock()
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
		fmt.Fprintf(w, "answer %d", n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *retryServer) seen() (bodies, auths []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...), append([]string(nil), s.auths...)
}

// fakeSleep records the waits .retry asks for and returns at once, unless
// ctx is done already; onWait, when set, runs first (with ctx).
type fakeSleep struct {
	mu     sync.Mutex
	waits  []time.Duration
	onWait func(ctx context.Context) error
}

func (f *fakeSleep) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	if f.onWait != nil {
		return f.onWait(ctx)
	}
	return ctx.Err()
}

func (f *fakeSleep) recorded() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

// fakeSignal is an AbortSignal the test aborts from Go.
type fakeSignal struct {
	done   chan struct{}
	reason goja.Value
}

func (s *fakeSignal) Done() <-chan struct{} { return s.done }

func (s *fakeSignal) Reason() goja.Value {
	select {
	case <-s.done:
		return s.reason
	default:
		return nil
	}
}

// within reports whether every wait is in [lo, hi].
func within(waits []time.Duration, lo, hi time.Duration) bool {
	for _, w := range waits {
		if w < lo || w > hi {
			return false
		}
	}
	return true
}

// .retry and fetch's init.retry: which answers are sent again, how long
// bindings wait before each attempt (the fake clock records it), what the
// script gets in the end, and what each attempt carried.
func TestRetry(t *testing.T) {
	retryDate := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		answers   []answer
		script    string // BASE is the server's URL; NOWHERE refuses connections
		signed    bool
		wantHits  int
		wantSigns int
		waits     func(w []time.Duration) bool // nil: no wait at all
		check     func(t *testing.T, bodies, auths []string, s *fakeSigner)
	}{
		{name: "429 with Retry-After: 1, then 200", answers: []answer{{429, "1"}, {200, ""}},
			script: `const r = http.get(BASE).retry({on: [429], max: 3}).send();
assertEq([r.status, r.attempts, r.body], [200, 2, 'answer 2'], 'the second answer, after two attempts');`,
			wantHits: 2, waits: func(w []time.Duration) bool { return len(w) == 1 && w[0] == time.Second }},
		{name: "503 four times: gives up with the last answer", answers: []answer{{503, ""}},
			script: `const r = http.get(BASE).retry().send();
assertEq([r.status, r.attempts, r.body], [503, 4, 'answer 4'], 'the defaults retry 503 three times; the last answer is returned');`,
			wantHits: 4, waits: func(w []time.Duration) bool {
				return len(w) == 3 && within(w[:1], 0, 200*time.Millisecond) && within(w[1:2], 0, 400*time.Millisecond) && within(w[2:], 0, 800*time.Millisecond)
			}},
		{name: "Retry-After as an HTTP date", answers: []answer{{503, retryDate}, {200, ""}},
			script:   `assertEq(http.get(BASE).retry().send().status, 200, 'retried at the date');`,
			wantHits: 2, waits: func(w []time.Duration) bool { return len(w) == 1 && within(w, 25*time.Second, 30*time.Second) }},
		{name: "Retry-After beyond the request's timeout: stops early", answers: []answer{{429, "30"}, {200, ""}},
			script: `const r = http.get(BASE).retry().timeout(5000).send();
assertEq([r.status, r.attempts], [429, 1], 'the 429 is returned at once, not an error');`,
			wantHits: 1},
		{name: "Retry-After beyond a minute: stops", answers: []answer{{503, "3600"}, {200, ""}},
			script:   `assertEq(http.get(BASE).retry().send().status, 503, 'a server asking for an hour gets its answer back to the script');`,
			wantHits: 1},
		{name: "a status not listed is not retried", answers: []answer{{500, ""}, {200, ""}},
			script:   `assertEq(http.get(BASE).retry().send().status, 500, '500 is not in the defaults');`,
			wantHits: 1},
		{name: "without .retry() nothing is retried", answers: []answer{{503, "1"}, {200, ""}},
			script:   `const r = http.get(BASE).send(); assertEq([r.status, r.attempts], [503, 1], 'one attempt');`,
			wantHits: 1},
		{name: "max 0", answers: []answer{{503, ""}, {200, ""}},
			script:   `assertEq(http.get(BASE).retry({max: 0}).send().status, 503, 'no retries');`,
			wantHits: 1},
		{name: "POST with a JSON body is replayed identically", answers: []answer{{502, ""}, {504, "0"}, {200, ""}},
			script:   `assertEq(http.post(BASE).json({a: 1, s: 'é'}).retry().send().attempts, 3, 'three attempts');`,
			wantHits: 3, waits: func(w []time.Duration) bool { return len(w) == 2 && w[1] == 0 },
			check: func(t *testing.T, bodies, auths []string, s *fakeSigner) {
				for i, b := range bodies {
					if b != `{"a":1,"s":"é"}` {
						t.Errorf("attempt %d carried body %q, want the JSON each time", i+1, b)
					}
				}
			}},
		{name: "a signed request is signed afresh for each attempt", answers: []answer{{503, ""}, {429, ""}, {200, ""}}, signed: true,
			script:   `assertEq(http.get(BASE).apiTokenAuth('graph-mail').retry().send().status, 200, 'signed retries');`,
			wantHits: 3, wantSigns: 3, waits: func(w []time.Duration) bool { return len(w) == 2 },
			check: func(t *testing.T, bodies, auths []string, s *fakeSigner) {
				for i, a := range auths {
					if a != secret {
						t.Errorf("attempt %d carried Authorization %q, want the credential", i+1, a)
					}
				}
			}},
		{name: "a refused credential is refreshed once per call, not once per attempt", answers: []answer{{401, ""}}, signed: true,
			script: `const r = http.get(BASE).apiTokenAuth('graph-mail').retry({on: [401], max: 2}).send();
assertEq([r.status, r.attempts], [401, 3], 'three attempts');`,
			wantHits: 4, wantSigns: 4, waits: func(w []time.Duration) bool { return len(w) == 2 },
			check: func(t *testing.T, bodies, auths []string, s *fakeSigner) {
				if _, rejected := s.counts(); rejected != 1 {
					t.Errorf("Signer.Rejected called %d times, want 1", rejected)
				}
			}},
		{name: "fetch's init.retry", answers: []answer{{503, ""}},
			script: `return fetch(BASE, {retry: {on: [503], max: 1}}).then(async (r) => {
  assertEq([r.status, r.attempts, await r.text()], [503, 2, 'answer 2'], 'fetch retried once');
});`,
			wantHits: 2, waits: func(w []time.Duration) bool { return len(w) == 1 }},
		{name: "fetch's init.retry: true is the defaults", answers: []answer{{429, "2"}, {200, ""}},
			script:   `return fetch(BASE, {method: 'PUT', body: 'x', retry: true}).then((r) => assertEq(r.status, 200, 'retried'));`,
			wantHits: 2, waits: func(w []time.Duration) bool { return len(w) == 1 && w[0] == 2*time.Second }},
		{name: "new Request keeps init.retry", answers: []answer{{503, ""}, {200, ""}},
			script:   `return fetch(new Request(BASE, {retry: {max: 1}})).then((r) => assertEq(r.attempts, 2, 'retried'));`,
			wantHits: 2, waits: func(w []time.Duration) bool { return len(w) == 1 }},
		{name: "sendAsync", answers: []answer{{504, ""}, {200, ""}},
			script:   `return http.get(BASE).retry().sendAsync().then((r) => assertEq([r.status, r.attempts], [200, 2], 'retried'));`,
			wantHits: 2, waits: func(w []time.Duration) bool { return len(w) == 1 }},
		{name: "network failures only with 'network'", answers: []answer{{200, ""}},
			script: `assertThrows(() => http.get(NOWHERE).retry().send(), 'NETWORK', 'connection refused', 'not retried by default');
assertThrows(() => http.get(NOWHERE).retry({on: ['network', 503], max: 2}).send(), 'NETWORK', 'connection refused', 'retried, then thrown');`,
			wantHits: 0, waits: func(w []time.Duration) bool { return len(w) == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newRetryServer(t, tt.answers...)
			clock := &fakeSleep{}
			opts := bindings.Options{Sleep: clock.sleep}
			s := bearerSigner()
			if tt.signed {
				opts.Signer = s
			}
			src := "(async () => {" + tt.script + "\n})()"
			if err := runJS(context.Background(), "retry.js", src, opts, map[string]any{"BASE": srv.URL, "NOWHERE": closedURL(t)}); err != nil {
				t.Fatal(err)
			}
			bodies, auths := srv.seen()
			if len(bodies) != tt.wantHits {
				t.Errorf("the server got %d requests, want %d", len(bodies), tt.wantHits)
			}
			if signs, _ := s.counts(); signs != tt.wantSigns {
				t.Errorf("Signer.Sign called %d times, want %d", signs, tt.wantSigns)
			}
			waits := clock.recorded()
			if tt.waits == nil && len(waits) > 0 || tt.waits != nil && !tt.waits(waits) {
				t.Errorf("waited %v, not what this case wants", waits)
			}
			if tt.check != nil {
				tt.check(t, bodies, auths, s)
			}
		})
	}
}

// An AbortSignal that aborts during the wait between attempts ends the
// call at once with the signal's reason, and nothing more is sent.
func TestRetryAbortDuringWait(t *testing.T) {
	for _, tt := range []struct{ name, script string }{
		{"send", `try { http.get(BASE).retry().signal(SIG).send(); } catch (e) { return assertEq(e, 'stop', 'the reason'); }
throw new Error('send returned');`},
		{"fetch", `return fetch(BASE, {retry: {max: 5}, signal: SIG}).then(() => { throw new Error('resolved'); }, (e) => assertEq(e, 'stop', 'the reason'));`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRetryServer(t, answer{503, ""})
			sig := &fakeSignal{done: make(chan struct{}), reason: goja.New().ToValue("stop")}
			clock := &fakeSleep{onWait: func(ctx context.Context) error {
				close(sig.done) // abort while waiting; the wait must end with ctx
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Second):
					return fmt.Errorf("the wait outlived its aborted signal")
				}
			}}
			opts := bindings.Options{Sleep: clock.sleep, Signal: func(v goja.Value) (bindings.Signal, bool) {
				return sig, v.Export() == "the signal"
			}}
			src := "(async () => {" + tt.script + "\n})()"
			if err := runJS(context.Background(), "abort.js", src, opts, map[string]any{"BASE": srv.URL, "SIG": "the signal"}); err != nil {
				t.Fatal(err)
			}
			if bodies, _ := srv.seen(); len(bodies) != 1 {
				t.Errorf("the server got %d requests, want 1 (none after the abort)", len(bodies))
			}
		})
	}
}

// Bad retry options are BAD_REQUEST errors that say what is wrong and what
// is expected; fetch rejects with them.
func TestRetryBadOptions(t *testing.T) {
	for _, tt := range []struct{ call, want string }{
		{`.retry({tries: 3})`, `.retry(options): options: unknown option "tries"; the options are on`},
		{`.retry({on: 429})`, `options.on must be an array such as [429, 503, 'network']`},
		{`.retry({on: []})`, `options.on is empty, so nothing would be retried`},
		{`.retry({on: [429.5]})`, `element 0 must be an HTTP status from 400 to 599 or 'network', got number 429.5`},
		{`.retry({on: [503, '429']})`, `element 1 must be an HTTP status from 400 to 599 or 'network', got string "429"`},
		{`.retry({on: [200]})`, `got number 200`},
		{`.retry({on: ['net']})`, `got string "net"`},
		{`.retry({max: 11})`, `options.max must be a whole number of retries from 0 to 10, got number 11`},
		{`.retry({max: -1})`, `got number -1`},
		{`.retry({max: 1.5})`, `got number 1.5`},
		{`.retry({max: '3'})`, `got string "3"`},
		{`.retry({max: NaN})`, `got number NaN`},
		{`.retry('yes')`, `must be an object such as {on: [429, 503], max: 3}, true for the defaults or null for none, got string "yes"`},
		{`.retry([429])`, `got array`},
	} {
		t.Run(tt.call, func(t *testing.T) {
			src := fmt.Sprintf(`assertThrows(() => http.get('http://127.0.0.1:1/')%s, 'BAD_REQUEST', %q, 'builder');`, tt.call, tt.want)
			if err := runJS(context.Background(), "bad.js", src, bindings.Options{}, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	src := `(async () => {
await assertRejects(fetch('http://127.0.0.1:1/', {retry: {max: 99}}), 'BAD_REQUEST', 'fetch(url, init): init.retry.max must be a whole number', 'fetch');
await assertRejects(fetch('http://127.0.0.1:1/', {retry: 3}), 'BAD_REQUEST', 'init.retry must be an object', 'fetch');
const b = http.get('http://127.0.0.1:1/').retry().retry(null);
assertEq(Object.keys(b), ['method', 'url'], 'retry adds nothing to the builder');
})()`
	if err := runJS(context.Background(), "bad.js", src, bindings.Options{}, nil); err != nil {
		t.Fatal(err)
	}
}
