package storetest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// forgeProvider edits the stored provider's bytes as someone with the file
// but not the key could: its MAC no longer matches.
func forgeProvider(t *testing.T, db *store.DB, name string) {
	t.Helper()
	storetest.Tamper(t, db.Path(), "providers", []byte(name), func(v []byte) ([]byte, error) {
		v[len(v)/2] ^= 1
		return v, nil
	})
}

func addProvider(t *testing.T, db *store.DB, name string) {
	t.Helper()
	p := store.Provider{
		Name: name, ClientID: "client-1", ClientSecret: "secret", GrantType: store.GrantClientCredentials,
		TokenURL: "https://login.example.com/token", AuthStyle: store.AuthStyleHeader,
	}
	if err := db.Update(func(tx *store.Tx) error { return tx.CreateProvider(p) }); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name    string
		damage  func(*testing.T, *store.DB)
		records bool
		want    string // in the error; "" for none
	}{
		{name: "clean", damage: func(*testing.T, *store.DB) {}, records: true},
		{name: "forged record", damage: func(t *testing.T, db *store.DB) { forgeProvider(t, db, "graph") }, records: true, want: `provider "graph"`},
		{name: "forged record, records not checked", damage: func(t *testing.T, db *store.DB) { forgeProvider(t, db, "graph") }},
		{name: "readable by others", records: true, want: "mode 0644", damage: func(t *testing.T, db *store.DB) {
			if err := os.Chmod(db.Path(), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(db.Path(), 0o600) })
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.Open(t)
			addProvider(t, db, "graph")
			tt.damage(t, db)
			err := storetest.Check(db, tt.records)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Check: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Check: %v, want an error naming %s", err, tt.want)
			}
			var re *store.RecordError
			if strings.HasPrefix(tt.want, "provider") && !errors.As(err, &re) {
				t.Errorf("Check: %v, want a *store.RecordError in it", err)
			}
			storetest.AllowDamaged(t, db) // the damage was done on purpose
		})
	}
}

func TestOpenHome(t *testing.T) {
	db := storetest.Open(t, store.Options{LockTimeout: time.Second})
	home := filepath.Dir(db.Path())
	info, err := os.Stat(home)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o700 {
		t.Errorf("home mode = %04o, want 0700 as scriptrun makes it", got)
	}
	again, err := store.Open(db.Path(), storetest.Key(), store.Options{})
	if err != nil {
		t.Fatalf("reopen with storetest.Key: %v", err)
	}
	if err := again.Check(); err != nil {
		t.Fatal(err)
	}
}

// A test that forges a record on purpose says so, and its end check passes.
func TestAllowDamaged(t *testing.T) {
	db := storetest.Open(t)
	addProvider(t, db, "graph")
	forgeProvider(t, db, "graph")
	storetest.AllowDamaged(t, db)
	err := db.View(func(tx *store.Tx) error { _, err := tx.Provider("graph"); return err })
	if err == nil {
		t.Fatal("forged provider read without error")
	}
}
