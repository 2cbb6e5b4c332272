package runtime_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

// gs.info/warn/error/debug write to the run's output, filling {n}
// placeholders as GlideSystem does.
func TestGlideSystemLog(t *testing.T) {
	tests := []struct {
		name, js, stdout, stderr string
	}{
		{"info", `gs.info('hello')`, "hello\n", ""},
		{"debug", `gs.debug('details')`, "details\n", ""},
		{"warn", `gs.warn('careful')`, "", "careful\n"},
		{"error", `gs.error('failed')`, "", "failed\n"},
		{"placeholders", `gs.info('{0} has {1} items, {0}', 'cart', 3)`, "cart has 3 items, cart\n", ""},
		{"placeholder without argument", `gs.info('a {0} {1} {x} {} {+0}', 'b')`, "a b {1} {x} {} {+0}\n", ""},
		{"extra arguments are not printed", `gs.info('just this', 'and', 'more')`, "just this\n", ""},
		{"objects as console shows them", `gs.info({a: 1}); gs.info('v={0}', [1, 'x'])`, "{\"a\":1}\nv=[1,\"x\"]\n", ""},
		{"no arguments", `gs.info()`, "\n", ""},
		{"replaceable", `gs = {info: () => console.log('mine')}; gs.info('x')`, "mine\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := runtime.CompileSource("gs.js", tt.js)
			if err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := run(t, s, context.Background(), runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if stdout != tt.stdout || stderr != tt.stderr {
				t.Errorf("%s: stdout %q, stderr %q; want %q, %q", tt.js, stdout, stderr, tt.stdout, tt.stderr)
			}
		})
	}
}

// A run does not end while a request started by sn_ws executeAsync() is in
// flight, even when the script never waits for it (ServiceNow's
// fire-and-forget), and a credential failure nobody waited for fails the
// run instead of passing unnoticed.
func TestServiceNowExecuteAsyncInRun(t *testing.T) {
	var mu sync.Mutex
	var finished bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(50 * time.Millisecond): // the script has ended its own code by then
		case <-r.Context().Done():
			return
		}
		mu.Lock()
		finished = true
		mu.Unlock()
	}))
	defer srv.Close()
	s, err := runtime.CompileSource("async.js", `var m = new sn_ws.RESTMessageV2();
m.setEndpoint(args[0]);
m.executeAsync();
gs.info('sent');`)
	if err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, s, context.Background(), runtime.Options{Args: []string{srv.URL}, Timeout: 10 * time.Second})
	mu.Lock()
	done := finished
	mu.Unlock()
	if err != nil || stdout != "sent\n" || !done {
		t.Errorf("run: %v, stdout %q, request finished %v; want no error and the request finished", err, stdout, done)
	}

	s, err = runtime.CompileSource("missing.js", `var m = new sn_ws.RESTMessageV2();
m.setEndpoint(args[0]);
m.setAuthenticationProfile('oauth2', 'nosuch');
m.executeAsync();`)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, s, context.Background(), runtime.Options{Args: []string{srv.URL}, Timeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "Uncaught (in promise)") || !strings.Contains(err.Error(), "TOKEN_NOT_FOUND") {
		t.Errorf("an unwaited credential failure: %v; want an uncaught TOKEN_NOT_FOUND", err)
	}
}
