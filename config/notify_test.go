package config

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

const notifierSample = `
notifiers:
  - name: ops
    url: https://hooks.example.com/scriptrun
    events: [token.reauth_required, cron.failed]
    secret: {env: OPS_HOOK_SECRET}
`

func TestNotifiersApplyExportPrune(t *testing.T) {
	db := newDB(t)
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("config-test-key-0123456789abcdef"))
	env := map[string]string{"OPS_HOOK_SECRET": secret}
	opts := Options{Getenv: func(k string) string { return env[k] }}

	dry, err := Apply(db, []byte(notifierSample), Options{DryRun: true, Getenv: func(string) string { t.Error("a dry run read a variable"); return "" }})
	if err != nil || planText(dry.Changes) != "create notifier ops" {
		t.Fatalf("dry run: %s, %v", planText(dry.Changes), err)
	}
	if len(dry.Secrets) != 1 || !strings.Contains(dry.Secrets[0].String(), "notifiers[0].secret (notifier ops): from env OPS_HOOK_SECRET, signs requests to https://hooks.example.com/scriptrun (not read: dry run)") {
		t.Errorf("dry run secrets: %v", dry.Secrets)
	}
	if got := planText(apply(t, db, notifierSample, opts)); got != "create notifier ops" {
		t.Errorf("plan: %s", got)
	}
	var n store.Notifier
	db.View(func(tx *store.Tx) (err error) { n, err = tx.Notifier("ops"); return err })
	if n.Secret != secret || n.SecretEnv != "OPS_HOOK_SECRET" || len(n.Events) != 2 {
		t.Errorf("applied notifier: %+v", n)
	}
	if plan := apply(t, db, notifierSample, opts); len(plan) != 0 {
		t.Errorf("second apply is not a no-op: %s", planText(plan))
	}

	// Export: the reference, never the secret; it applies back unchanged.
	f, err := Read(db)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Write(&out, f, "yaml"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), strings.TrimPrefix(secret, "whsec_")) || !strings.Contains(out.String(), "env: OPS_HOOK_SECRET") {
		t.Errorf("export:\n%s", out.String())
	}
	if plan := apply(t, db, out.String(), opts); len(plan) != 0 {
		t.Errorf("applying the export changes: %s", planText(plan))
	}

	// Without a reference an existing notifier keeps its secret.
	noRef := strings.Replace(strings.Replace(notifierSample, "    secret: {env: OPS_HOOK_SECRET}\n", "", 1), "cron.failed]", "cron.failed, cron.lost]", 1)
	if got := planText(apply(t, db, noRef, opts)); got != "update notifier ops (events)" {
		t.Errorf("update plan: %s", got)
	}
	db.View(func(tx *store.Tx) (err error) { n, err = tx.Notifier("ops"); return err })
	if n.Secret != secret || len(n.Events) != 3 {
		t.Errorf("after update: %+v", n)
	}
	if got := planText(apply(t, db, "providers: []\n", Options{Prune: true})); got != "delete notifier ops" {
		t.Errorf("prune plan: %s", got)
	}
}

func TestNotifierApplyRefusals(t *testing.T) {
	db := newDB(t)
	opts := Options{Getenv: func(k string) string { return map[string]string{"RAW": "not-a-whsec-secret-hunter2"}[k] }}
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"new without secret", "notifiers:\n  - name: ops\n    url: https://h.example/x\n", []string{"line 2, notifiers[0]", "needs its signing secret"}},
		{"bad fields at their lines", "notifiers:\n  - name: ops\n    url: http://h.example/x\n    events: [token.exploded]\n    secret: {env: RAW}\n",
			[]string{"line 3, notifiers[0].url", "plain http", "line 4, notifiers[0].events", "not an event", "notifiers[0].secret", "whsec_"}},
		{"secret in the file", "notifiers:\n  - name: ops\n    url: https://h.example/x\n    secret: whsec_AAAA\n", []string{"notifiers[0].secret", "{env: VAR}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(db, []byte(tc.file), opts)
			if err == nil {
				t.Fatal("applied")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "AAAA") {
				t.Errorf("error repeats the secret: %v", err)
			}
		})
	}
}
