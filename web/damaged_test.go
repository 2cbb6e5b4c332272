package web

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// forge edits a record's JSON in the file with bbolt, as someone without the
// key can, leaving its MAC as it was. The database's end check then leaves
// its records alone: they are damaged on purpose.
func (e *env) forge(bucket, name string, edit func(map[string]any)) {
	e.t.Helper()
	storetest.AllowDamaged(e.t, e.db)
	storetest.ForgeJSON(e.t, e.db.Path(), bucket, []byte(name), edit)
}

// A forged token, provider or job does not break the console's lists: they
// show it as damaged with the fix, and the others as usual; its own page
// says it is damaged.
func TestConsoleShowsDamagedRecords(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.addProvider("graph", "https://login.example.com")
	e.addProvider("other", "https://login.example.com")
	e.addToken("mail", "graph", nil)
	e.addToken("files", "graph", nil)
	e.addJob(store.Job{Name: "sync", Schedule: "@daily", Script: "console.log(1)"})
	e.addJob(store.Job{Name: "report", Schedule: "@daily", Script: "console.log(2)"})
	attacker := func(field string) func(map[string]any) {
		return func(r map[string]any) { r[field] = "https://attacker.example/x" }
	}
	e.forge("tokens", "mail", attacker("baseUrl"))
	e.forge("providers", "other", attacker("tokenUrl"))
	e.forge("cronjobs", "sync", attacker("script"))

	b := e.signedIn()
	for _, tt := range []struct{ path, damaged, fine, fix string }{
		{"/tokens", "mail", "files", "scriptrun token rm mail"},
		{"/providers", "other", "graph", "scriptrun provider rm other --force"},
		{"/cron", "sync", "report", "scriptrun cron rm sync"},
	} {
		r := b.get(tt.path)
		if r.status != http.StatusOK {
			t.Errorf("GET %s with a damaged record: status %d", tt.path, r.status)
		}
		mustContain(t, tt.path, r, tt.damaged+" damaged", "fails authentication", tt.fix, tt.fine)
		if bytes.Contains([]byte(r.body), []byte("attacker.example")) {
			t.Errorf("GET %s shows the forged record's content", tt.path)
		}
	}
	r := b.get("/tokens/mail")
	mustContain(t, "the damaged token's page", r, "damaged", "restore")
	if r.status == http.StatusOK {
		t.Errorf("GET /tokens/mail of a damaged token: status 200")
	}
}

// A damaged record can be deleted from the console (how it is re-created).
func TestConsoleDeletesDamagedRecords(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.addProvider("graph", "https://login.example.com")
	e.addToken("mail", "graph", nil)
	e.addJob(store.Job{Name: "sync", Schedule: "@daily", Script: "console.log(1)"})
	forged := func(r map[string]any) { r["baseUrl"] = "https://attacker.example" }
	e.forge("tokens", "mail", forged)
	e.forge("providers", "graph", forged)
	e.forge("cronjobs", "sync", forged)
	b := e.signedIn()
	for _, path := range []string{"/tokens/mail/delete", "/cron/sync/delete", "/providers/graph/delete"} {
		r := b.get(path)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s of a damaged record: status %d\n%s", path, r.status, text(r.body))
		}
		if r = b.post(path, b.form()); r.status != http.StatusSeeOther {
			t.Fatalf("POST %s of a damaged record: status %d\n%s", path, r.status, text(r.body))
		}
	}
	err := e.db.View(func(tx *store.Tx) error {
		ts, err := tx.Tokens()
		ps, perr := tx.Providers()
		js, jerr := tx.Jobs()
		if len(ts)+len(ps)+len(js) != 0 || err != nil || perr != nil || jerr != nil {
			return fmt.Errorf("left: %d tokens, %d providers, %d jobs (%v %v %v)", len(ts), len(ps), len(js), err, perr, jerr)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
