package store

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
)

// SchemaVersion is the version of the record layout this package writes.
// Schema 2 authenticates records (record.go); a schema 1 file is migrated
// when it is first opened with its key.
const SchemaVersion = 2

// Errors callers branch on. Returned errors wrap them with the file or record
// they concern and what to do.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInUse    = errors.New("in use")
	ErrLocked   = errors.New("database is locked")
	ErrWrongKey = errors.New("wrong master key")
	ErrDamaged  = errors.New("database is damaged")
)

var (
	bucketMeta      = []byte(spaceMeta)
	bucketProviders = []byte(spaceProviders)
	bucketTokens    = []byte(spaceTokens)
	keySchema       = []byte("schema")
	keyCheck        = []byte("keycheck")
	keyCheckPlain   = []byte("scriptrun master key check")
	// keyCheckPlain2 is the key check of schema 2. The schema number in
	// meta is plain (so that an older scriptrun can say "upgrade"); this
	// sealed check is what tells, under the key, which schema a file has,
	// so that setting the number back to 1 cannot get forged records
	// authenticated by a second migration.
	// It is followed by the home's random id (homeIDSize bytes), the salt
	// of the record authentication key: a record copied from another home
	// with the same master key fails authentication here.
	keyCheckPlain2 = []byte("scriptrun master key check, records authenticated (schema 2)\x00")
)

const homeIDSize = 16

// Options tune a DB. The zero value is usable.
type Options struct {
	// LockTimeout bounds the wait for another process's transaction (default 10s).
	LockTimeout time.Duration
	// Now is the clock used for record timestamps (default time.Now).
	Now func() time.Time
	// Etcd configures the connection when OpenURL is given an etcd://
	// URL: TLS files, credentials, limits. Target is ignored (the URL's).
	Etcd etcdkv.Config
	// Create lets OpenURL initialise an empty etcd prefix (store init,
	// store migrate); without it an empty prefix is ErrNoStore.
	Create bool
}

// DB is a scriptrun database file. It is safe for concurrent use by many
// goroutines, and by many processes through their own DBs.
type DB struct {
	kv   backend
	file *boltBackend // kv, while bbolt is the only backend
	path string       // kv.describe(), for messages
	seal *sealer
	mac  *recordMAC // set by Open once the home's id is known
	// newMAC derives the record MAC key for a home id; only during Open,
	// which holds the master key.
	newMAC  func(homeID []byte) (*recordMAC, error)
	timeout time.Duration
	now     func() time.Time
}

// Open checks (and on first use creates) the database at path and returns a
// DB that opens the file for each transaction. key is the 32-byte master key;
// a key other than the one the file was created with is refused with
// ErrWrongKey.
func Open(path string, key []byte, opts Options) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 10 * time.Second
	}
	file := newBoltBackend(path, opts.LockTimeout)
	if err := os.MkdirAll(file.lockDir, 0o700); err != nil {
		return nil, fmt.Errorf("open database %s: create lock folder: %w", path, err)
	}
	return open(file, file, key, opts)
}

