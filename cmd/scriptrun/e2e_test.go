package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the real scriptrun once for the tests that start processes.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scriptrun-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "scriptrun")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc runs the built binary with a home and returns its exit code and output.
func proc(t *testing.T, home, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+home)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func writeScript(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScriptExitCodes(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	tests := []struct {
		name, src string
		args      []string
		code      int
		stdout    string
		stderr    []string
	}{
		{"success with args", "console.log('hi', args.join('+'))", []string{"a", "b"}, 0, "hi a+b", nil},
		{"throws", "function f() {\n  throw new Error('boom');\n}\nf();\n", nil, exitScript, "", []string{"boom", "throws.js:2"}},
		{"syntax error", "let x = ;\n", nil, exitScript, "", []string{"syntax_error.js:1:"}},
		{"unhandled rejection", "Promise.reject(new Error('nope'));", nil, exitScript, "", []string{"nope"}},
		{"timeout", "while (true) {}", []string{}, exitTimeout, "", []string{"timeout"}},
		{"unknown token", "http.get('https://example.com').apiTokenAuth('nope').send()", nil, exitScript, "", []string{"TOKEN_NOT_FOUND", "nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeScript(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".js", tt.src)
			args := []string{"run", file}
			if tt.code == exitTimeout {
				args = append(args, "--timeout", "300ms")
			}
			code, out, errs := c.run(append(args, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout %q lacks %q", out, tt.stdout)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(strings.ToLower(errs), strings.ToLower(want)) {
					t.Errorf("stderr %q lacks %q", errs, want)
				}
			}
		})
	}
}

// The global --home reaches run, whose flags are parsed by hand.
func TestRunHonoursHomeFlag(t *testing.T) {
	c := newCLI(t)
	other := t.TempDir()
	c.must("--home", other, "provider", "add", "p", "--client-id", "x", "--auth-url", "https://a.example.com/a", "--token-url", "https://a.example.com/t")
	c.must("--home", other, "token", "add", "tk", "--provider", "p", "--base-url", "https://api.example.com")
	file := writeScript(t, t.TempDir(), "h.js", "try { http.get('https://api.example.com/').apiTokenAuth('tk').send() } catch (e) { console.log(e.code) }")
	for _, args := range [][]string{{"--home", other, "run", file}, {"--home=" + other, file}, {"--home", other, file}} {
		if out := c.must(args...); out != "TOKEN_UNAUTHORIZED\n" {
			t.Errorf("scriptrun %v printed %q; want TOKEN_UNAUTHORIZED (the token in --home, not SCRIPTRUN_HOME)", args, out)
		}
	}
}

// A script that uses no token does not create the home.
func TestScriptWithoutTokensLeavesHomeAlone(t *testing.T) {
	c := newCLI(t)
	c.home = filepath.Join(t.TempDir(), "home")
	file := writeScript(t, t.TempDir(), "hello.js", "console.log('hello')")
	if code, out, errs := c.run(file); code != 0 || out != "hello\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if _, err := os.Stat(c.home); !os.IsNotExist(err) {
		t.Errorf("running a script without tokens created the home (%v)", err)
	}
}

// The whole product from the command line against a real authorization
// server: provider and token from the CLI, "Get authorization token" through
// the provider's sign-in page, scripts across expiries, and several processes
// at once on an expired token.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	srv, err := sandbox.Start(sandbox.Options{AccessTTL: 2 * time.Second, RequirePKCE: true, AuthStyle: "body"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	home := t.TempDir()
	run := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errs := proc(t, home, stdin, args...)
		if code != 0 {
			t.Fatalf("scriptrun %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	run(srv.ClientSecret()+"\n", "provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-stdin",
		"--auth-url", srv.AuthURL(), "--token-url", srv.TokenURL(), "--auth-style", "body", "--scopes", "read")
	run("", "token", "add", "api", "--provider", "sandbox", "--base-url", srv.URL())

	if out, _ := authorizeCLI(t, home, srv, "api"); !strings.Contains(out, "state authorized") {
		t.Fatalf("token authorize printed:\n%s", out)
	}

	var tv tokenView
	json.Unmarshal([]byte(run("", "token", "show", "api", "--json")), &tv)
	if tv.State != "authorized" || !tv.HasRefreshToken || tv.Expires == "" {
		t.Fatalf("token after authorize: %+v", tv)
	}
	raw, _ := os.ReadFile(filepath.Join(home, "scriptrun.db"))
	if bytes.Contains(raw, []byte(srv.ClientSecret())) {
		t.Error("database holds the client secret in clear")
	}

	// A script across two expiries.
	dir := t.TempDir()
	script := writeScript(t, dir, "poll.js", `
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  for (let i = 0; i < 3; i++) {
    const res = http.get(args[0] + '/me').apiTokenAuth('api').send();
    if (!res.ok) throw new Error('status ' + res.status);
    console.log(res.json().user);
    if (i < 2) await sleep(2100);
  }
})();
`)
	out := run("", script, srv.APIURL())
	if strings.Count(out, "demo") != 3 {
		t.Errorf("script output %q, want three successful calls", out)
	}
	if st := srv.Stats(); st.RefreshRequests < 2 || st.RefreshTokenReuse != 0 || st.APIRejected != 0 {
		t.Errorf("after the script: %d refreshes (want >= 2), %d reused, %d refused", st.RefreshRequests, st.RefreshTokenReuse, st.APIRejected)
	}

	// Three processes at once on an expired token: one refresh. The token
	// is expired in the store, where the processes read its expiry, rather
	// than waited for.
	expireStoredToken(t, home, "api")
	before := srv.Stats().RefreshRequests
	burst := writeScript(t, dir, "burst.js", `
Promise.all(Array.from({length: 30}, () => http.get(args[0] + '/me').apiTokenAuth('api').sendAsync()))
  .then((rs) => { const ok = rs.filter((r) => r.ok).length; console.log(ok); if (ok !== 30) throw new Error(ok + ' ok'); });
`)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if code, out, errs := proc(t, home, "", burst, srv.APIURL()); code != 0 {
				t.Errorf("burst process: exit %d\n%s%s", code, out, errs)
			}
		})
	}
	wg.Wait()
	if st := srv.Stats(); st.RefreshRequests-before != 1 || st.RefreshTokenReuse != 0 {
		t.Errorf("three processes on an expired token: %d refreshes (want 1), %d refresh tokens reused", st.RefreshRequests-before, st.RefreshTokenReuse)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the ~10 s demo")
	}
	var out, errb bytes.Buffer
	code := Main([]string{"demo"}, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"token refreshed", "rotated=true", "0 refresh tokens presented twice", "TOKEN_HOST_MISMATCH", "demo finished"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "sandbox-secret") {
		t.Error("demo output shows the client secret")
	}
}

