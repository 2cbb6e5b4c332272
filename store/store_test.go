package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

// openTestDB opens a fresh database in a temp dir and, when the test ends,
// checks its consistency and that every record authenticates — the checks
// storetest.Open runs, which these tests cannot import (storetest imports
// store). A test that damages records on purpose calls allowDamaged.
func openTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "scriptrun.db"), testKey(7), Options{LockTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("database check after test: %v", err)
		}
		if _, ok := damagedOK.LoadAndDelete(db); ok {
			return
		}
		if err := db.CheckRecords(); err != nil {
			t.Errorf("record check after test: %v", err)
		}
	})
	return db
}

// damagedOK holds the databases whose tests damage records on purpose.
var damagedOK sync.Map // *DB → struct{}

// allowDamaged stops openTestDB's end check from authenticating db's records.
func allowDamaged(db *DB) { damagedOK.Store(db, struct{}{}) }

func testProvider(name string) Provider {
	return Provider{
		Name: name, ClientID: "client-123", ClientSecret: "provider-secret-VALUE-1234",
		GrantType: GrantAuthorizationCode, AuthURL: "https://login.example.com/authorize",
		TokenURL: "https://login.example.com/token", Scopes: []string{"openid", "offline_access"},
		AuthStyle: AuthStyleHeader, PKCE: true, AuthParams: map[string]string{"access_type": "offline"},
	}
}

func testToken(name, provider string) Token {
	return Token{
		Name: name, Type: TypeOAuth2, Provider: provider, Prompt: "consent", Active: true,
		State: StateAuthorized, BaseURL: "https://api.example.com",
		Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		Secret: Secret{
			AccessToken: "access-token-SECRET-abc", RefreshToken: "refresh-token-SECRET-def", TokenType: "Bearer",
			Extra: map[string]json.RawMessage{"instance_url": json.RawMessage(`"https://eu1.example.com"`)},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	db := openTestDB(t)
	p, tok := testProvider("graph"), testToken("graph-mail", "graph")
	if err := db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(p); err != nil {
			return err
		}
		return tx.CreateToken(tok)
	}); err != nil {
		t.Fatalf("create: %v", err)
	}
	var gotP Provider
	var gotT Token
	if err := db.View(func(tx *Tx) (err error) {
		if gotP, err = tx.Provider("graph"); err != nil {
			return err
		}
		gotT, err = tx.Token("graph-mail")
		return err
	}); err != nil {
		t.Fatalf("read: %v", err)
	}
	if gotP.ClientSecret != p.ClientSecret || gotP.AuthParams["access_type"] != "offline" || !gotP.PKCE || gotP.Created.IsZero() {
		t.Errorf("provider read back = %+v, want the stored fields and a Created time", gotP)
	}
	if gotT.Secret.AccessToken != tok.Secret.AccessToken || gotT.Secret.RefreshToken != tok.Secret.RefreshToken ||
		string(gotT.Secret.Extra["instance_url"]) != `"https://eu1.example.com"` || !gotT.Expires.Equal(tok.Expires) {
		t.Errorf("token read back = %+v, want the stored secret, extras and expiry", gotT)
	}
}

// Secrets must never be in the file in clear.
func TestSecretsEncryptedAtRest(t *testing.T) {
	db := openTestDB(t)
	if err := db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(testProvider("graph")); err != nil {
			return err
		}
		return tx.CreateToken(testToken("graph-mail", "graph"))
	}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"provider-secret-VALUE-1234", "access-token-SECRET-abc", "refresh-token-SECRET-def", "eu1.example.com"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("database file contains %q in clear", secret)
		}
	}
	if !bytes.Contains(raw, []byte("client-123")) {
		t.Errorf("database file lacks the public client id: the check above may be reading the wrong file")
	}
}

func TestWrongKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scriptrun.db")
	if _, err := Open(path, testKey(1), Options{}); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, testKey(2), Options{})
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "SCRIPTRUN_MASTER_KEY") {
		t.Fatalf("Open with another key: err = %v, want ErrWrongKey naming %s and what to do", err, path)
	}
}