// open checks (and on first use initializes) the store in kv. file is kv
// when it is a bbolt file, else nil.
func open(kv backend, file *boltBackend, key []byte, opts Options) (*DB, error) {
	path := kv.describe()
	s, err := newSealer(key)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	master := bytes.Clone(key) // the caller may clear key once Open returns
	defer clear(master)
	db := &DB{
		kv:      kv,
		file:    file,
		path:    path,
		seal:    s,
		newMAC:  func(homeID []byte) (*recordMAC, error) { return newRecordMAC(master, homeID) },
		timeout: opts.LockTimeout,
		now:     opts.Now,
	}
	defer func() { db.newMAC = nil }()
	if db.timeout <= 0 {
		db.timeout = 10 * time.Second
	}
	if db.now == nil {
		db.now = time.Now
	}
	// Most opens find the store initialized: check it read-only, and write
	// (with its fsync) only when something is missing. A missing or empty
	// file is initialized at once (a read-only open would fail).
	ready, migrate := false, false
	if file == nil || file.exists() {
		err = db.kv.view(func(tx kvTx) error {
			var err error
			ready, migrate, err = db.check(tx)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if !ready {
		if err := db.kv.update(db.initialize); err != nil {
			if migrate {
				return nil, fmt.Errorf("database %s needs a one-time upgrade to schema %d (record authentication), which writes to it; nothing was changed: %w", path, SchemaVersion, err)
			}
			return nil, err
		}
	}
	return db, nil
}

// check verifies an initialized file's schema and key, and reports whether
// it is initialized and up to date (ready), or initialized with schema 1 and
// so to be migrated. A file with the wrong key is never migrated.
func (db *DB) check(tx kvTx) (ready, migrate bool, err error) {
	v, sealed, err := readMeta(tx)
	if err != nil {
		return false, false, err
	}
	if v == nil || sealed == nil {
		return false, false, nil
	}
	n, homeID, err := db.schemaOf(v, sealed)
	if err != nil {
		return false, false, err
	}
	if n == SchemaVersion {
		if err := db.setHome(homeID); err != nil {
			return false, false, err
		}
	}
	return n == SchemaVersion, n == 1, nil
}

// setHome derives the record MAC key of the home with that id.
func (db *DB) setHome(homeID []byte) error {
	m, err := db.newMAC(homeID)
	if err != nil {
		return fmt.Errorf("open database %s: %w", db.path, err)
	}
	db.mac = m
	return nil
}

// schemaOf reads the schema number v and checks it against the sealed key
// check: the key must be right, and the check must be the one of that
// schema. For schema 2 it also returns the home's id.
func (db *DB) schemaOf(v, sealed []byte) (int, []byte, error) {
	if err := db.checkSchema(v); err != nil {
		return 0, nil, err
	}
	plain, err := db.seal.open(sealed, keyCheck)
	if err != nil {
		return 0, nil, db.wrongKey()
	}
	n, _ := strconv.Atoi(string(v))
	switch {
	case n == 1 && bytes.Equal(plain, keyCheckPlain):
		return n, nil, nil
	case n == 2 && len(plain) == len(keyCheckPlain2)+homeIDSize && bytes.HasPrefix(plain, keyCheckPlain2):
		return n, plain[len(keyCheckPlain2):], nil
	}
	return 0, nil, fmt.Errorf("%w: %s says schema %d but its key check is of another schema (the file was altered): move it aside and restore a backup", ErrDamaged, db.path, n)
}

func (db *DB) checkSchema(v []byte) error {
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return fmt.Errorf("%w: %s has an unreadable schema version %q: move it aside and restore a backup", ErrDamaged, db.path, v)
	}
	if n > SchemaVersion {
		return fmt.Errorf("database %s was written by a newer scriptrun (schema %d; this one reads %d): upgrade scriptrun", db.path, n, SchemaVersion)
	}
	return nil
}

func (db *DB) wrongKey() error {
	if db.file == nil {
		return fmt.Errorf("%w: the store at %s was created with another master key: every node needs the same SCRIPTRUN_MASTER_KEY or master.key", ErrWrongKey, db.path)
	}
	return fmt.Errorf("%w: %s was created with another master key: set SCRIPTRUN_MASTER_KEY or restore master.key to the key it was created with", ErrWrongKey, db.path)
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// readMeta returns the schema number and the sealed key check, nil when
// missing.
func readMeta(tx kvTx) (schema, sealed []byte, err error) {
	if schema, err = tx.Get(key(spaceMeta, string(keySchema))); err != nil {
		return nil, nil, err
	}
	if sealed, err = tx.Get(key(spaceMeta, string(keyCheck))); err != nil {
		return nil, nil, err
	}
	return schema, sealed, nil
}

func (db *DB) initialize(tx kvTx) error {
	v, sealed, err := readMeta(tx)
	if err != nil {
		return err
	}
	switch {
	case v == nil && sealed == nil:
		// A new file (or one whose meta was wiped: its records then fail
		// authentication, as they must).
		return db.writeMeta(tx)
	case v == nil || sealed == nil:
		return fmt.Errorf("%w: %s lacks its schema version or key check: move it aside and restore a backup", ErrDamaged, db.path)
	}
	n, homeID, err := db.schemaOf(v, sealed)
	if err != nil {
		return err
	}
	if n == 1 {
		// Another process may have migrated since our check: this runs
		// in the write transaction, so it sees the file as it is now.
		return db.migrate(tx)
	}
	return db.setHome(homeID)
}

// writeMeta writes the schema number and a key check with a new home id,
// and derives that home's record MAC key.
func (db *DB) writeMeta(tx kvTx) error {
	homeID := make([]byte, homeIDSize)
	if _, err := rand.Read(homeID); err != nil {
		return fmt.Errorf("create database %s: %w", db.path, err)
	}
	if err := tx.Put(key(spaceMeta, string(keySchema)), []byte(strconv.Itoa(SchemaVersion))); err != nil {
		return err
	}
	if err := tx.Put(key(spaceMeta, string(keyCheck)), db.seal.seal(append(bytes.Clone(keyCheckPlain2), homeID...), keyCheck)); err != nil {
		return err
	}
	return db.setHome(homeID)
}

// migrate turns a schema 1 file into schema 2 inside one write transaction
// (all or nothing): every record of an authenticated kind gets its MAC, as
// it is; then the schema number and key check say 2. Schema 1 records
// were not authenticated, so the migration trusts what it finds: it runs
// once, with the key, and never again (see schemaOf).
func (db *DB) migrate(tx kvTx) error {
	if err := db.writeMeta(tx); err != nil {
		return err
	}
	for _, ab := range authenticatedBuckets {
		space := string(ab.bucket)
		type kv struct {
			k string
			v []byte
		}
		var recs []kv
		if err := tx.List(key(space, ""), func(k string, v []byte) error {
			recs = append(recs, kv{key(space, k), db.mac.encode(ab.kind, []byte(k), v)})
			return nil
		}); err != nil {
			return err
		}
		for _, r := range recs {
			if err := tx.Put(r.k, r.v); err != nil {
				return fmt.Errorf("migrate %s: %w", ab.kind, err)
			}
		}
	}
	return nil
}

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(*Tx) error) error {
	return db.kv.view(func(kv kvTx) error { return fn(&Tx{db: db, kv: kv}) })
}

// Update runs fn in a read-write transaction, committed durably (fsync) when
// fn returns nil and rolled back otherwise: a record is written whole or not
// at all.
func (db *DB) Update(fn func(*Tx) error) error {
	return db.kv.update(func(kv kvTx) error { return fn(&Tx{db: db, kv: kv}) })
}

// Check verifies the file's internal consistency (bbolt's page checks). A
// store that is not a bbolt file has no such check: nil.
func (db *DB) Check() error {
	if db.file == nil {
		return nil
	}
	return db.file.check()
}

// CheckRecords reads every record that carries a MAC — providers, tokens,
// jobs, run requests, reconnect links and the admin password — and returns the damaged ones,
// one *RecordError each (see DamagedRecords), joined with any other error.
// It is nil for a file whose every record authenticates. Together with Check
// it is what a test asserts of the file it leaves behind.
func (db *DB) CheckRecords() error {
	return db.View(func(tx *Tx) error {
		var errs []error
		for _, list := range []func() error{
			func() error { _, err := tx.Providers(); return err },
			func() error { _, err := tx.Tokens(); return err },
			func() error { _, err := tx.Jobs(); return err },
			func() error { _, err := tx.RunRequests(); return err },
			func() error { _, err := tx.ReconnectLinks(""); return err },
			func() error { _, err := tx.Notifiers(); return err },
			func() error { _, err := tx.Deliveries(0, false); return err },
		} {
			// Flattened, so that DamagedRecords splits the result.
			damaged, other := DamagedRecords(list())
			for _, re := range damaged {
				errs = append(errs, re)
			}
			errs = append(errs, other)
		}
		if _, err := tx.AdminPassword(); !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}
