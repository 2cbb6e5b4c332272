package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

func newDB(t *testing.T) *store.DB {
	t.Helper()
	return storetest.Open(t)
}

const sample = `
providers:
  - name: graph
    clientId: app-1
    clientSecret: {env: GRAPH_SECRET}
    authorizationUrl: https://login.microsoftonline.com/common/oauth2/v2.0/authorize
    tokenUrl: https://login.microsoftonline.com/common/oauth2/v2.0/token
    scopes: [offline_access, Mail.Read]
    authStyle: body
    authParams: {prompt: select_account}
tokens:
  - name: mail
    provider: graph
    baseUrl: https://graph.microsoft.com
    prompt: consent
  - name: mail-off
    provider: graph
    active: false
jobs:
  - name: sync
    schedule: "*/5 * * * *"
    timeZone: Europe/Berlin
    source: "console.log('sync')"
    timeout: 2m
    maxMemory: 512MiB
    overlap: queue
`

func apply(t *testing.T, db *store.DB, data string, opts Options) []Change {
	t.Helper()
	if opts.Getenv == nil {
		opts.Getenv = func(k string) string { return map[string]string{"GRAPH_SECRET": "graph-secret-value-42"}[k] }
	}
	plan, err := Apply(db, []byte(data), opts)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return plan.Changes
}

func planText(plan []Change) string {
	var s []string
	for _, c := range plan {
		s = append(s, c.String())
	}
	return strings.Join(s, "; ")
}

func TestApplyCreatesThenIsIdempotent(t *testing.T) {
	db := newDB(t)
	plan := apply(t, db, sample, Options{})
	if got := planText(plan); got != "create provider graph; create token mail; create token mail-off; create job sync" {
		t.Errorf("first plan: %s", got)
	}
	db.View(func(tx *store.Tx) error {
		p, _ := tx.Provider("graph")
		if p.ClientSecret != "graph-secret-value-42" || p.AuthParams["prompt"] != "select_account" || !p.PKCE {
			t.Errorf("provider: %+v", p)
		}
		tk, _ := tx.Token("mail-off")
		if tk.Active {
			t.Error("mail-off is active")
		}
		j, _ := tx.Job("sync")
		if j.Overlap != store.OverlapQueue || j.TimeZone != "Europe/Berlin" || j.Timeout.Minutes() != 2 || j.MaxMemory != 512<<20 {
			t.Errorf("job: %+v", j)
		}
		return nil
	})
	if plan := apply(t, db, sample, Options{}); len(plan) != 0 {
		t.Errorf("second apply is not a no-op: %s", planText(plan))
	}
	changed := strings.Replace(sample, "prompt: consent", "prompt: login", 1)
	if got := planText(apply(t, db, changed, Options{DryRun: true})); got != "update token mail (prompt)" {
		t.Errorf("dry-run plan: %s", got)
	}
	db.View(func(tx *store.Tx) error {
		if tk, _ := tx.Token("mail"); tk.Prompt != "consent" {
			t.Error("--dry-run changed the token")
		}
		return nil
	})
	if got := planText(apply(t, db, changed, Options{})); got != "update token mail (prompt)" {
		t.Errorf("update plan: %s", got)
	}
}

func TestApplyKeepsCredentialsAndPrunes(t *testing.T) {
	db := newDB(t)
	apply(t, db, sample, Options{})
	db.Update(func(tx *store.Tx) error {
		tk, _ := tx.Token("mail")
		tk.State, tk.Secret = store.StateAuthorized, store.Secret{AccessToken: "at", RefreshToken: "rt", TokenType: "Bearer"}
		return tx.PutToken(tk)
	})
	less := strings.Replace(sample, "    baseUrl: https://graph.microsoft.com\n", "    baseUrl: https://graph.microsoft.com:443\n", 1)
	less = less[:strings.Index(less, "  - name: mail-off")] + less[strings.Index(less, "jobs:"):]
	plan := apply(t, db, less, Options{Prune: true})
	if got := planText(plan); got != "update token mail (baseUrl); delete token mail-off" {
		t.Errorf("prune plan: %s", got)
	}
	db.View(func(tx *store.Tx) error {
		tk, _ := tx.Token("mail")
		if tk.Secret.RefreshToken != "rt" || tk.State != store.StateAuthorized {
			t.Error("apply lost the token's credential or state")
		}
		return nil
	})
}

