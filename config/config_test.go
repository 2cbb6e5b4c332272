package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

func newDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "scriptrun.db"), bytes.Repeat([]byte{5}, store.KeySize), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
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
	return plan
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
		if j.Overlap != store.OverlapQueue || j.TimeZone != "Europe/Berlin" || j.Timeout.Minutes() != 2 {
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
		{"unknown field", "providers:\n  - name: graph\n    clientID: typo\n", "clientID", 2},
		{"bad URL", "providers:\n  - name: g\n    clientId: c\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: http://plain.example.com/t\n", "plain http", 2},
		{"secret in clear", "providers:\n  - name: g\n    clientId: c\n    clientSecret: hunter2\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: https://a.example.com/t\n", "provider", 2},
		{"missing env", "providers:\n  - name: g\n    clientId: c\n    clientSecret: {env: NOPE}\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: https://a.example.com/t\n", "NOPE", 2},
		{"unknown provider", "tokens:\n  - name: t\n    provider: ghost\n", "ghost", 2},
		{"duplicate", "tokens:\n  - name: t\n    provider: g\n  - name: t\n    provider: g\n", "defined twice (first on line 2)", 4},
		{"bad job", "jobs:\n  - name: j\n    schedule: every day\n    source: x\n", "job j", 2},
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
		dst := newDB(t)
		apply(t, dst, out.String(), Options{Dir: dir})
		again, _ := Read(dst)
		var a, b bytes.Buffer
		Write(&a, f, "json")
		Write(&b, again, "json")
		if a.String() != b.String() {
			t.Errorf("%s: export -> apply -> export differs:\n%s\n---\n%s", format, a.String(), b.String())
		}
		if plan := apply(t, dst, out.String(), Options{Dir: dir}); len(plan) != 0 {
			t.Errorf("%s: applying the export again: %s", format, planText(plan))
		}
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
	if got := planText(plan); got != "create token jira; create token weather; create token hooks" {
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
	if plan, _ := Apply(db, []byte(file), Options{Getenv: getenv}); len(plan) != 0 {
		t.Errorf("second apply: %s", planText(plan))
	}
	env["PW"] = "rotated-password"
	if plan, _ := Apply(db, []byte(file), Options{Getenv: getenv}); planText(plan) != "update token jira (credential)" {
		t.Errorf("after rotating the password: %s", planText(plan))
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
