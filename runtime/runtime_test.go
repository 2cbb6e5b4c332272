package runtime_test

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

//go:embed testdata/*.js
var testdata embed.FS

// assertJS is appended to test scripts. Function declarations are hoisted,
// so the helpers exist from the first line and line numbers do not move.
const assertJS = `
function assert(cond, msg) { if (!cond) throw new Error('assertion failed: ' + msg); }
function assertEq(got, want, msg) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error('assertion failed: ' + msg + ': got ' + g + ', want ' + w);
}
`

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeFile writes a file below dir, creating folders.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs a script and returns what it printed.
func run(t testing.TB, s *runtime.Script, ctx context.Context, opts runtime.Options) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	opts.Stdout, opts.Stderr = &out, &errOut
	err = s.Run(ctx, opts)
	return out.String(), errOut.String(), err
}

// closedURL returns the URL of a port nothing listens on.
func closedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

// testServer answers /delay?ms=N after N ms and holds /slow until the client
// gives up, reporting that on cancelled.
// testServer answers /delay?ms=N after N ms and holds /slow until the client
// goes away, reporting each /slow arrival and each cancellation it saw, so
// tests cancel only once a request has really reached the server.
func testServer(t testing.TB) (*httptest.Server, chan struct{}, chan struct{}) {
	cancelled := make(chan struct{}, 10)
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/delay":
			ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
			// Not a wait: the latency of a slow API, which the test asks for.
			time.Sleep(time.Duration(ms) * time.Millisecond)
			fmt.Fprint(w, "done")
		case "/slow":
			select {
			case arrived <- struct{}{}:
			default:
			}
			select {
			case <-r.Context().Done():
				cancelled <- struct{}{}
			case <-time.After(10 * time.Second):
			}
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, cancelled, arrived
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, src  string
		want       string // the first line of the error
		line, col  int
		sourceLine string
	}{
		{"hello.js", "let x = 1;\nlet y = 2;\nlet z = );\n", "hello.js:3:9: SyntaxError: Unexpected token )", 3, 9, "let z = );"},
		{"dup.js", "let a = 1;\nlet a = 2;", "dup.js:2:5: SyntaxError: Identifier 'a' has already been declared", 2, 5, "let a = 2;"},
		{"shebang.js", "#!/usr/bin/env scriptrun\nfunction (", "shebang.js:2:10: SyntaxError: Unexpected token (", 2, 10, "function ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, compile := range []func() error{
				func() error { _, err := runtime.Compile(writeFile(t, t.TempDir(), tt.name, tt.src)); return err },
				func() error { _, err := runtime.CompileSource(tt.name, tt.src); return err },
			} {
				err := compile()
				var ce *runtime.CompileError
				if !errors.As(err, &ce) {
					t.Fatalf("got %T %v, want *runtime.CompileError", err, err)
				}
				if got := strings.Split(err.Error(), "\n")[0]; got != tt.want {
					t.Errorf("error = %q, want %q", got, tt.want)
				}
				if ce.Line != tt.line || ce.Column != tt.col || ce.Source != tt.sourceLine {
					t.Errorf("position = %d:%d %q, want %d:%d %q", ce.Line, ce.Column, ce.Source, tt.line, tt.col, tt.sourceLine)
				}
				// The caret sits under the column.
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != 3 || strings.Index(lines[2], "^") != 4+tt.col-1 {
					t.Errorf("caret misplaced:\n%s", err)
				}
			}
		})
	}
	if _, err := runtime.Compile(filepath.Join(t.TempDir(), "missing.js")); err == nil || !strings.Contains(err.Error(), "missing.js") {
		t.Errorf("missing file: got %v, want an error naming the file", err)
	}
}