func TestDamagedFile(t *testing.T) {
	tests := []struct {
		name  string
		write func(path string) error
	}{
		{"text file", func(p string) error { return os.WriteFile(p, []byte("this is not a database\n"), 0o600) }},
		{"random bytes", func(p string) error { return os.WriteFile(p, bytes.Repeat([]byte{0xA5, 0x13}, 8192), 0o600) }},
		{"truncated", func(p string) error {
			if _, err := Open(p, testKey(1), Options{}); err != nil {
				return err
			}
			return os.Truncate(p, 1000)
		}},
		{"meta pages zeroed", func(p string) error {
			if _, err := Open(p, testKey(1), Options{}); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt(make([]byte, 8192), 0)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "scriptrun.db")
			if err := tt.write(path); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path, testKey(1), Options{})
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open: err = %v, want ErrDamaged naming the file", err)
			}
		})
	}
}

// A sealed blob moved to another record must not decrypt there.
func TestSealedSecretBoundToRecord(t *testing.T) {
	db := openTestDB(t)
	allowDamaged(db) // a sealed secret is moved to another record on purpose
	if err := db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(testProvider("graph")); err != nil {
			return err
		}
		if err := tx.CreateToken(testToken("a", "graph")); err != nil {
			return err
		}
		return tx.CreateToken(testToken("b", "graph"))
	}); err != nil {
		t.Fatal(err)
	}
	// Copy a's record (with its sealed secret) into b's key, renamed, and
	// give it a valid MAC (as only the key's holder could): the seal alone
	// must still refuse it.
	if err := db.Update(func(tx *Tx) error {
		b := tx.bolt().Bucket(bucketTokens)
		body, err := tx.db.mac.decode(kindToken, []byte("a"), b.Get([]byte("a")))
		if err != nil {
			return err
		}
		var rec map[string]any
		if err := json.Unmarshal(body, &rec); err != nil {
			return err
		}
		rec["name"] = "b"
		v, _ := json.Marshal(rec)
		return b.Put([]byte("b"), tx.db.mac.encode(kindToken, []byte("b"), v))
	}); err != nil {
		t.Fatal(err)
	}
	err := db.View(func(tx *Tx) error { _, err := tx.Token("b"); return err })
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("reading a token with another record's sealed secret: err = %v, want ErrDamaged", err)
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(p *Provider, tk *Token)
		wantErr string
	}{
		{"valid", func(p *Provider, tk *Token) {}, ""},
		{"provider name with space", func(p *Provider, tk *Token) { p.Name = "my provider" }, "provider name"},
		{"provider name dots only", func(p *Provider, tk *Token) { p.Name = ".." }, "provider name"},
		{"provider name too long", func(p *Provider, tk *Token) { p.Name = strings.Repeat("a", 65) }, "provider name"},
		{"empty client id", func(p *Provider, tk *Token) { p.ClientID = " " }, "client id"},
		{"relative auth url", func(p *Provider, tk *Token) { p.AuthURL = "/authorize" }, "authorization URL"},
		{"ftp token url", func(p *Provider, tk *Token) { p.TokenURL = "ftp://x/token" }, "token URL"},
		{"plain http token url", func(p *Provider, tk *Token) { p.TokenURL = "http://login.example.com/token" }, "plain http"},
		{"loopback http token url", func(p *Provider, tk *Token) { p.TokenURL = "http://127.0.0.1:9000/token" }, ""},
		{"userinfo in url", func(p *Provider, tk *Token) { p.AuthURL = "https://u:pw@x.example.com/a" }, "user name"},
		{"bad auth style", func(p *Provider, tk *Token) { p.AuthStyle = "auto" }, "auth style"},
		{"bad grant", func(p *Provider, tk *Token) { p.GrantType = "password" }, "grant type"},
		{"bad scope", func(p *Provider, tk *Token) { p.Scopes = []string{`a"b`} }, "scope"},
		{"bad token name", func(p *Provider, tk *Token) { tk.Name = "a/b" }, "token name"},
		{"bad prompt", func(p *Provider, tk *Token) { tk.Prompt = "always" }, "prompt"},
		{"bad type", func(p *Provider, tk *Token) { tk.Type = "magic" }, "token type"},
		{"bad base url", func(p *Provider, tk *Token) { tk.BaseURL = "graph.microsoft.com" }, "base URL"},
		{"http base url", func(p *Provider, tk *Token) { tk.BaseURL = "http://graph.microsoft.com" }, "plain http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, tk := testProvider("graph"), testToken("mail", "graph")
			tt.edit(&p, &tk)
			err := p.Validate()
			if err == nil {
				err = tk.Validate()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate: %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestInvalidRecordNotWritten(t *testing.T) {
	db := openTestDB(t)
	bad := testProvider("graph")
	bad.TokenURL = "nope"
	if err := db.Update(func(tx *Tx) error { return tx.CreateProvider(bad) }); err == nil {
		t.Fatal("CreateProvider with a bad token URL succeeded")
	}
	// A failing Update is rolled back whole, including earlier writes in it.
	err := db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(testProvider("ok")); err != nil {
			return err
		}
		return tx.CreateToken(testToken("t", "missing-provider"))
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("token with a missing provider: err = %v, want ErrNotFound", err)
	}
	db.View(func(tx *Tx) error {
		if ps, _ := tx.Providers(); len(ps) != 0 {
			t.Errorf("after failed updates the database holds %d providers, want 0", len(ps))
		}
		return nil
	})
}

func TestCreateExistsAndDelete(t *testing.T) {
	db := openTestDB(t)
	must(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(testProvider("graph")); err != nil {
			return err
		}
		return tx.CreateToken(testToken("mail", "graph"))
	}))
	if err := db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("graph")) }); !errors.Is(err, ErrExists) {
		t.Errorf("second CreateProvider: %v, want ErrExists", err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.CreateToken(testToken("mail", "graph")) }); !errors.Is(err, ErrExists) {
		t.Errorf("second CreateToken: %v, want ErrExists", err)
	}
	err := db.Update(func(tx *Tx) error { return tx.DeleteProvider("graph", false) })
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "mail") {
		t.Errorf("DeleteProvider in use: %v, want ErrInUse naming token mail", err)
	}
	must(t, db.Update(func(tx *Tx) error { return tx.DeleteProvider("graph", true) }))
	must(t, db.Update(func(tx *Tx) error { return tx.DeleteToken("mail") }))
	if err := db.Update(func(tx *Tx) error { return tx.DeleteToken("mail") }); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteToken twice: %v, want ErrNotFound", err)
	}
}

