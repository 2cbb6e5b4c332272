package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// cli runs scriptrun in-process with a fresh home (unless env sets one) and
// returns the exit code, stdout and stderr.
type cli struct {
	t     *testing.T
	home  string
	env   map[string]string
	stdin string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, home: t.TempDir(), env: map[string]string{}}
}

func (c *cli) run(args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"SCRIPTRUN_HOME": c.home}
	for k, v := range c.env {
		env[k] = v
	}
	code := Main(args, Stdio{In: strings.NewReader(c.stdin), Out: &out, Err: &errb}, func(k string) string { return env[k] })
	c.stdin = ""
	return code, out.String(), errb.String()
}

// must runs a command that has to succeed.
func (c *cli) must(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("scriptrun %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (c *cli) addProvider() {
	c.t.Helper()
	c.env["SECRET"] = "client-secret-XYZ-9876"
	c.must("provider", "add", "graph", "--client-id", "app-1", "--client-secret-env", "SECRET",
		"--auth-url", "https://login.example.com/authorize", "--token-url", "https://login.example.com/token",
		"--scopes", "offline_access Mail.Read", "--auth-param", "access_type=offline")
}

func TestUsageErrors(t *testing.T) {
	good := []string{"--client-id", "x", "--auth-url", "https://a.example.com/authorize", "--token-url", "https://a.example.com/token"}
	tests := []struct {
		name   string
		args   []string
		stdin  string
		want   string
		absent string
	}{
		{"unknown command", []string{"frobnicate"}, "", "unknown command", ""},
		{"unknown flag", []string{"token", "list", "--colour"}, "", "unknown flag", ""},
		{"provider add without client id", []string{"provider", "add", "p", "--auth-url", "https://a/"}, "", "--client-id", ""},
		{"bad provider name", append([]string{"provider", "add", "my provider"}, good...), "", "provider name", ""},
		{"relative auth url", []string{"provider", "add", "p", "--client-id", "x", "--auth-url", "/authorize", "--token-url", "https://a/t"}, "", `--auth-url: "/authorize" is not an absolute http(s) URL`, ""},
		{"plain http token url", []string{"provider", "add", "p", "--client-id", "x", "--auth-url", "https://a/x", "--token-url", "http://login.example.com/t"}, "", "plain http", ""},
		{"secret as argument", append([]string{"provider", "add", "p", "--client-secret", "s3cr3t-value"}, good...), "", "not accepted", "s3cr3t-value"},
		{"secret env missing", append([]string{"provider", "add", "p", "--client-secret-env", "NOPE"}, good...), "", "NOPE", ""},
		{"secret pasted into --client-secret-env", append([]string{"provider", "add", "p", "--client-secret-env", "sk_live_4eC39H-qLyjW"}, good...), "", "--client-secret-env takes the NAME of an environment variable", "qLyjW"},
		{"secret shaped like a name in --client-secret-env", append([]string{"provider", "add", "p", "--client-secret-env", "a9F3kLmQ7xZ2"}, good...), "", "not shown", "a9F3kLmQ7xZ2"},
		{"secret pasted into update's --client-secret-env", []string{"provider", "update", "p", "--client-secret-env", "abc/def+ghi="}, "", "--client-secret-env takes the NAME", "def+ghi"},
		{"secret stdin empty", append([]string{"provider", "add", "p", "--client-secret-stdin"}, good...), "", "standard input was empty", ""},
		{"bad auth param", append([]string{"provider", "add", "p", "--auth-param", "novalue"}, good...), "", "KEY=VALUE", ""},
		{"bad auth style", append([]string{"provider", "add", "p", "--auth-style", "auto"}, good...), "", "auth style", ""},
		{"token without provider flag", []string{"token", "add", "t"}, "", "--provider", ""},
		{"token with unknown provider", []string{"token", "add", "t", "--provider", "missing"}, "", `provider "missing" not found`, ""},
		{"unknown token", []string{"token", "show", "nope"}, "", `token "nope" not found`, ""},
		{"unknown provider", []string{"provider", "show", "nope"}, "", `provider "nope" not found`, ""},
		{"refresh unknown token", []string{"token", "refresh", "nope"}, "", "does not exist", ""},
		{"show needs a name", []string{"token", "show"}, "", "NAME", ""},
		{"run without file", []string{"run"}, "", "run needs a script", ""},
		{"missing script", []string{"run", "missing.js"}, "", "does not exist", ""},
		{"bad timeout", []string{"run", "x.js", "--timeout", "soon"}, "", "not a positive duration", ""},
		{"authorize to a public callback", []string{"token", "authorize", "t", "--callback-url", "https://example.com/cb"}, "", "cannot be served by this command", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.stdin = tt.stdin
			code, out, errs := c.run(tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, out, errs)
			}
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr %q does not say %q", errs, tt.want)
			}
			if tt.absent != "" && strings.Contains(out+errs, tt.absent) {
				t.Errorf("output repeats %q", tt.absent)
			}
			for _, bad := range []string{"panic", "goroutine ", ".go:"} {
				if strings.Contains(errs, bad) {
					t.Errorf("stderr looks like a Go crash (%q): %s", bad, errs)
				}
			}
		})
	}
}