func TestUncaughtErrors(t *testing.T) {
	closed := closedURL(t)
	tests := []struct {
		name, src string
		message   string   // ScriptError.Message
		code      string   // ScriptError.Code
		stack     []string // substrings of ScriptError.Stack
	}{
		{"throw.js", "function f() {\n  throw new Error('boom');\n}\nf();", "Error: boom", "", []string{"at f (throw.js:2:9)", "at throw.js:4:2"}},
		{"type.js", "const o = null;\no.x;", "TypeError: Cannot read property 'x' of undefined", "", []string{"type.js:2:"}},
		{"string.js", "\nthrow 'plain string';", `Uncaught "plain string"`, "", []string{"string.js:2:1"}},
		{"timer.js", "setTimeout(function later() {\n  throw new RangeError('in a timer');\n}, 1);", "RangeError: in a timer", "", []string{"at later (timer.js:2:9)"}},
		{"binding.js", "\n\nhttp.get('ftp://example.com/x').send();", `BAD_REQUEST: http.get(url): unsupported scheme "ftp" in ftp://example.com/x; only http and https URLs can be requested`, "BAD_REQUEST", []string{"binding.js:3:9"}},
		{"reject.js", "async function main() {\n  await null;\n  throw new Error('async boom');\n}\nmain();", "Uncaught (in promise) Error: async boom", "", []string{"at main (reject.js:3:9)"}},
		{"reject2.js", "Promise.reject(42);", "Uncaught (in promise) 42", "", nil},
		{"later.js", "const p = Promise.reject(new Error('never handled'));\nsetTimeout(() => p.catch(() => {}), 10);", "Uncaught (in promise) Error: never handled", "", []string{"later.js:1:26"}},
		{"coded.js", "const e = new Error('token expired');\ne.code = 'REAUTH_REQUIRED';\nthrow e;", "REAUTH_REQUIRED: token expired", "REAUTH_REQUIRED", []string{"coded.js:1:11"}},
		{"overflow.js", "function r() { return r() + 1; }\nr();", "RangeError: Maximum call stack size exceeded", "", []string{"at r (overflow.js:1:", "more"}},
		{"async.js", "function main() {\n  http.get(args[0] + '/x?key=hidden').sendAsync();\n}\nmain();", "Uncaught (in promise) NETWORK: GET " + closed + "/x?…: connection refused", "NETWORK", []string{"at sendAsync (native)", "at main (async.js:2:", "at async.js:4:5"}},
		{"fetch.js", "\nfetch(args[0]);", "Uncaught (in promise) NETWORK: GET " + closed + ": connection refused", "NETWORK", []string{"at fetch (native)", "at fetch.js:2:6"}},
		{"afterfail.js", "setTimeout(() => console.log('must not run'), 20);\nthrow new Error('first');", "Error: first", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := runtime.CompileSource(tt.name, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			stdout, _, err := run(t, s, context.Background(), runtime.Options{Args: []string{closed}})
			var se *runtime.ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("got %T %v, want *runtime.ScriptError", err, err)
			}
			if !strings.HasPrefix(se.Message, tt.message) || se.Code != tt.code {
				t.Errorf("message, code = %q, %q; want %q, %q", se.Message, se.Code, tt.message, tt.code)
			}
			for _, want := range tt.stack {
				if !strings.Contains(se.Stack, want) {
					t.Errorf("stack does not contain %q:\n%s", want, se.Stack)
				}
			}
			if strings.Contains(se.Stack, ")(") {
				t.Errorf("stack has goja internals:\n%s", se.Stack)
			}
			if !strings.HasPrefix(err.Error(), tt.message) {
				t.Errorf("Error() = %q, want it to start with the message", err)
			}
			if stdout != "" {
				t.Errorf("stdout = %q: JavaScript ran after the failure", stdout)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestHandledRejectionsAreFine(t *testing.T) {
	src := `
const p = Promise.reject(new Error('handled'));
p.catch(() => {});
(async () => { try { await Promise.reject(1); } catch (e) {} })();
Promise.reject(2).then(() => {}, () => {});
Promise.allSettled([Promise.reject(3)]).then(() => console.log('ok'));
`
	s, err := runtime.CompileSource("handled.js", src)
	if err != nil {
		t.Fatal(err)
	}
	if stdout, _, err := run(t, s, context.Background(), runtime.Options{}); err != nil || stdout != "ok\n" {
		t.Fatalf("got %q, %v; want ok and no error", stdout, err)
	}
}

func TestStop(t *testing.T) {
	srv, cancelled, arrived := testServer(t)
	tests := []struct {
		name, src     string
		timeout       time.Duration
		ctx           func() (context.Context, context.CancelFunc)
		wantTimeout   bool
		location      string // TimeoutError.Location prefix
		wantCancelled bool   // the server saw its request cancelled
	}{
		{name: "busy.js", src: "let i = 0;\nwhile (true) { i++; }", timeout: 100 * time.Millisecond, wantTimeout: true, location: "busy.js:"},
		{name: "catchall.js", src: "while (true) { try { while (true) {} } catch (e) {} finally { continue; } }", timeout: 100 * time.Millisecond, wantTimeout: true},
		{name: "interval.js", src: "setInterval(() => {}, 1);", timeout: 100 * time.Millisecond, wantTimeout: true},
		{name: "http.js", src: "http.get(args[0] + '/slow').send();", timeout: time.Second, wantTimeout: true, wantCancelled: true},
		{name: "swallow.js", src: "for (;;) { try { http.get(args[0] + '/slow').send(); } catch (e) {} }", timeout: time.Second, wantTimeout: true, wantCancelled: true},
		{name: "fetch.js", src: "(async () => { await fetch(args[0] + '/slow'); })();", timeout: time.Second, wantTimeout: true, wantCancelled: true},
		{name: "deadline.js", src: "while (true) {}", wantTimeout: true, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}},
		{name: "cancel.js", src: "http.get(args[0] + '/slow').sendAsync();", wantCancelled: true, ctx: func() (context.Context, context.CancelFunc) {
			for len(arrived) > 0 { // arrivals of earlier cases
				<-arrived
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-arrived; cancel() }()
			return ctx, cancel
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := runtime.CompileSource(tt.name, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			start := time.Now()
			_, _, err = run(t, s, ctx, runtime.Options{Timeout: tt.timeout, Args: []string{srv.URL}})
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("stopping took %v", d)
			}
			var te *runtime.TimeoutError
			switch {
			case tt.wantTimeout:
				if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("got %T %v, want *runtime.TimeoutError", err, err)
				}
				if te.Timeout != tt.timeout {
					t.Errorf("Timeout = %v, want %v", te.Timeout, tt.timeout)
				}
				if !strings.HasPrefix(te.Location, tt.location) {
					t.Errorf("Location = %q, want prefix %q", te.Location, tt.location)
				}
			default:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("got %T %v, want context.Canceled", err, err)
				}
			}
			if tt.wantCancelled {
				select {
				case <-cancelled:
				case <-time.After(5 * time.Second):
					t.Fatal("the server did not see the request cancelled")
				}
			}
		})
	}
	t.Run("cancelled before start", func(t *testing.T) {
		s, _ := runtime.CompileSource("x.js", "console.log('ran')")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if stdout, _, err := run(t, s, ctx, runtime.Options{}); !errors.Is(err, context.Canceled) || stdout != "" {
			t.Fatalf("got %q, %v; want context.Canceled without running", stdout, err)
		}
	})
}

func TestScripts(t *testing.T) {
	tests := []struct {
		file, stdout string
		args         []string
	}{
		{file: "timers.js", stdout: "timers ok\n"},
		{file: "sandbox.js", stdout: "sandbox ok\n", args: []string{"a", "b c"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			s, err := runtime.CompileSource(tt.file, fixture(t, tt.file)+assertJS)
			if err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := run(t, s, context.Background(), runtime.Options{Args: tt.args, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatalf("%v\nstdout: %s\nstderr: %s", err, stdout, stderr)
			}
			if stdout != tt.stdout {
				t.Errorf("stdout = %q, want %q", stdout, tt.stdout)
			}
		})
	}
}

func TestConsole(t *testing.T) {
	s, err := runtime.CompileSource("console.js", fixture(t, "console.js"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, s, context.Background(), runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantOut := `plain two
1 true null undefined 10n -0.5
{"a":1,"b":[1,"x"],"s":"q\"uote"}
cart has 3 items: {"x":1}
100% sure extra %s
{"name":"c","list":["[Circular]"],"self":"[Circular]"}
{"a":{"v":1},"b":{"v":1}}
[Function: named] [Function (anonymous)] ["[Function: inner]"]
[["k",1]] [1,2]
Promise { 7 } Promise { <pending> }
4|1.5|[1]||%x rest

`
	if stdout != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, wantOut)
	}
	lines := strings.Split(stderr, "\n")
	if len(lines) < 4 || lines[0] != "careful" || lines[1] != `bad {"code":42}` || lines[2] != "Error: with code" ||
		!strings.HasPrefix(lines[3], "    at console.js:19:11") || !strings.Contains(stderr, `{ code: "E_X" }`) {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestRequire(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "scripts")
	main := writeFile(t, dir, "main.js", fixture(t, "require_main.js")+assertJS)
	writeFile(t, dir, "lib/index.js", "module.exports = require('./util.js');\n")
	writeFile(t, dir, "lib/util.js", "const helper = require('./helper');\nexports.add = (a, b) => a + b;\nexports.helperName = helper.name;\nexports.file = __filename;\n")
	writeFile(t, dir, "lib/helper.js", "module.exports = { name: 'helper' };\n")
	writeFile(t, dir, "data.json", `{"n": 42}`)
	writeFile(t, dir, "notes.txt", "not code")
	writeFile(t, dir, "throws.js", "// first line\nthrow new Error('module failed');\n")
	writeFile(t, dir, "syntax.js", "// a module\nconst ok = 1;\nlet = ;\n")
	secret := writeFile(t, root, "secret.js", "module.exports = 'secret';\n")
	for link, target := range map[string]string{"link.js": "../secret.js", "sub": "..", "inlink.js": "lib/helper.js"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Skipf("symlinks not supported: %v", err)
		}
	}
	s, err := runtime.Compile(main)
	if err != nil {
		t.Fatal(err)
	}
	realDir, _ := filepath.EvalSymlinks(dir)
	args := []string{realDir, filepath.Join(dir, "data.json"), secret}
	// Twice: the second run uses the modules compiled by the first.
	for i := 0; i < 2; i++ {
		stdout, stderr, err := run(t, s, context.Background(), runtime.Options{Args: args})
		if err != nil || stdout != "require ok\n" {
			t.Fatalf("run %d: %v\nstdout: %s\nstderr: %s", i, err, stdout, stderr)
		}
	}

	// A script reached through a link resolves requires in its real folder.
	linked := filepath.Join(root, "linked.js")
	if err := os.Symlink(main, linked); err != nil {
		t.Fatal(err)
	}
	if s, err = runtime.Compile(linked); err != nil || s.Name() != "main.js" {
		t.Fatalf("compile through a link: %v, name %q", err, s.Name())
	}
	if stdout, _, err := run(t, s, context.Background(), runtime.Options{Args: args}); err != nil || stdout != "require ok\n" {
		t.Fatalf("run through a link: %v", err)
	}
}

func TestRunWaitsForPendingWork(t *testing.T) {
	srv, _, _ := testServer(t)
	s, err := runtime.CompileSource("sendasync.js", fixture(t, "sendasync.js"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, s, context.Background(), runtime.Options{Args: []string{srv.URL}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sendAsync 200\n", "fetch done\n", "chained 200\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout %q lacks %q: the run ended before the request finished", stdout, want)
		}
	}
}

// TestConcurrentRuns runs one compiled script (with a required module, so
// the shared module cache is exercised) in several goroutines at once.
func TestConcurrentRuns(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "sum.js", "module.exports = n => { let s = 0; for (let i = 1; i <= n; i++) s += i; return s; };\n")
	main := writeFile(t, dir, "main.js", `
const sum = require('./sum.js');
globalThis.mark = args[0];
setTimeout(() => console.log(args[0], sum(Number(args[0])), globalThis.mark), 5);
`)
	s, err := runtime.Compile(main)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 1; i <= 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := strconv.Itoa(i * 1000)
			stdout, _, err := run(t, s, context.Background(), runtime.Options{Args: []string{n}})
			want := fmt.Sprintf("%s %d %s\n", n, i*1000*(i*1000+1)/2, n)
			if err != nil || stdout != want {
				t.Errorf("run %d: %q, %v; want %q", i, stdout, err, want)
			}
		}()
	}
	wg.Wait()
}

