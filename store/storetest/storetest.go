// Package storetest opens real scriptrun databases for tests and checks them
// when the test ends, as bbolt's internal/btesting does for bbolt.
//
// Only test code imports it. Every database it opens lives in its own home
// under t.TempDir(), with the modes scriptrun gives a home (0700) and its
// database (0600), and a fixed test key. When the test ends the file must
// still pass bbolt's consistency check (store.DB.Check), every record must
// still authenticate (store.DB.CheckRecords) unless the test called
// AllowDamaged, and the database must not have become readable or writable
// by other users.
//
// # Caveats
//
// The checks run in a t.Cleanup registered by Open, so they run before the
// cleanups registered earlier (the temp dir's removal among them) and after
// those registered later: a server or process a test starts after Open is
// stopped before the file is checked. One started before Open may still hold
// the file's lock; the check then waits for it up to the lock timeout.
//
// Package store's own tests cannot import this package (it imports store);
// they use a helper of their own that runs the same two checks.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// keyByte fills the test master key. A test that needs a second key (to see
// one refused) uses another byte.
const keyByte = 0x5c

// Key returns the master key of the databases Open creates, a new slice each
// time since store.Open's callers may clear theirs. A child process or a
// second store.DB on the same file opens it with this key.
func Key() []byte { return bytes.Repeat([]byte{keyByte}, store.KeySize) }

// allowed holds the databases whose tests damage records on purpose.
var allowed sync.Map // *store.DB → struct{}

// Open creates a database in a new home under t.TempDir() and returns it.
// opts, when given (at most one), is passed to store.Open. When the test
// ends the file is checked (see the package comment) and the test fails if
// it is damaged.
func Open(t testing.TB, opts ...store.Options) *store.DB {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatalf("create home: %v", err)
	}
	return OpenIn(t, home, Key(), opts...)
}

// OpenIn opens (creating it if need be) the database of an existing home —
// one a test runs scriptrun itself in — with key, and checks it as Open does
// when the test ends.
func OpenIn(t testing.TB, home string, key []byte, opts ...store.Options) *store.DB {
	t.Helper()
	if len(opts) > 1 {
		t.Fatalf("storetest: %d store.Options given, want at most one", len(opts))
	}
	var o store.Options
	if len(opts) == 1 {
		o = opts[0]
	}
	db, err := store.Open(filepath.Join(home, "scriptrun.db"), key, o)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() {
		_, skipRecords := allowed.LoadAndDelete(db)
		if err := Check(db, !skipRecords); err != nil {
			t.Errorf("database left by the test: %v", err)
		}
	})
	return db
}

// AllowDamaged tells the check at the end of t that db holds damaged
// records on purpose (the test forges or corrupts one): records are then not
// authenticated, but the file must still pass bbolt's consistency check.
func AllowDamaged(t testing.TB, db *store.DB) {
	t.Helper()
	allowed.Store(db, struct{}{})
}

// Check runs the checks Open runs when a test ends: the file's mode, bbolt's
// consistency check and, when records is true, the authentication of every
// record. It returns every problem found.
func Check(db *store.DB, records bool) error {
	var errs []error
	if info, err := os.Stat(db.Path()); err != nil {
		errs = append(errs, err)
	} else if perm := info.Mode().Perm(); perm&0o077 != 0 {
		errs = append(errs, fmt.Errorf("%s has mode %04o: other users can read or change it (scriptrun makes it 0600)", db.Path(), perm))
	}
	errs = append(errs, db.Check())
	if records {
		errs = append(errs, db.CheckRecords())
	}
	return errors.Join(errs...)
}