func TestApplyRejectsBrokenFilesWhole(t *testing.T) {
	tests := []struct {
		name, data, want string
		line             int
	}{
		{"yaml syntax", "providers:\n  - name: x\n    clientId: x\n    scopes: [a, b\n", "not valid YAML", 0}, // the YAML library's own line, which may be off by one
		{"unknown field", "providers:\n  - name: graph\n    clientID: typo\n", "providers[0].clientID: unknown field", 3},
		{"bad URL", "providers:\n  - name: g\n    clientId: c\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: http://plain.example.com/t\n", "providers[0].tokenUrl: \"http://plain.example.com/t\" uses plain http", 5},
		{"secret in clear", "providers:\n  - name: g\n    clientId: c\n    clientSecret: hunter2\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: https://a.example.com/t\n", "providers[0].clientSecret: expected {env: VAR} or {file: PATH}", 4},
		{"missing env", "providers:\n  - name: g\n    clientId: c\n    clientSecret: {env: NOPE}\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: https://a.example.com/t\n", "providers[0].clientSecret: environment variable NOPE is empty or not set", 4},
		{"unknown provider", "tokens:\n  - name: t\n    provider: ghost\n", "ghost", 2},
		{"duplicate", "tokens:\n  - name: t\n    provider: g\n  - name: t\n    provider: g\n", "defined twice (first on line 2)", 4},
		{"bad job", "jobs:\n  - name: j\n    schedule: every day\n    source: x\n", "job j", 2},
		{"bad memory cap", "jobs:\n  - name: j\n    schedule: \"@hourly\"\n    source: x\n    maxMemory: 1MiB\n", "jobs[0].maxMemory: 1 MiB is not valid", 5},
		{"unknown section", "crons: []\n", "unknown section", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			// Something valid first in the same file must not be applied either.
			data := tt.data
			_, err := Apply(db, []byte(data), Options{Getenv: func(string) string { return "" }, Check: func(j store.Job) error {
				if strings.Contains(j.Schedule, " day") {
					return errors.New("schedule: not a cron spec")
				}
				return nil
			}})
			var es Errors
			if !errors.As(err, &es) || !strings.Contains(err.Error(), tt.want) || (tt.line != 0 && es[0].Line != tt.line) {
				t.Fatalf("Apply: %v; want an error on line %d mentioning %q", err, tt.line, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("the error repeats a secret written in the file")
			}
			db.View(func(tx *store.Tx) error {
				ps, _ := tx.Providers()
				ts, _ := tx.Tokens()
				if len(ps)+len(ts) != 0 {
					t.Error("a rejected file changed the store")
				}
				return nil
			})
		})
	}
}

func TestExportRoundTrip(t *testing.T) {
	src := newDB(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "report.js")
	os.WriteFile(script, []byte("console.log('report')"), 0o600)
	apply(t, src, sample+"  - name: report\n    schedule: \"@hourly\"\n    script: report.js\n", Options{Dir: dir})
	for _, format := range []string{"yaml", "json"} {
		var out bytes.Buffer
		f, err := Read(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := Write(&out, f, format); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "graph-secret-value-42") {
			t.Fatalf("%s export contains the client secret", format)
		}
		checkReapply(t, f, format, out.String(), Options{Dir: dir})
	}
}

