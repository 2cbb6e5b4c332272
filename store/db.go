package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
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
	bucketMeta      = []byte("meta")
	bucketProviders = []byte("providers")
	bucketTokens    = []byte("tokens")
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
}

// DB is a scriptrun database file. It is safe for concurrent use by many
// goroutines, and by many processes through their own DBs.
type DB struct {
	path     string
	lockPath string
	lockDir  string
	seal     *sealer
	mac      *recordMAC // set by Open once the home's id is known
	// newMAC derives the record MAC key for a home id; only during Open,
	// which holds the master key.
	newMAC  func(homeID []byte) (*recordMAC, error)
	timeout time.Duration
	now     func() time.Time

	mu      sync.RWMutex              // in-process: View shares, Update excludes
	checked atomic.Pointer[fileStamp] // the file as checkFile last passed it
	tokenMu keyedMutex
}

// Open checks (and on first use creates) the database at path and returns a
// DB that opens the file for each transaction. key is the 32-byte master key;
// a key other than the one the file was created with is refused with
// ErrWrongKey.
func Open(path string, key []byte, opts Options) (*DB, error) {
	s, err := newSealer(key)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	master := bytes.Clone(key) // the caller may clear key once Open returns
	defer clear(master)
	db := &DB{
		path:     path,
		lockPath: path + ".lock",
		lockDir:  filepath.Join(filepath.Dir(path), "locks"),
		seal:     s,
		newMAC:   func(homeID []byte) (*recordMAC, error) { return newRecordMAC(master, homeID) },
		timeout:  opts.LockTimeout,
		now:      opts.Now,
	}
	defer func() { db.newMAC = nil }()
	if db.timeout <= 0 {
		db.timeout = 10 * time.Second
	}
	if db.now == nil {
		db.now = time.Now
	}
	if err := os.MkdirAll(db.lockDir, 0o700); err != nil {
		return nil, fmt.Errorf("open database %s: create lock folder: %w", path, err)
	}
	// Most opens find the file initialized: check it read-only, and write
	// (with its fsync) only when something is missing.
	ready, migrate := false, false
	if info, err := os.Stat(path); err == nil && info.Size() > 0 {
		err = db.view(func(tx *bolt.Tx) error {
			var err error
			ready, migrate, err = db.check(tx)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if !ready {
		if err := db.update(db.initialize); err != nil {
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
func (db *DB) check(tx *bolt.Tx) (ready, migrate bool, err error) {
	for _, b := range [][]byte{bucketMeta, bucketProviders, bucketTokens} {
		if tx.Bucket(b) == nil {
			return false, false, nil
		}
	}
	meta := tx.Bucket(bucketMeta)
	v, sealed := meta.Get(keySchema), meta.Get(keyCheck)
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
	return fmt.Errorf("%w: %s was created with another master key: set SCRIPTRUN_MASTER_KEY or restore master.key to the key it was created with", ErrWrongKey, db.path)
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

func (db *DB) initialize(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketMeta, bucketProviders, bucketTokens} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	v, sealed := meta.Get(keySchema), meta.Get(keyCheck)
	switch {
	case v == nil && sealed == nil:
		// A new file (or one whose meta was wiped: its records then fail
		// authentication, as they must).
		return db.writeMeta(meta)
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
func (db *DB) writeMeta(meta *bolt.Bucket) error {
	homeID := make([]byte, homeIDSize)
	if _, err := rand.Read(homeID); err != nil {
		return fmt.Errorf("create database %s: %w", db.path, err)
	}
	if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
		return err
	}
	if err := meta.Put(keyCheck, db.seal.seal(append(bytes.Clone(keyCheckPlain2), homeID...), keyCheck)); err != nil {
		return err
	}
	return db.setHome(homeID)
}

// migrate turns a schema 1 file into schema 2 inside one write transaction
// (all or nothing): every record of an authenticated kind gets its MAC, as
// it is; then the schema number and key check say 2. Schema 1 records
// were not authenticated, so the migration trusts what it finds: it runs
// once, with the key, and never again (see schemaOf).
func (db *DB) migrate(tx *bolt.Tx) error {
	if err := db.writeMeta(tx.Bucket(bucketMeta)); err != nil {
		return err
	}
	for _, ab := range authenticatedBuckets {
		b := tx.Bucket(ab.bucket)
		if b == nil {
			continue
		}
		type kv struct{ k, v []byte }
		var recs []kv
		if err := b.ForEach(func(k, v []byte) error {
			if v != nil { // not a nested bucket
				recs = append(recs, kv{bytes.Clone(k), db.mac.encode(ab.kind, k, v)})
			}
			return nil
		}); err != nil {
			return err
		}
		for _, r := range recs {
			if err := b.Put(r.k, r.v); err != nil {
				return fmt.Errorf("migrate %s: %w", ab.kind, err)
			}
		}
	}
	return nil
}

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(*Tx) error) error {
	return db.view(func(btx *bolt.Tx) error { return fn(&Tx{db: db, tx: btx}) })
}

func (db *DB) view(fn func(*bolt.Tx) error) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.withFile(false, func(b *bolt.DB) error { return b.View(fn) })
}

// Update runs fn in a read-write transaction, committed durably (fsync) when
// fn returns nil and rolled back otherwise: a record is written whole or not
// at all.
func (db *DB) Update(fn func(*Tx) error) error {
	return db.update(func(btx *bolt.Tx) error { return fn(&Tx{db: db, tx: btx}) })
}

func (db *DB) update(fn func(*bolt.Tx) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	err := db.withFile(true, func(b *bolt.DB) error { return b.Update(fn) })
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("database %s: the disk is full: free some space and try again; nothing was changed (%w)", db.path, err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("database %s is on a read-only file system: nothing can be changed there; reading still works (%w)", db.path, err)
	}
	return err
}

// Check verifies the file's internal consistency (bbolt's page checks).
func (db *DB) Check() error {
	return db.View(func(tx *Tx) error {
		var errs []error
		for err := range tx.tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %s: %w", ErrDamaged, db.path, errors.Join(errs...))
		}
		return nil
	})
}

// CheckRecords reads every record that carries a MAC — providers, tokens,
// jobs, run requests and the admin password — and returns the damaged ones,
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

// withFile opens the bbolt file for one transaction under the lock file.
func (db *DB) withFile(write bool, fn func(*bolt.DB) error) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), db.timeout)
	defer cancel()
	l, err := lockFile(ctx, db.lockPath, write)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %s is busy in another process (waited %s): let it finish or stop it, then retry", ErrLocked, db.path, db.timeout)
		}
		return fmt.Errorf("lock database %s: %w", db.path, err)
	}
	defer l.unlock()

	info, err := os.Stat(db.path)
	if err != nil && !write {
		// A read-only open of a file that is not there would fail obscurely.
		return fmt.Errorf("open database %s: %w", db.path, err)
	}
	if err == nil {
		if err := db.checkFile(info); err != nil {
			return err
		}
	}
	// Should the file still be cut short under bbolt (by another program,
	// since the lock file only binds scriptrun), a read of a missing page
	// becomes a panic, reported below as damage, rather than SIGBUS.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		// bbolt panics on some damaged pages (and, with panic-on-fault, on
		// missing ones); report it as damage, not a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s could not be read (%v): move it aside and restore a backup", ErrDamaged, db.path, r)
		}
	}()
	b, err := bolt.Open(db.path, 0o600, &bolt.Options{ReadOnly: !write, Timeout: db.timeout})
	if err != nil {
		return db.explainOpen(err)
	}
	defer func() {
		if cerr := b.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database %s: %w", db.path, cerr)
		}
	}()
	return fn(b)
}

func (db *DB) explainOpen(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w: %s is held open by another program (waited %s): close it (an old scriptrun, or a bbolt tool) and retry", ErrLocked, db.path, db.timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return fmt.Errorf("%w: %s is not a readable scriptrun database (%v): move it aside and restore a backup, or remove it to start empty", ErrDamaged, db.path, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("open database %s: permission denied: check the owner and mode of the file and its folder", db.path)
	}
	return fmt.Errorf("open database %s: %w", db.path, err)
}