// Read-modify-write inside Update never loses an update, across goroutines and DB handles.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	db := openTestDB(t)
	db2, err := Open(db.Path(), testKey(7), Options{})
	must(t, err)
	must(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(testProvider("graph")); err != nil {
			return err
		}
		return tx.CreateToken(testToken("mail", "graph"))
	}))
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		h := db
		if w%2 == 1 {
			h = db2
		}
		wg.Go(func() {
			for range each {
				err := h.Update(func(tx *Tx) error {
					tk, err := tx.Token("mail")
					if err != nil {
						return err
					}
					tk.RefreshFailures++
					return tx.PutToken(tk)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	db.View(func(tx *Tx) error {
		tk, _ := tx.Token("mail")
		if tk.RefreshFailures != workers*each {
			t.Errorf("counter = %d after %d increments", tk.RefreshFailures, workers*each)
		}
		return nil
	})
}

func TestLockedDatabase(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "scriptrun.db"), testKey(7), Options{LockTimeout: 100 * time.Millisecond})
	must(t, err)
	// Another process holding the lock file looks like this to us.
	f, err := os.OpenFile(db.file.lockPath, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	err = db.View(func(*Tx) error { return nil })
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), db.Path()) {
		t.Fatalf("View while locked: %v, want ErrLocked naming the file", err)
	}
}

func TestLockToken(t *testing.T) {
	db := openTestDB(t)
	db2, err := Open(db.Path(), testKey(7), Options{})
	must(t, err)
	held, err := db.LockToken(context.Background(), "mail")
	must(t, err)
	if held.Lost() != nil {
		t.Error("a bbolt lock has a Lost channel; it can never be lost")
	}
	for _, h := range []*DB{db, db2} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		if _, err := h.LockToken(ctx, "mail"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second LockToken while held: %v, want a deadline error", err)
		}
		cancel()
	}
	other, err := db2.LockToken(context.Background(), "other")
	must(t, err)
	other.Unlock()
	held.Unlock()
	again, err := db2.LockToken(context.Background(), "mail")
	must(t, err)
	again.Unlock()
	if _, err := db.LockToken(context.Background(), "../x"); err == nil {
		t.Error("LockToken accepted a name with a path in it")
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	k1, err := LoadKey(path)
	must(t, err)
	info, err := os.Stat(path)
	must(t, err)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("new key file mode = %04o, want 0600", info.Mode().Perm())
	}
	k2, err := LoadKey(path)
	must(t, err)
	if !bytes.Equal(k1, k2) || len(k1) != KeySize {
		t.Errorf("second LoadKey returned another key")
	}
	must(t, os.Chmod(path, 0o644))
	if _, err := LoadKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadKey of a world-readable key: %v, want a refusal saying chmod 600", err)
	}
	empty := filepath.Join(dir, "empty.key")
	must(t, os.WriteFile(empty, nil, 0o600))
	if _, err := LoadKey(empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("LoadKey of an empty file: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	raw := testKey(9)
	tests := []struct {
		in string
		ok bool
	}{
		{hex.EncodeToString(raw), true},
		{"  " + hex.EncodeToString(raw) + "\n", true},
		{base64.StdEncoding.EncodeToString(raw), true},
		{base64.RawURLEncoding.EncodeToString(raw), true},
		{"short", false},
		{hex.EncodeToString(raw[:16]), false},
		{strings.Repeat("z", 64), false},
	}
	for _, tt := range tests {
		k, err := ParseKey(tt.in)
		if tt.ok && (err != nil || !bytes.Equal(k, raw)) {
			t.Errorf("ParseKey(%q) = %x, %v; want the key", tt.in, k, err)
		}
		if !tt.ok {
			if err == nil {
				t.Errorf("ParseKey(%q) succeeded, want an error", tt.in)
			} else if strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParseKey error %q echoes the input", err)
			}
		}
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{"": "", "short": "••••", "abcdefghijklmnop": "••••mnop"} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ExampleDB_Update() {
	dir, _ := os.MkdirTemp("", "scriptrun-example")
	defer os.RemoveAll(dir)
	db, err := Open(filepath.Join(dir, "scriptrun.db"), bytes.Repeat([]byte{1}, KeySize), Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = db.Update(func(tx *Tx) error {
		return tx.CreateProvider(Provider{
			Name: "graph", ClientID: "app-id", ClientSecret: "s3cret", GrantType: GrantAuthorizationCode,
			AuthURL:   "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
			TokenURL:  "https://login.microsoftonline.com/common/oauth2/v2.0/token",
			AuthStyle: AuthStyleBody, PKCE: true,
		})
	})
	fmt.Println(err)
	// Output: <nil>
}

func BenchmarkViewToken(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "scriptrun.db"), testKey(7), Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(testProvider("graph")); err != nil {
			return err
		}
		return tx.CreateToken(testToken("mail", "graph"))
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := db.View(func(tx *Tx) error { _, err := tx.Token("mail"); return err }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateToken(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "scriptrun.db"), testKey(7), Options{})
	if err != nil {
		b.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("graph")) }))
	tk := testToken("mail", "graph")
	b.ReportAllocs()
	for b.Loop() {
		must(db.Update(func(tx *Tx) error { return tx.PutToken(tk) }))
	}
}