// checkReapply applies exported, the export of f in format, to a new store
// and checks that its export is f again, and that applying it once more
// changes nothing.
func checkReapply(t *testing.T, f File, format, exported string, opts Options) {
	t.Helper()
	dst := newDB(t)
	apply(t, dst, exported, opts)
	again, _ := Read(dst)
	var a, b bytes.Buffer
	Write(&a, f, "json")
	Write(&b, again, "json")
	if a.String() != b.String() {
		t.Errorf("%s: export -> apply -> export differs:\n%s\n---\n%s", format, a.String(), b.String())
	}
	if plan := apply(t, dst, exported, opts); len(plan) != 0 {
		t.Errorf("%s: applying the export again: %s", format, planText(plan))
	}
}

// Static token types round-trip, take their credential by reference, and
// need no provider.
func TestStaticTokens(t *testing.T) {
	db := newDB(t)
	env := map[string]string{"PW": "basic-password-1", "KEY": "api-key-value-2", "HS": "hmac-secret-3", "HT": "hmac-token-4"}
	getenv := func(k string) string { return env[k] }
	file := `
tokens:
  - name: jira
    type: basic
    username: bot@example.com
    password: {env: PW}
    baseUrl: https://acme.atlassian.net
  - name: weather
    type: api-key
    keyQuery: appid
    apiKey: {env: KEY}
    baseUrl: https://api.openweathermap.org
  - name: hooks
    type: hmac-body
    hmacAlgorithm: sha512
    apiToken: {env: HT}
    apiSecret: {env: HS}
    expires: "2030-01-01T00:00:00Z"
    baseUrl: https://hooks.example.com
`
	plan, err := Apply(db, []byte(file), Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if got := planText(plan.Changes); got != "create token jira; create token weather; create token hooks" {
		t.Errorf("plan: %s", got)
	}
	db.View(func(tx *store.Tx) error {
		j, _ := tx.Token("jira")
		h, _ := tx.Token("hooks")
		if j.Secret.Password != "basic-password-1" || j.State != store.StateAuthorized || h.Secret.APISecret != "hmac-secret-3" || h.HMACAlgorithm != "sha512" || h.Expires.Year() != 2030 {
			t.Errorf("stored: %+v / %+v", j, h)
		}
		return nil
	})
	if plan, _ := Apply(db, []byte(file), Options{Getenv: getenv}); len(plan.Changes) != 0 {
		t.Errorf("second apply: %s", planText(plan.Changes))
	}
	env["PW"] = "rotated-password"
	if plan, _ := Apply(db, []byte(file), Options{Getenv: getenv}); planText(plan.Changes) != "update token jira (credential)" {
		t.Errorf("after rotating the password: %s", planText(plan.Changes))
	}
	f, _ := Read(db)
	var out bytes.Buffer
	Write(&out, f, "yaml")
	for _, secret := range []string{"rotated-password", "api-key-value-2", "hmac-secret-3", "hmac-token-4"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("export contains %q", secret)
		}
	}
	if !strings.Contains(out.String(), "keyQuery: appid") || !strings.Contains(out.String(), "expires: \"2030-01-01T00:00:00Z\"") {
		t.Errorf("export lacks the static fields:\n%s", out.String())
	}
}

// providerWith is a provider document whose clientSecret is ref.
func providerWith(ref string) string {
	return "providers:\n  - name: g\n    clientId: c\n    clientSecret: " + ref +
		"\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: https://a.example.com/t\n"
}

