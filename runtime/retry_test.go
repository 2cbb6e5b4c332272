package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

// flakyServer answers /flaky with its first answer once and 200 after;
// /hits tells how many /flaky requests it has had, once the first has
// arrived; arrived is closed when it has.
func flakyServer(t *testing.T, first int, retryAfter string) (srv *httptest.Server, arrived chan struct{}) {
	var mu sync.Mutex
	hits := 0
	arrived = make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky":
			mu.Lock()
			hits++
			n := hits
			mu.Unlock()
			if n == 1 {
				close(arrived)
				w.Header().Set("Retry-After", retryAfter)
				w.WriteHeader(first)
				return
			}
			fmt.Fprint(w, "ok")
		case "/hits":
			<-arrived
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprint(w, hits)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, arrived
}

func runRetryScript(t *testing.T, ctx context.Context, src string, opts runtime.Options) error {
	t.Helper()
	s, err := runtime.CompileSource("retry.js", "(async () => {"+src+"\n})().catch((e) => { console.error(String(e.stack || e)); throw e; });"+assertJS)
	if err != nil {
		return err
	}
	_, errOut, err := run(t, s, ctx, opts)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, errOut)
	}
	return nil
}

// The one test on the real clock (about a second): fetch waits out
// Retry-After: 1 on its goroutine while the event loop goes on (the
// script's other request settles during the wait), then succeeds.
func TestRetryWaitsWithoutBlockingTheLoop(t *testing.T) {
	srv, _ := flakyServer(t, http.StatusTooManyRequests, "1")
	err := runRetryScript(t, context.Background(), `
const p = fetch(args[0] + '/flaky', {retry: {on: [429]}});
const during = await (await fetch(args[0] + '/hits')).text();
assertEq(during, '1', 'the script ran while the retry waited');
const r = await p;
assertEq([r.status, r.attempts, await r.text()], [200, 2, 'ok'], 'the retry succeeded');`,
		runtime.Options{Args: []string{srv.URL}, Timeout: waitLimit})
	if err != nil {
		t.Fatal(err)
	}
}

// The run's own timeout bounds the waits: a Retry-After that would end
// after it gives the script the answer at once instead of a wait that the
// timeout would cut short.
func TestRetryStopsAtTheRunsTimeout(t *testing.T) {
	srv, _ := flakyServer(t, http.StatusServiceUnavailable, "30")
	err := runRetryScript(t, context.Background(), `
const r = http.get(args[0] + '/flaky').retry().send();
assertEq([r.status, r.attempts], [503, 1], 'the 503 is returned: the run ends before 30 s');`,
		runtime.Options{Args: []string{srv.URL}, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
}

// Stopping the run during a synchronous send's wait ends the wait: the
// wait selects on the run's context.
func TestRetryWaitEndsWhenTheRunStops(t *testing.T) {
	srv, arrived := flakyServer(t, http.StatusServiceUnavailable, "50")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	done := make(chan error, 1)
	go func() {
		done <- runRetryScript(t, ctx, `http.get(args[0] + '/flaky').retry().send(); throw new Error('send returned');`,
			runtime.Options{Args: []string{srv.URL}})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run ended with %v, want context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("the run did not stop during the retry's 50 s wait")
	}
}

// In the REPL, each evaluation's timeout bounds the waits the same way.
func TestRetryStopsAtTheEvaluationsTimeout(t *testing.T) {
	srv, _ := flakyServer(t, http.StatusServiceUnavailable, "30")
	s, err := runtime.NewSession(runtime.Options{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Eval(context.Background(), "const r = http.get('"+srv.URL+"/flaky').retry().send(); [r.status, r.attempts].join(' ')")
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Text; got != "503 1" {
		t.Errorf("status and attempts %q, want 503 1: the evaluation ends before 30 s", got)
	}
}