// FuzzDecodeRecord stores arbitrary bytes as token and provider records: reading
// them must give a record or an error, never a panic.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"name":"t","type":"oauth2","sealed":"AAAA"}`))
	f.Add([]byte(`{"name":"t","expires":"not a time"}`))
	f.Add([]byte(`{"name":"t","sealed":"` + base64.StdEncoding.EncodeToString(make([]byte, 40)) + `"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(recordPrefix + strings.Repeat("A", macTextLen) + `:{"name":"t"}`))
	f.Add([]byte(recordPrefix + "!!:{}"))
	db, err := Open(filepath.Join(f.TempDir(), "scriptrun.db"), testKey(7), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		db.View(func(tx *Tx) error {
			tx.decodeToken("t", raw)
			tx.decodeProvider("t", raw)
			return nil
		})
	})
}

// Opening an initialized database does not write to it.
func TestOpenDoesNotWrite(t *testing.T) {
	db := openTestDB(t)
	before, err := os.Stat(db.Path())
	must(t, err)
	var txid int
	must(t, db.View(func(tx *Tx) error { txid = tx.bolt().ID(); return nil }))
	if _, err := Open(db.Path(), testKey(7), Options{}); err != nil {
		t.Fatal(err)
	}
	var after int
	must(t, db.View(func(tx *Tx) error { after = tx.bolt().ID(); return nil }))
	if after != txid {
		t.Errorf("Open committed a transaction (txid %d -> %d)", txid, after)
	}
	st, _ := os.Stat(db.Path())
	if st.Size() != before.Size() {
		t.Errorf("file size changed on open")
	}
	// An empty file (a crash before the first commit) is initialized.
	empty := filepath.Join(t.TempDir(), "scriptrun.db")
	must(t, os.WriteFile(empty, nil, 0o600))
	if _, err := Open(empty, testKey(7), Options{}); err != nil {
		t.Errorf("Open of an empty file: %v", err)
	}
}
