package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/scriptrun/scriptrun/sandbox"
)

func TestReplPiped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"n": 7}`))
	}))
	defer srv.Close()
	c := newCLI(t)
	c.home = filepath.Join(t.TempDir(), "home")
	c.stdin = "const u = '" + srv.URL + "'\n" +
		"http.get(u).send().status\n" +
		"const r = await fetch(u)\n" +
		"(await r.json()).n\n" +
		"const total = [1, 2,\n3].reduce((a, b) => a + b)\n" +
		"total\n"
	code, out, errs := c.run("repl")
	if code != 0 || out != "200\n7\n6\n" || errs != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and 200, 7, 6 without prompts", code, out, errs)
	}
	if _, err := os.Stat(c.home); !os.IsNotExist(err) {
		t.Errorf("a REPL that used no token created the home (%v)", err)
	}

	c.stdin = "1\nnope()\nhttp.get('" + srv.URL + "').apiTokenAuth('none').send()\n'after'\n"
	code, out, errs = c.run("repl")
	if code != exitScript || out != "1\n'after'\n" {
		t.Errorf("exit %d, stdout %q; want 1 and the values of the lines that did not throw", code, out)
	}
	for _, want := range []string{"Uncaught ReferenceError: nope is not defined", "TOKEN_NOT_FOUND", "2 of 4 inputs failed"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(out+errs, "\x1b[") {
		t.Error("colour in piped output")
	}
}

func TestReplUsage(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{"repl", "extra"}, {"repl", "--timeout", "-1s"}, {"repl", "--timeout", "soon"}} {
		if code, _, errs := c.run(args...); code != exitUsage {
			t.Errorf("scriptrun %v: exit %d, want %d\n%s", args, code, exitUsage, errs)
		}
	}
	c.stdin = "while (true) {}\n'next'\n"
	code, out, errs := c.run("repl", "--timeout", "200ms")
	if code != exitScript || out != "'next'\n" || !strings.Contains(errs, "Timed out after 200ms") {
		t.Errorf("--timeout: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// .tokens lists names, states and expiry from the home, never secrets;
// .load and .save work in the current folder.
func TestReplCommands(t *testing.T) {
	c := newCLI(t)
	c.addProvider()
	c.must("token", "add", "graph-mail", "--provider", "graph", "--base-url", "https://graph.microsoft.com")
	c.must("token", "add", "crm", "--provider", "graph", "--inactive")
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile(filepath.Join(dir, "helpers.js"), []byte("const base = 'https://graph.microsoft.com/v1.0'\nfunction me() { return base + '/me' }\n"), 0o644)
	c.stdin = ".tokens\n.load helpers.js\nme()\n.save session.js\n.load ../x.js\n"
	code, out, errs := c.run("repl")
	if code != exitScript {
		t.Errorf("exit %d, want 1 (.load ../x.js failed)\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"graph-mail", "unauthorized", "https://graph.microsoft.com", "crm", "(inactive)", "'https://graph.microsoft.com/v1.0/me'", "Saved 2 inputs to session.js"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errs, "client-secret-XYZ-9876") {
		t.Error(".tokens showed a secret")
	}
	if !strings.Contains(errs, "outside the folder") {
		t.Errorf("stderr: %s", errs)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "session.js")); err != nil || string(b) != "// .load helpers.js\nme()\n" {
		t.Errorf("session.js: %q %v", b, err)
	}
}

// terminal is the far side of a pseudo-terminal: what the program wrote,
// with waits for expected output instead of sleeps.
type terminal struct {
	t    *testing.T
	ptmx *os.File
	mu   sync.Mutex
	buf  bytes.Buffer
	seen int           // the part of buf matched by expect so far
	more chan struct{} // closed when more output arrives; under mu
	done chan struct{}
}

func newTerminal(t *testing.T, ptmx *os.File) *terminal {
	term := &terminal{t: t, ptmx: ptmx, more: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(term.done)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			term.mu.Lock()
			term.buf.Write(b[:n])
			close(term.more)
			term.more = make(chan struct{})
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return term
}

// waitReadingKeys waits until the program reads keys itself (ctrlCIsAKey):
// liner switches the terminal just after it prints its prompt, and a Ctrl-C
// sent before that becomes a signal. Nothing announces the switch, so this
// polls the terminal's mode, with a deadline.
func (term *terminal) waitReadingKeys() {
	term.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := ctrlCIsAKey(term.ptmx)
		if err != nil {
			term.t.Fatalf("read the terminal's mode: %v", err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			term.t.Fatal("waited 60s for the program to read keys itself")
		}
		time.Sleep(time.Millisecond)
	}
}

// controlSequence matches the terminal control sequences liner writes.
var controlSequence = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")

// expect waits until the output after what was matched before contains
// want (control sequences removed) and returns that output, raw.
func (term *terminal) expect(want string) string {
	term.t.Helper()
	timeout := time.After(60 * time.Second) // a loaded 2-core CI machine
	for {
		term.mu.Lock()
		raw := term.buf.String()[term.seen:]
		more := term.more
		term.mu.Unlock()
		plain := controlSequence.ReplaceAllString(raw, "")
		if i := strings.Index(plain, want); i >= 0 {
			j := rawEnd(raw, i+len(want))
			term.mu.Lock()
			term.seen += j
			term.mu.Unlock()
			return raw[:j]
		}
		select {
		case <-more:
		case <-timeout:
			term.t.Fatalf("waited 60s for %q; the terminal shows:\n%s", want, plain)
		case <-term.done:
			term.mu.Lock()
			raw = term.buf.String()[term.seen:]
			term.mu.Unlock()
			if strings.Contains(controlSequence.ReplaceAllString(raw, ""), want) {
				continue
			}
			term.t.Fatalf("the program ended before printing %q; the terminal shows:\n%s", want, controlSequence.ReplaceAllString(raw, ""))
		}
	}
}

// leadingSequence matches a control sequence at the start of a string.
var leadingSequence = regexp.MustCompile("^\x1b\\[[0-9;?]*[A-Za-z]")

// rawEnd returns the length of the prefix of raw that holds its first n
// characters once control sequences are removed.
func rawEnd(raw string, n int) int {
	seen := 0
	for k := 0; k < len(raw); {
		if loc := leadingSequence.FindStringIndex(raw[k:]); loc != nil {
			k += loc[1]
			continue
		}
		k++
		if seen++; seen >= n {
			return k
		}
	}
	return len(raw)
}

func (term *terminal) send(s string) {
	term.t.Helper()
	if _, err := term.ptmx.Write([]byte(s)); err != nil {
		term.t.Fatal(err)
	}
}

// authorizedToken registers the sandbox as a provider in home and gets a
// token called api, bound to baseURL, through the provider's sign-in page,
// as `token authorize` does for a person.
func authorizedToken(t *testing.T, home string, srv *sandbox.Server, baseURL string) {
	t.Helper()
	run := func(stdin string, args ...string) {
		t.Helper()
		if code, out, errs := proc(t, home, stdin, args...); code != 0 {
			t.Fatalf("scriptrun %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}
	run(srv.ClientSecret()+"\n", "provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-stdin",
		"--auth-url", srv.AuthURL(), "--token-url", srv.TokenURL(), "--scopes", "read")
	run("", "token", "add", "api", "--provider", "sandbox", "--base-url", baseURL)
	authorizeCLI(t, home, srv, "api")
}

// The REPL on a real terminal, end to end: the binary in a pseudo-terminal,
// a token authorized at a real OAuth2 server, an API behind an httptest
// server. It types an expression, a multi-line function, a top-level await
// with the token, completions, a Ctrl-C during a slow request (which the
// server sees cancelled), .tokens and .exit.
func TestReplTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	srv, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// The API the token is for: an httptest server in front of the
	// sandbox's bearer-checking API.
	target, _ := url.Parse(srv.URL())
	forward := httputil.NewSingleHostReverseProxy(target)
	forward.ErrorLog = log.New(io.Discard, "", 0) // the cancelled request is expected
	var signed atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			signed.Add(1)
		}
		forward.ServeHTTP(w, r)
	}))
	defer api.Close()
	home := t.TempDir()
	authorizedToken(t, home, srv, api.URL)

	cmd := exec.Command(binary(t), "repl")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"SCRIPTRUN_HOME=" + home, "TERM=xterm", "HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	start := time.Now()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
		}
	}()
	term := newTerminal(t, ptmx)
	term.expect(".help for help")
	term.expect("> ")
	t.Logf("first prompt after %v (process start to prompt, on this machine)", time.Since(start).Round(time.Millisecond))

	// An expression, printed in colour.
	term.send("6 * 7\r")
	if out := term.expect("42"); !strings.Contains(out, "\x1b[33m42") {
		t.Errorf("42 not printed in colour: %q", out)
	}
	term.expect("> ")

	// A multi-line function: continuation prompts until it is complete.
	term.send("function greet(name) {\r")
	term.expect("... ")
	term.send("  return 'hi ' + name\r")
	term.expect("... ")
	term.send("}\r")
	term.expect("> ")
	term.send("greet('pty')\r")
	term.expect("'hi pty'")
	term.expect("> ")

	// Top-level await with the stored token; the response prints without
	// the credential.
	term.send("const r = await fetch('" + api.URL + "/api/me', {apiTokenAuth: 'api'})\r")
	term.expect("undefined")
	term.expect("> ")
	term.send("r\r")
	out := term.expect(`"user": "demo"`)
	out += term.expect("> ")
	plain := controlSequence.ReplaceAllString(out, "")
	if !strings.Contains(plain, "Response (fetch) 200 OK "+api.URL+"/api/me") || !strings.Contains(plain, "content-type: application/json") {
		t.Errorf("response printed as:\n%s", plain)
	}
	if strings.Contains(strings.ToLower(plain), "authorization") || strings.Contains(plain, "Bearer") {
		t.Errorf("the printed response shows the credential:\n%s", plain)
	}
	if signed.Load() == 0 {
		t.Error("the API never saw a signed request")
	}

	// Completion: a property, and a token name inside apiTokenAuth('.
	term.send("r.statusT\t")
	term.expect("r.statusText")
	term.send("\r")
	term.expect("'OK'")
	term.expect("> ")
	term.send("http.get('" + api.URL + "/api/me').apiTokenAuth('a\t")
	term.expect("apiTokenAuth('api'")
	term.send(").send().json().user\r")
	term.expect("'demo'")
	term.expect("> ")

	// Ctrl-C during a slow request: the REPL survives, the server sees the
	// request cancelled.
	before := srv.Stats()
	term.send("await fetch('" + api.URL + "/api/slow?ms=60000', {apiTokenAuth: 'api'})\r")
	waitStats(t, srv, func(st sandbox.Stats) bool { return st.APICalls > before.APICalls }, "the slow request never reached the server")
	term.send("\x03")
	term.expect("Interrupted")
	term.expect("> ")
	waitStats(t, srv, func(st sandbox.Stats) bool { return st.APICancelled > before.APICancelled }, "the server did not see the slow request cancelled")
	term.send("'still alive'\r")
	term.expect("'still alive'")
	term.expect("> ")

	term.send(".tokens\r")
	out = term.expect("authorized")
	out += term.expect("> ")
	if !strings.Contains(out, "api") || !strings.Contains(out, api.URL) {
		t.Errorf(".tokens printed:\n%s", controlSequence.ReplaceAllString(out, ""))
	}

	term.send("const password = 'hunter2'\r")
	term.expect("> ")
	term.send(".exit\r")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("repl exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal(".exit did not end the REPL")
	}

	// The history: private, without the secret.
	hist := filepath.Join(home, "repl_history")
	fi, err := os.Stat(hist)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("history mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(hist)
	if !strings.Contains(string(b), "6 * 7\n") || !strings.Contains(string(b), "function greet(name) {\n") {
		t.Errorf("history lacks what was typed:\n%s", b)
	}
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("history keeps a password:\n%s", b)
	}

	// The next REPL recalls it: Ctrl-R searches, Up goes back.
	cmd = exec.Command(binary(t), "repl")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"SCRIPTRUN_HOME=" + home, "TERM=xterm", "NO_COLOR=1", "PATH=" + os.Getenv("PATH")}
	ptmx2, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx2.Close()
	exited = make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	term = newTerminal(t, ptmx2)
	term.expect("> ")
	term.send("\x12")
	term.expect("reverse-i-search")
	term.send("6 *")
	term.expect("6 * 7")
	term.send("\r")
	term.expect("42")
	term.expect("> ")
	term.send("\x1b[A")
	term.expect("6 * 7")
	term.send("\x1b[A")
	term.expect(".exit")
	term.send("\r")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("second repl exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the recalled .exit did not end the REPL")
	}
}

// waitStats waits up to 60 s (a loaded 2-core machine) for the sandbox's
// counters to satisfy cond, woken by each change.
func waitStats(t *testing.T, srv *sandbox.Server, cond func(sandbox.Stats) bool, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if st, err := srv.WaitStats(ctx, cond); err != nil {
		t.Fatalf("%s (%v): %+v", msg, err, st)
	}
}

// Ctrl-D on an empty line leaves; so does Ctrl-C twice.
func TestReplTerminalExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, keys := range []string{"\x04", "\x03\x03"} {
		cmd := exec.Command(binary(t), "repl")
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"SCRIPTRUN_HOME=" + t.TempDir(), "TERM=xterm", "NO_COLOR=1", "PATH=" + os.Getenv("PATH")}
		ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 100})
		if err != nil {
			t.Fatal(err)
		}
		term := newTerminal(t, ptmx)
		term.expect("> ")
		term.send("1 + 1\r")
		if out := term.expect("2"); strings.Contains(out, "\x1b[33m") {
			t.Errorf("NO_COLOR set, but colour printed: %q", out)
		}
		term.expect("> ")
		for i, k := range keys {
			if i > 0 {
				// A person presses the key again once the prompt is back.
				term.expect("press Ctrl+C again")
				term.expect("> ")
			}
			// The prompt is drawn a moment before the line editor takes the
			// terminal out of the mode that turns Ctrl-C into a signal.
			term.waitReadingKeys()
			term.send(string(k))
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("%q: exit %v", keys, err)
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Errorf("%q did not end the REPL", keys)
		}
		ptmx.Close()
	}
}

// startRepl runs `scriptrun repl` in a pseudo-terminal without colour and
// waits for its first prompt.
func startRepl(t *testing.T) (*terminal, <-chan error) {
	t.Helper()
	cmd := exec.Command(binary(t), "repl")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"SCRIPTRUN_HOME=" + t.TempDir(), "TERM=xterm", "NO_COLOR=1", "PATH=" + os.Getenv("PATH")}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
		}
		ptmx.Close()
	})
	term := newTerminal(t, ptmx)
	term.expect("> ")
	return term, exited
}

// waitExit waits for the REPL to end and checks it ended well.
func waitExit(t *testing.T, exited <-chan error, what string) {
	t.Helper()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("%s: exit %v", what, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not end the REPL", what)
	}
}

// A bracketed paste is one input: the README's example, builder lines
// starting with a dot included, runs as pasted.
func TestReplTerminalPaste(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	var got atomic.Value
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		got.Store(r.URL.RawQuery + " " + r.Header.Get("X-Demo"))
		w.Write([]byte(`{"value": [1, 2]}`))
	}))
	defer srv.Close()
	term, exited := startRepl(t)
	term.mu.Lock()
	on := strings.Contains(term.buf.String(), "\x1b[?2004h")
	term.mu.Unlock()
	if !on {
		t.Error("bracketed paste was not turned on at the prompt")
	}

	example := "const res = http.get('" + srv.URL + "/me/messages')\r" +
		"  .header('X-Demo', 'pasted')\r" +
		"  .query({ $top: 10 })\r" +
		"  .send();\r" +
		"console.log(res.status, res.json().value.length)\r"
	term.send("\x1b[200~" + example + "\x1b[201~")
	out := term.expect("200 2")
	term.expect("> ")
	if q, _ := got.Load().(string); q != "$top=10 pasted" {
		t.Errorf("the server saw %q", q)
	}
	if plain := controlSequence.ReplaceAllString(out, ""); !strings.Contains(plain, "...   .query({ $top: 10 })") {
		t.Errorf("the pasted lines were not shown as input:\n%s", plain)
	}

	// A paste without a final line break waits for Enter; its last line can
	// be edited first.
	term.send("\x1b[200~[1, 2, 3]\r  .map(n => n * 2)\x1b[201~")
	term.expect("... ")
	term.send(".join('+')\r")
	term.expect("'2+4+6'")
	term.expect("> ")

	// Without markers (a terminal without bracketed paste) the lines come
	// as if typed: each line that starts with a dot continues the request,
	// which is sent once.
	got.Store("")
	term.send(strings.ReplaceAll(example, "pasted", "typed"))
	term.expect("200 2")
	term.expect("> ")
	if q, _ := got.Load().(string); q != "$top=10 typed" {
		t.Errorf("typed line by line, the server saw %q", q)
	}
	term.send("function twice(n) {\r  return 2 * n\r}\rtwice(21)\r")
	term.expect("42")
	term.expect("> ")

	// A builder with a token that is never sent: the REPL says so when it
	// ends (a later input could still have sent it).
	term.send("http.get('" + srv.URL + "/forgotten')\r")
	term.expect("> ")
	term.send("  .apiTokenAuth('crm')\r")
	term.expect("> ")
	term.send(".exit\r")
	term.expect("Warning: request built but never sent at REPL")
	waitExit(t, exited, ".exit")
	if n := requests.Load(); n != 2 {
		t.Errorf("the server saw %d requests, want 2 (one per paste of the example)", n)
	}
}

// Ctrl-C on a line with text clears it and never leaves; Ctrl-C twice on an
// empty line does. .editor runs its lines at Ctrl-D and drops them at Ctrl-C.
func TestReplTerminalCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	term, exited := startRepl(t)
	for range 3 {
		term.send("'some text'")
		term.expect("'some text'")
		term.send("\x03")
		term.expect("> ")
	}
	term.send("[1,\r")
	term.expect("... ")
	term.send("2")
	term.expect("2")
	term.send("\x03")
	term.expect("> ")
	term.send("'alive'\r")
	term.expect("'alive'")
	term.expect("> ")
	term.mu.Lock()
	all := term.buf.String()
	term.mu.Unlock()
	if strings.Contains(all, "press Ctrl+C again") {
		t.Errorf("Ctrl-C on a line with text armed the exit:\n%s", controlSequence.ReplaceAllString(all, ""))
	}

	term.send(".editor\r")
	term.expect("Entering editor mode")
	term.send("const z = 20\rz +\r  22\x04")
	term.expect("42")
	term.expect("> ")
	term.send(".editor\r")
	term.expect("Entering editor mode")
	term.send("'dropped'\r'and this'")
	term.expect("'and this'") // the editor reads its second line
	term.send("\x03")
	term.expect("> ")
	term.send("typeof z\r")
	term.expect("'number'")
	term.expect("> ")

	term.waitReadingKeys()
	term.send("\x03")
	term.expect("press Ctrl+C again")
	term.expect("> ")
	term.waitReadingKeys()
	term.send("\x03")
	waitExit(t, exited, "Ctrl-C twice on an empty line")
}

// `scriptrun run` ends a script that built a request with apiTokenAuth and
// never sent it with a warning naming the line; the run still succeeds.
func TestRunWarnsUnsent(t *testing.T) {
	c := newCLI(t)
	path := filepath.Join(t.TempDir(), "forgot.js")
	os.WriteFile(path, []byte("const req = http.get('https://api.example.com/me')\n  .apiTokenAuth('graph-mail')\nconsole.log('done')\n"), 0o644)
	code, out, errs := c.run("run", path)
	if code != 0 || out != "done\n" || !strings.Contains(errs, "request built but never sent at forgot.js:2:16") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