// Concurrent CLI edits of different fields of one token, from separate
// processes, all survive: each update reads and writes inside one
// transaction.
func TestConcurrentCLIEditsLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	home := t.TempDir()
	proc(t, home, "", "provider", "add", "p", "--client-id", "x", "--auth-url", "https://a.example.com/a", "--token-url", "https://a.example.com/t")
	proc(t, home, "", "token", "add", "tk", "--provider", "p")
	edits := [][]string{
		{"token", "update", "tk", "--prompt", "consent"},
		{"token", "update", "tk", "--scopes", "Mail.Read Mail.Send"},
		{"token", "update", "tk", "--base-url", "https://graph.microsoft.com"},
		{"token", "update", "tk", "--active", "false"},
		{"provider", "update", "p", "--description", "edited concurrently"},
		{"provider", "update", "p", "--scopes", "openid"},
	}
	var wg sync.WaitGroup
	for _, args := range edits {
		wg.Go(func() {
			if code, out, errs := proc(t, home, "", args...); code != 0 {
				t.Errorf("%v: exit %d\n%s%s", args, code, out, errs)
			}
		})
	}
	wg.Wait()
	var tv tokenView
	_, out, _ := proc(t, home, "", "token", "show", "tk", "--json")
	json.Unmarshal([]byte(out), &tv)
	if tv.Prompt != "consent" || tv.Scopes != "Mail.Read Mail.Send" || tv.BaseURL != "https://graph.microsoft.com" || tv.Active {
		t.Errorf("token after concurrent edits: %+v; an update was lost", tv)
	}
	var pv providerView
	_, out, _ = proc(t, home, "", "provider", "show", "p", "--json")
	json.Unmarshal([]byte(out), &pv)
	if pv.Description != "edited concurrently" || pv.Scopes != "openid" {
		t.Errorf("provider after concurrent edits: %+v; an update was lost", pv)
	}
}

// authorizeCLI runs `scriptrun token authorize NAME` with the real binary,
// reads the authorization URL it prints, signs in at the sandbox's login page
// as a person would, and returns everything the command printed and the
// callback URL the provider sent the browser to.
func authorizeCLI(t *testing.T, home string, srv *sandbox.Server, name string) (string, *url.URL) {
	t.Helper()
	cmd := exec.Command(binary(t), "token", "authorize", name, "--no-browser", "--callback-url", "http://127.0.0.1:0/oauth/callback")
	cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+home)
	stdout, _ := cmd.StdoutPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	var callback *url.URL
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if callback == nil && strings.HasPrefix(line, srv.AuthURL()+"?") {
			u, err := sandbox.SignIn(context.Background(), line, "demo", "demo")
			if err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("sign in: %v", err)
			}
			callback = u
		}
	}
	err := cmd.Wait()
	out.WriteString(errb.String())
	if callback == nil {
		t.Fatalf("token authorize printed no authorization URL:\n%s", out.String())
	}
	if err != nil {
		t.Fatalf("token authorize: %v\n%s", err, out.String())
	}
	return out.String(), callback
}

// expireStoredToken sets the stored expiry of token name in home to a
// minute ago, as if its lifetime had passed: the next process to use it
// refreshes it first.
func expireStoredToken(t *testing.T, home, name string) {
	t.Helper()
	key, err := store.LoadKey(filepath.Join(home, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.OpenIn(t, home, key)
	err = db.Update(func(tx *store.Tx) error {
		tok, err := tx.Token(name)
		if err != nil {
			return err
		}
		tok.Expires = time.Now().Add(-time.Minute)
		return tx.PutToken(tok)
	})
	if err != nil {
		t.Fatal(err)
	}
}