// syncBuffer is a bytes.Buffer safe for the session's goroutine and the test.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // closed by the next Write, for waitFor
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.b.Write(p)
}

// waitFor waits until what was written holds s, for up to 10 s, and fails
// the test with the output if s never comes.
func (b *syncBuffer) waitFor(t testing.TB, s string) {
	t.Helper()
	if !b.wait(s, 10*time.Second) {
		t.Fatalf("output %q: %q never came", b.String(), s)
	}
}

// wait reports whether what was written holds s within d, woken by each
// write rather than polling.
func (b *syncBuffer) wait(s string, d time.Duration) bool {
	timeout := time.After(d)
	for {
		b.mu.Lock()
		if strings.Contains(b.b.String(), s) {
			b.mu.Unlock()
			return true
		}
		if b.written == nil {
			b.written = make(chan struct{})
		}
		written := b.written
		b.mu.Unlock()
		select {
		case <-written:
		case <-timeout:
			return false
		}
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// The stack of a failed sendAsync or fetch is where that call was made,
// also when it is recorded in a buffer an earlier, settled call used.
func TestAsyncStackOfEachCall(t *testing.T) {
	closed := closedURL(t)
	src := `async function first() {
  for (let i = 0; i < 3; i++) await http.get(args[0]).sendAsync().catch(() => {});
  for (let i = 0; i < 3; i++) await fetch(args[0]).catch(() => {});
}
function outer() { inner(); }
function inner() { http.get(args[0] + '/late').sendAsync(); }
first().then(outer);
`
	s, err := runtime.CompileSource("reused.js", src)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, s, context.Background(), runtime.Options{Args: []string{closed}})
	var se *runtime.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("got %T %v, want *runtime.ScriptError", err, err)
	}
	var frames []string
	for _, l := range strings.Split(se.Stack, "\n") {
		if f, ok := strings.CutPrefix(strings.TrimSpace(l), "at "); ok {
			frames = append(frames, f)
		}
	}
	if !strings.Contains(se.Message, "/late") || len(frames) != 3 || frames[0] != "sendAsync (native)" ||
		!strings.HasPrefix(frames[1], "inner (reused.js:6:") || !strings.HasPrefix(frames[2], "outer (reused.js:5:") {
		t.Errorf("message %q, stack:\n%s\nwant the /late call's stack alone: sendAsync, inner, outer", se.Message, se.Stack)
	}
}