func TestProviderAndTokenLifecycle(t *testing.T) {
	c := newCLI(t)
	c.addProvider()
	out := c.must("provider", "show", "graph")
	if strings.Contains(out, "client-secret-XYZ-9876") || !strings.Contains(out, "••••9876") || !strings.Contains(out, "access_type=offline") {
		t.Errorf("provider show:\n%s\nwant the secret masked to its last 4 characters and the auth params", out)
	}
	var pv providerView
	if err := json.Unmarshal([]byte(c.must("provider", "show", "graph", "--json")), &pv); err != nil || pv.ClientSecret != "••••9876" || pv.Scopes != "offline_access Mail.Read" {
		t.Errorf("provider show --json = %+v (%v)", pv, err)
	}
	c.stdin = "new-secret-from-stdin-5555\n"
	c.must("provider", "update", "graph", "--client-secret-stdin", "--description", "Graph for mail")
	if out := c.must("provider", "show", "graph"); !strings.Contains(out, "••••5555") || !strings.Contains(out, "Graph for mail") || !strings.Contains(out, "offline_access") {
		t.Errorf("after update:\n%s", out)
	}

	_, _, errs := c.run("token", "add", "mail", "--provider", "graph", "--prompt", "consent")
	if !strings.Contains(errs, "no base URL") {
		t.Errorf("token add without a base URL does not warn: %q", errs)
	}
	c.must("token", "update", "mail", "--base-url", "https://graph.microsoft.com", "--active", "false", "--scopes", "Mail.Send")
	var tv tokenView
	if err := json.Unmarshal([]byte(c.must("token", "show", "mail", "--json")), &tv); err != nil {
		t.Fatal(err)
	}
	if tv.State != "unauthorized" || tv.Active || tv.BaseURL != "https://graph.microsoft.com" || tv.Scopes != "Mail.Send" || tv.Prompt != "consent" {
		t.Errorf("token show --json = %+v", tv)
	}
	var list []tokenView
	if err := json.Unmarshal([]byte(c.must("token", "list", "--json")), &list); err != nil || len(list) != 1 {
		t.Errorf("token list --json: %v, %d tokens", err, len(list))
	}
	if code, _, errs := c.run("provider", "rm", "graph"); code != exitUsage || !strings.Contains(errs, "mail") || !strings.Contains(errs, "--force") {
		t.Errorf("provider rm while used: exit %d, %q", code, errs)
	}
	c.must("token", "rm", "mail")
	c.must("provider", "rm", "graph")
	if out := c.must("provider", "list"); strings.Contains(out, "graph") {
		t.Errorf("provider list after rm:\n%s", out)
	}
	raw, _ := os.ReadFile(filepath.Join(c.home, "scriptrun.db"))
	if bytes.Contains(raw, []byte("new-secret-from-stdin")) || bytes.Contains(raw, []byte("client-secret-XYZ")) {
		t.Error("the database file holds a client secret in clear")
	}
}