// A {file: …} reference names a regular file of at most 64 KiB, never a
// FIFO, device or folder (checked before opening, so nothing hangs), never
// scriptrun's own key or database; SCRIPTRUN_* variables are refused. Each
// refusal names the place in the file and the fix, repeats no secret and
// applies nothing.
func TestApplySecretReferenceRefusals(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte("s"), size), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink(fifo, filepath.Join(dir, "link-to-fifo"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.js"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "folder"), 0o700)
	write("big", MaxSecretFile+1)
	write("empty", 0)
	key := write("master.key", 64)
	os.Link(key, filepath.Join(dir, "innocent"))
	os.Symlink(key, filepath.Join(dir, "link-to-key"))
	const pasted = "glpat-Pasted_Secret/Value+42"

	tests := []struct {
		name, data string
		line       int
		want       []string
	}{
		{"fifo", providerWith("{file: fifo}"), 4, []string{"providers[0].clientSecret", fifo, "named pipe", "not a regular file"}},
		{"symlink to fifo", providerWith("{file: link-to-fifo}"), 4, []string{"providers[0].clientSecret", "named pipe"}},
		{"folder", providerWith("{file: folder}"), 4, []string{"a folder, not a regular file"}},
		{"device", providerWith("{file: /dev/null}"), 4, []string{"/dev/null is a device"}},
		{"too large", providerWith("{file: big}"), 4, []string{"larger than 64 KiB", "only the secret"}},
		{"missing", providerWith("{file: nope}"), 4, []string{"does not exist", "configuration file's folder"}},
		{"empty", providerWith("{file: empty}"), 4, []string{"is empty"}},
		{"master key", providerWith("{file: master.key}"), 4, []string{"scriptrun's own master.key"}},
		{"hard link to the key", providerWith("{file: innocent}"), 4, []string{"scriptrun's own master.key"}},
		{"symlink to the key", providerWith("{file: link-to-key}"), 4, []string{"scriptrun's own master.key"}},
		{"master key variable", providerWith("{env: SCRIPTRUN_MASTER_KEY}"), 4, []string{"providers[0].clientSecret", "SCRIPTRUN_*", "variable of its own"}},
		{"lower-case scriptrun variable", providerWith("{env: scriptrun_home}"), 4, []string{"SCRIPTRUN_*"}},
		{"pasted secret as a name", providerWith("{env: '" + pasted + "'}"), 4, []string{"not a valid environment variable name", "never the secret itself"}},
		{"env and file", providerWith("{env: A, file: b}"), 4, []string{"env or file, not both"}},
		{"static token", "tokens:\n  - name: w\n    type: api-key\n    keyHeader: X-Key\n    baseUrl: https://api.example.com\n    apiKey: {env: SCRIPTRUN_MASTER_KEY}\n", 6, []string{"tokens[0].apiKey", "SCRIPTRUN_*"}},
		{"second provider", "providers:\n  - name: ok\n    clientId: c\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: https://a.example.com/t\n" +
			strings.Replace(providerWith("{file: fifo}"), "providers:\n", "", 1), 8, []string{"providers[1].clientSecret", "named pipe"}},
		{"job script fifo", "jobs:\n  - name: j\n    schedule: \"@hourly\"\n    script: fifo.js\n", 4, []string{"jobs[0].script", "fifo.js is not a regular file"}},
		{"job script not a script", "jobs:\n  - name: j\n    schedule: \"@hourly\"\n    script: innocent\n", 4, []string{"jobs[0].script", "is not a script"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			getenv := func(k string) string {
				if strings.HasPrefix(strings.ToUpper(k), "SCRIPTRUN_") || k == pasted {
					t.Errorf("Getenv(%q) was called", k)
				}
				return "value-of-" + k
			}
			done := make(chan error, 1)
			go func() {
				_, err := Apply(db, []byte(tt.data), Options{Dir: dir, Getenv: getenv, Protected: []string{key, filepath.Join(dir, "absent.db")}})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Apply hung (opened a FIFO?)")
			}
			var es Errors
			if !errors.As(err, &es) || es[0].Line != tt.line {
				t.Fatalf("Apply: %v; want an error on line %d", err, tt.line)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), pasted) || strings.Contains(err.Error(), "ssss") {
				t.Errorf("the error repeats a secret: %q", err)
			}
			db.View(func(tx *store.Tx) error {
				ps, _ := tx.Providers()
				ts, _ := tx.Tokens()
				if len(ps)+len(ts) != 0 {
					t.Error("a rejected file changed the store")
				}
				return nil
			})
		})
	}
}

