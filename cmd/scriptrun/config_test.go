package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// apply with secret references, from the command line: a dry run reads no
// secret (a FIFO reference would hang a read) and shows where each secret
// would go; the real run refuses the FIFO, scriptrun's own variables and its
// key file with exit 2, naming the place in the file, and changes nothing.
func TestApplySecretReferences(t *testing.T) {
	c := newCLI(t)
	c.env["SCRIPTRUN_MASTER_KEY"] = strings.Repeat("ab", store.KeySize)
	c.env["WEATHER_KEY"] = "weather-key-value-31"
	dir := t.TempDir()
	fifo := filepath.Join(dir, "graph-secret")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	doc := func(clientSecret string) string {
		return `providers:
  - name: graph
    clientId: app-1
    clientSecret: ` + clientSecret + `
    authorizationUrl: https://login.example.com/authorize
    tokenUrl: https://login.example.com/token
tokens:
  - name: weather
    type: api-key
    keyQuery: appid
    apiKey: {env: WEATHER_KEY}
    baseUrl: https://api.weather.example
`
	}
	file := filepath.Join(dir, "scriptrun.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// run fails the test instead of hanging on a FIFO.
	run := func(args ...string) (int, string, string) {
		t.Helper()
		type result struct {
			code      int
			out, errs string
		}
		done := make(chan result, 1)
		go func() {
			code, out, errs := c.run(args...)
			done <- result{code, out, errs}
		}()
		select {
		case r := <-done:
			return r.code, r.out, r.errs
		case <-time.After(20 * time.Second):
			t.Fatalf("scriptrun %s hung", strings.Join(args, " "))
		}
		return 0, "", ""
	}

	write(doc("{file: graph-secret}"))
	code, out, errs := run("apply", "-f", file, "--dry-run")
	for _, want := range []string{
		"create provider graph",
		"secret providers[0].clientSecret (provider graph): from file " + fifo + ", sent to https://login.example.com/token (not read: dry run)",
		"secret tokens[0].apiKey (token weather): from env WEATHER_KEY, signs requests to https://api.weather.example (not read: dry run)",
		"dry run: 2 change(s) not applied; secrets were not read",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("apply --dry-run: exit %d, stdout lacks %q:\n%s%s", code, want, out, errs)
		}
	}

	home := c.home
	os.MkdirAll(home, 0o700)
	os.WriteFile(filepath.Join(home, "master.key"), []byte("not used: the key comes from the environment"), 0o600)
	for _, tt := range []struct{ ref, want string }{
		{"{file: graph-secret}", "line 4, providers[0].clientSecret: file " + fifo + " is a named pipe (FIFO), not a regular file"},
		{"{env: SCRIPTRUN_MASTER_KEY}", "line 4, providers[0].clientSecret: env SCRIPTRUN_MASTER_KEY: scriptrun's own variables (SCRIPTRUN_*) cannot be secrets"},
		{"{file: " + filepath.Join(home, "master.key") + "}", "is scriptrun's own master.key"},
		{"{env: 'weather-key-value-31'}", "not a valid environment variable name"},
	} {
		write(doc(tt.ref))
		code, out, errs := run("apply", "-f", file)
		if code != exitUsage || !strings.Contains(errs, tt.want) || !strings.Contains(errs, "nothing was changed") {
			t.Errorf("apply with clientSecret %s: exit %d, stderr %q; want 2 saying %q", tt.ref, code, errs, tt.want)
		}
		if strings.Contains(out+errs, c.env["SCRIPTRUN_MASTER_KEY"]) || strings.Contains(out+errs, "weather-key-value-31") {
			t.Errorf("apply with clientSecret %s printed a secret:\n%s%s", tt.ref, out, errs)
		}
		if out := c.must("provider", "list"); strings.Contains(out, "graph") {
			t.Fatalf("a refused apply created the provider:\n%s", out)
		}
	}

	os.WriteFile(filepath.Join(dir, "graph-secret.txt"), []byte("graph-client-secret-8\n"), 0o600)
	write(doc("{file: graph-secret.txt}"))
	if out := c.must("apply", "-f", file); !strings.Contains(out, "secret providers[0].clientSecret (provider graph): from file "+filepath.Join(dir, "graph-secret.txt")+", sent to https://login.example.com/token\n") ||
		strings.Contains(out, "graph-client-secret-8") {
		t.Errorf("apply:\n%s", out)
	}
}