func TestBrokenHome(t *testing.T) {
	t.Run("damaged database", func(t *testing.T) {
		c := newCLI(t)
		db := filepath.Join(c.home, "scriptrun.db")
		os.WriteFile(db, bytes.Repeat([]byte("not a database "), 1000), 0o600)
		code, _, errs := c.run("token", "list")
		// Damage is not a mistake in the command: exit 1, as for a failure.
		if code != exitScript || !strings.Contains(errs, db) || !strings.Contains(errs, "restore") {
			t.Errorf("exit %d, stderr %q; want 1 naming %s and what to do", code, errs, db)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		c := newCLI(t)
		c.must("token", "list")
		c.env["SCRIPTRUN_MASTER_KEY"] = strings.Repeat("ab", 32)
		code, _, errs := c.run("token", "list")
		if code != exitWrongKey || !strings.Contains(errs, "master key") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("malformed key variable", func(t *testing.T) {
		c := newCLI(t)
		c.env["SCRIPTRUN_MASTER_KEY"] = "hunter2"
		code, _, errs := c.run("token", "list")
		if code != exitUsage || !strings.Contains(errs, "SCRIPTRUN_MASTER_KEY") || strings.Contains(errs, "hunter2") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
}

func TestShorthand(t *testing.T) {
	root := newRoot(&app{})
	tests := []struct{ in, want string }{
		{"hello.js a b", "run hello.js a b"},
		{"--home /h hello.js", "--home /h run hello.js"},
		{"--home=/h hello.js x", "--home=/h run hello.js x"},
		{"run hello.js", "run hello.js"},
		{"token list", "token list"},
		{"demo", "demo"},
		{"notes.txt", "notes.txt"},
	}
	for _, tt := range tests {
		if got := strings.Join(shorthand(strings.Fields(tt.in), root), " "); got != tt.want {
			t.Errorf("shorthand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseRunArgs(t *testing.T) {
	tests := []struct {
		in        string
		file      string
		timeout   string
		maxMemory int64
		rest      string
		wantErr   string
	}{
		{in: "x.js", file: "x.js", timeout: "5m0s", maxMemory: 2 << 30},
		{in: "x.js --timeout 2s a b", file: "x.js", timeout: "2s", maxMemory: 2 << 30, rest: "a b"},
		{in: "--timeout=3s x.js a", file: "x.js", timeout: "3s", maxMemory: 2 << 30, rest: "a"},
		{in: "x.js a --timeout 2s", file: "x.js", timeout: "5m0s", maxMemory: 2 << 30, rest: "a --timeout 2s"},
		{in: "--max-memory 512MiB x.js", file: "x.js", timeout: "5m0s", maxMemory: 512 << 20},
		{in: "x.js --max-memory=1.5GB --timeout 1s a", file: "x.js", timeout: "1s", maxMemory: 1_500_000_000, rest: "a"},
		{in: "x.js --timeout 1s --max-memory 268435456", file: "x.js", timeout: "1s", maxMemory: 256 << 20},
		{in: "x.js --max-memory 0", file: "x.js", timeout: "5m0s", maxMemory: 0},
		{in: "x.js --max-memory 2gib", file: "x.js", timeout: "5m0s", maxMemory: 2 << 30},
		{in: "x.js --timeout", wantErr: "needs a duration"},
		{in: "--timeout -1s x.js", wantErr: "not a positive duration"},
		{in: "--verbose x.js", wantErr: "unknown flag"},
		{in: "x.js --max-memory", wantErr: "needs a size"},
		{in: "x.js --max-memory lots", wantErr: "512MiB"},
		{in: "x.js --max-memory 512M", wantErr: "512MiB"},
		{in: "x.js --max-memory -1GiB", wantErr: "512MiB"},
		{in: "x.js --max-memory 1MiB", wantErr: "minimum"},
		{in: "x.js --max-memory=", wantErr: "512MiB"},
	}
	for _, tt := range tests {
		ra, _, err := parseRunArgs(strings.Fields(tt.in))
		if tt.wantErr != "" {
			if err == nil || exitCode(err) != exitUsage || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseRunArgs(%q) error = %v, want a usage error saying %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || ra.file != tt.file || ra.limits.timeout.String() != tt.timeout || ra.limits.maxMemory != tt.maxMemory || strings.Join(ra.args, " ") != tt.rest {
			t.Errorf("parseRunArgs(%q) = %+v, %v", tt.in, ra, err)
		}
	}
}

func TestHomeFileModes(t *testing.T) {
	c := newCLI(t)
	c.home = filepath.Join(t.TempDir(), "fresh-home")
	c.addProvider()
	for path, want := range map[string]os.FileMode{
		c.home:                                0o700,
		filepath.Join(c.home, "scriptrun.db"): 0o600,
		filepath.Join(c.home, "master.key"):   0o600,
		filepath.Join(c.home, "locks"):        0o700,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", path, got, want)
		}
	}
	os.Chmod(filepath.Join(c.home, "master.key"), 0o644)
	code, _, errs := c.run("provider", "list")
	if code != exitUsage || !strings.Contains(errs, "chmod 600") {
		t.Errorf("a world-readable key: exit %d, %q; want a refusal saying chmod 600", code, errs)
	}
}

func TestProviderFromTemplate(t *testing.T) {
	c := newCLI(t)
	c.env["SECRET"] = "template-secret-1234"
	out := c.must("provider", "add", "graph", "--template", "microsoft", "--tenant", "contoso.onmicrosoft.com",
		"--client-id", "app-1", "--client-secret-env", "SECRET")
	if !strings.Contains(out, "--base-url https://graph.microsoft.com") {
		t.Errorf("provider add --template does not suggest the base URL:\n%s", out)
	}
	var pv providerView
	json.Unmarshal([]byte(c.must("provider", "show", "graph", "--json")), &pv)
	if pv.TokenURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" || pv.AuthStyle != "body" || !strings.Contains(pv.Scopes, "offline_access") {
		t.Errorf("provider from the template: %+v", pv)
	}
	// Explicit flags win over the template.
	c.must("provider", "add", "g2", "--template", "google", "--client-id", "x", "--scopes", "email")
	json.Unmarshal([]byte(c.must("provider", "show", "g2", "--json")), &pv)
	if pv.Scopes != "email" || pv.AuthParams["access_type"] != "offline" {
		t.Errorf("google with --scopes: %+v", pv)
	}
	for _, args := range [][]string{
		{"provider", "add", "x", "--template", "nope", "--client-id", "x"},
		{"provider", "add", "x", "--template", "servicenow", "--client-id", "x"},
		{"provider", "add", "x", "--template", "servicenow", "--instance", "a.evil.com", "--client-id", "x"},
		{"provider", "add", "x", "--tenant", "t", "--client-id", "x", "--auth-url", "https://a.example.com/a", "--token-url", "https://a.example.com/t"},
	} {
		if code, _, errs := c.run(args...); code != exitUsage || errs == "" {
			t.Errorf("%v: exit %d %q, want a usage error", args, code, errs)
		}
	}
	list := c.must("provider", "templates")
	for _, want := range []string{"microsoft", "access_type=offline", "--param instance=VALUE", "salesforce"} {
		if !strings.Contains(list, want) {
			t.Errorf("provider templates lacks %q", want)
		}
	}
}

func TestDoctor(t *testing.T) {
	c := newCLI(t)
	// Not yet a home: a warning, not a failure.
	c.home = filepath.Join(t.TempDir(), "new")
	if code, out, _ := c.run("doctor", "--offline"); code != 0 || !strings.Contains(out, "does not exist yet") {
		t.Errorf("doctor on a new home: exit %d\n%s", code, out)
	}
	c.addProvider()
	c.must("token", "add", "mail", "--provider", "graph")
	out := c.must("doctor", "--offline")
	for _, want := range []string{"passes bbolt's consistency check", "token mail: not authorized yet", "scriptrun --home " + shellQuote(c.home) + " token authorize mail", "no base URL"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	// A token that needs reauthorization is a failure with the fix.
	db := openHome(t, c.home)
	db.Update(func(tx *store.Tx) error {
		tk, _ := tx.Token("mail")
		tk.State, tk.LastMessage = store.StateReauthRequired, "provider answered invalid_grant"
		return tx.PutToken(tk)
	})
	code, out, _ := c.run("doctor", "--offline")
	if code != exitScript || !strings.Contains(out, "needs a new authorization: provider answered invalid_grant") {
		t.Errorf("doctor with a token needing reauthorization: exit %d\n%s", code, out)
	}
	var fs []finding
	_, out, _ = c.run("doctor", "--offline", "--json")
	if err := json.Unmarshal([]byte(out), &fs); err != nil || len(fs) < 4 {
		t.Errorf("doctor --json: %v\n%s", err, out)
	}
	// Online: an unreachable token endpoint is reported.
	code, out, _ = c.run("doctor")
	if code != exitScript || !strings.Contains(out, "token endpoint unreachable") && !strings.Contains(out, "token endpoint answers") {
		t.Errorf("doctor online: exit %d\n%s", code, out)
	}
}

func TestExportApply(t *testing.T) {
	c := newCLI(t)
	c.addProvider()
	c.must("token", "add", "mail", "--provider", "graph", "--base-url", "https://graph.microsoft.com")
	dir := t.TempDir()
	script := filepath.Join(dir, "sync.js")
	os.WriteFile(script, []byte("console.log('sync')"), 0o600)
	c.must("cron", "add", "sync", "--schedule", "*/10 * * * *", "--script", script)
	exported := c.must("export")
	if strings.Contains(exported, "client-secret-XYZ-9876") || !strings.Contains(exported, "clientSecret: {env:") {
		t.Errorf("export:\n%s\nwant no secret and a hint to reference one", exported)
	}
	file := filepath.Join(dir, "scriptrun.yaml")
	os.WriteFile(file, []byte(exported), 0o600)

	other := newCLI(t)
	if out := other.must("apply", "-f", file, "--dry-run"); !strings.Contains(out, "create provider graph") || !strings.Contains(out, "dry run: 3 change(s)") {
		t.Errorf("apply --dry-run:\n%s", out)
	}
	if out := other.must("provider", "list"); strings.Contains(out, "graph") {
		t.Error("--dry-run created the provider")
	}
	other.must("apply", "-f", file)
	if out := other.must("apply", "-f", file); !strings.Contains(out, "no changes") {
		t.Errorf("second apply:\n%s", out)
	}
	if got := other.must("export"); got != exported {
		t.Errorf("export after apply differs:\n%s\n---\n%s", exported, got)
	}
	os.WriteFile(file, []byte("tokens:\n  - name: t\n    provider: nope\n    prompt: always\n"), 0o600)
	code, _, errs := other.run("apply", "-f", file)
	if code != exitUsage || !strings.Contains(errs, "line 4, tokens[0].prompt") || !strings.Contains(errs, "nothing was changed") {
		t.Errorf("a broken file: exit %d, %q", code, errs)
	}
}