// A regular file reached through a symlink is read, without its final
// line break.
func TestApplySecretFileThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "real"), []byte("file-secret-7\n"), 0o600)
	os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "secret"))
	db := newDB(t)
	apply(t, db, providerWith("{file: secret}"), Options{Dir: dir})
	db.View(func(tx *store.Tx) error {
		if p, _ := tx.Provider("g"); p.ClientSecret != "file-secret-7" {
			t.Errorf("client secret %q, want the file's line", p.ClientSecret)
		}
		return nil
	})
}

// A dry run reads no secret: no variable is looked up and no file opened
// (a FIFO would hang a read), yet its plan says where each secret comes from
// and where it would be sent.
func TestApplyDryRunReadsNoSecret(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "secret-fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	file := `
providers:
  - name: g
    clientId: c
    clientSecret: {file: secret-fifo}
    authorizationUrl: https://a.example.com/a
    tokenUrl: https://a.example.com/token
    revocationUrl: https://a.example.com/revoke
tokens:
  - name: w
    type: api-key
    keyQuery: key
    apiKey: {env: WEATHER_KEY}
    baseUrl: https://api.weather.example
  - name: any
    type: bearer
    token: {env: ANY_TOKEN}
`
	db := newDB(t)
	plan, err := Apply(db, []byte(file), Options{Dir: dir, DryRun: true, Getenv: func(k string) string {
		t.Errorf("a dry run looked up $%s", k)
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := planText(plan.Changes); got != "create provider g; create token w; create token any" {
		t.Errorf("plan: %s", got)
	}
	var got []string
	for _, s := range plan.Secrets {
		got = append(got, s.String())
	}
	want := []string{
		"secret providers[0].clientSecret (provider g): from file " + fifo + ", sent to https://a.example.com/token and https://a.example.com/revoke (not read: dry run)",
		"secret tokens[0].apiKey (token w): from env WEATHER_KEY, signs requests to https://api.weather.example (not read: dry run)",
		"secret tokens[1].token (token any): from env ANY_TOKEN, signs requests to any host (the token has no baseUrl) (not read: dry run)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("secrets in the plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	db.View(func(tx *store.Tx) error {
		if ps, _ := tx.Providers(); len(ps) != 0 {
			t.Error("a dry run created a provider")
		}
		return nil
	})
}

// A file that changes where a stored secret goes, without referring to it,
// says so in its plan: the client secret and the refresh tokens follow a
// new token URL, a token's credential a new base URL.
func TestApplyPlanShowsMovedStoredSecrets(t *testing.T) {
	db := newDB(t)
	apply(t, db, sample, Options{})
	db.Update(func(tx *store.Tx) error {
		tk, _ := tx.Token("mail")
		tk.State, tk.Secret = store.StateAuthorized, store.Secret{AccessToken: "at", RefreshToken: "rt", TokenType: "Bearer"}
		return tx.PutToken(tk)
	})
	moved := strings.Replace(sample, "    clientSecret: {env: GRAPH_SECRET}\n", "", 1)
	moved = strings.Replace(moved, "tokenUrl: https://login.microsoftonline.com/common/oauth2/v2.0/token", "tokenUrl: https://collector.example/token", 1)
	moved = strings.Replace(moved, "baseUrl: https://graph.microsoft.com", "baseUrl: https://collector.example", 1)
	for _, dry := range []bool{true, false} {
		plan, err := Apply(db, []byte(moved), Options{DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range plan.Secrets {
			got = append(got, s.String())
		}
		want := []string{
			"secret providers[0].tokenUrl (provider graph): the stored clientSecret, now sent to https://collector.example/token",
			"secret providers[0].tokenUrl (token mail): the stored refresh token, now sent to https://collector.example/token",
			"secret tokens[0].baseUrl (token mail): the stored credential, now signs requests to https://collector.example",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("dry run %v: secrets in the plan:\n%s\nwant:\n%s", dry, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
