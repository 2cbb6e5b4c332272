package store

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// cheapArgon makes hashing fast for the tests that do not measure it.
func cheapArgon(t *testing.T) {
	t.Helper()
	old := argonCost
	argonCost = argonParams{memory: 64, time: 1, threads: 1, keyLen: 32, saltLen: 16}
	t.Cleanup(func() { argonCost = old })
}

func TestAdminPasswordNotSet(t *testing.T) {
	db := openTestDB(t)
	err := db.View(func(tx *Tx) error {
		_, err := tx.AdminPassword()
		return err
	})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "scriptrun admin password") {
		t.Fatalf("AdminPassword on a fresh database = %v, want ErrNotFound saying how to set it", err)
	}
}

func TestAdminPasswordRoundTrip(t *testing.T) {
	cheapArgon(t)
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	db, err := Open(t.TempDir()+"/scriptrun.db", testKey(7), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := HashAdminPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	must(t, db.Update(func(tx *Tx) error { return tx.SetAdminPassword(hash) }))
	var got AdminPassword
	must(t, db.View(func(tx *Tx) (err error) { got, err = tx.AdminPassword(); return err }))
	if got.Hash != hash || !got.Set.Equal(now) {
		t.Fatalf("read back %+v, want the hash and Set %v", got, now)
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		ok, err := CheckAdminPassword(got.Hash, pw)
		if err != nil || ok != want {
			t.Errorf("CheckAdminPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}

	// A new password replaces the old one and moves Set.
	now = now.Add(time.Hour)
	hash2, _ := HashAdminPassword("another long password")
	must(t, db.Update(func(tx *Tx) error { return tx.SetAdminPassword(hash2) }))
	must(t, db.View(func(tx *Tx) (err error) { got, err = tx.AdminPassword(); return err }))
	if ok, _ := CheckAdminPassword(got.Hash, "correct horse battery"); ok || !got.Set.Equal(now) {
		t.Errorf("after replacing: old password accepted %v, Set %v (want %v)", ok, got.Set, now)
	}

	// The hash is sealed: the file holds neither it nor its salt in clear.
	raw, _ := os.ReadFile(db.Path())
	if bytes.Contains(raw, []byte(strings.Split(hash2, "$")[5])) || bytes.Contains(raw, []byte("argon2id")) {
		t.Error("the database file holds the admin password hash in clear")
	}
}

func TestAdminPasswordDefaultCost(t *testing.T) {
	start := time.Now()
	hash, err := HashAdminPassword("a reasonably long one")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("argon2id hash with the default cost took %v", time.Since(start))
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("hash %q does not use argon2id with 64 MiB, 3 passes, 4 lanes", hash)
	}
	if ok, err := CheckAdminPassword(hash, "a reasonably long one"); !ok || err != nil {
		t.Errorf("CheckAdminPassword = %v, %v", ok, err)
	}
}

func TestValidateAdminPassword(t *testing.T) {
	tests := []struct {
		pw   string
		want string
	}{
		{"zq9xk", "too short"},
		{"ééééééé", "too short"}, // 7 characters, 14 bytes
		{"éééééééé", ""},
		{strings.Repeat("x", MaxAdminPasswordLen+1), "too long"},
		{"bad utf8 \xff\xfe", "UTF-8"},
		{"eight ch", ""},
	}
	for _, tt := range tests {
		err := ValidateAdminPassword(tt.pw)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("ValidateAdminPassword(%.20q) = %v, want %q", tt.pw, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), tt.pw) {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
	if _, err := HashAdminPassword("zq9xk"); err == nil {
		t.Error("HashAdminPassword accepted a short password")
	}
}

func TestAdminPasswordDamagedHash(t *testing.T) {
	cheapArgon(t)
	good, _ := HashAdminPassword("long enough password")
	salt, key := strings.Split(good, "$")[4], strings.Split(good, "$")[5]
	bad := []string{
		"",
		"plain text",
		"$2a$12$bcrypthashbcrypthashbcrypthashbcrypthashbcrypthash12",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=99999999,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=300$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,x=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$!!!$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$short",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$extra",
	}
	for _, h := range bad {
		if ok, err := CheckAdminPassword(h, "long enough password"); ok || !errors.Is(err, ErrDamaged) {
			t.Errorf("CheckAdminPassword(%q) = %v, %v; want false and ErrDamaged", h, ok, err)
		}
	}
	db := openTestDB(t)
	if err := db.Update(func(tx *Tx) error { return tx.SetAdminPassword("hunter2") }); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("SetAdminPassword of a plain password = %v, want a refusal that does not repeat it", err)
	}
	// Writing in a read-only transaction fails cleanly.
	if err := db.View(func(tx *Tx) error { return tx.SetAdminPassword(good) }); err == nil {
		t.Error("SetAdminPassword in View succeeded")
	}
}
