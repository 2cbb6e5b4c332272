package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the version of the record layout this package writes.
const SchemaVersion = 1

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
)

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
	timeout  time.Duration
	now      func() time.Time

	mu      sync.RWMutex // in-process: View shares, Update excludes
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
	db := &DB{
		path:     path,
		lockPath: path + ".lock",
		lockDir:  filepath.Join(filepath.Dir(path), "locks"),
		seal:     s,
		timeout:  opts.LockTimeout,
		now:      opts.Now,
	}
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
	ready := false
	if info, err := os.Stat(path); err == nil && info.Size() > 0 {
		err = db.view(func(tx *bolt.Tx) error {
			var err error
			ready, err = db.check(tx)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if !ready {
		if err := db.update(db.initialize); err != nil {
			return nil, err
		}
	}
	return db, nil
}

// check verifies an initialized file's schema and key, and reports whether
// it is initialized at all.
func (db *DB) check(tx *bolt.Tx) (bool, error) {
	for _, b := range [][]byte{bucketMeta, bucketProviders, bucketTokens} {
		if tx.Bucket(b) == nil {
			return false, nil
		}
	}
	meta := tx.Bucket(bucketMeta)
	v, sealed := meta.Get(keySchema), meta.Get(keyCheck)
	if v == nil || sealed == nil {
		return false, nil
	}
	if err := db.checkSchema(v); err != nil {
		return false, err
	}
	if _, err := db.seal.open(sealed, keyCheck); err != nil {
		return false, db.wrongKey()
	}
	return true, nil
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
	if v := meta.Get(keySchema); v == nil {
		if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return err
		}
	} else if err := db.checkSchema(v); err != nil {
		return err
	}
	if v := meta.Get(keyCheck); v == nil {
		return meta.Put(keyCheck, db.seal.seal(keyCheckPlain, keyCheck))
	} else if _, err := db.seal.open(v, keyCheck); err != nil {
		return db.wrongKey()
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

	if !write {
		// A read-only open of a file that is not there would fail obscurely.
		if _, err := os.Stat(db.path); err != nil {
			return fmt.Errorf("open database %s: %w", db.path, err)
		}
	}
	b, err := bolt.Open(db.path, 0o600, &bolt.Options{ReadOnly: !write, Timeout: db.timeout})
	if err != nil {
		return db.explainOpen(err)
	}
	defer func() {
		if cerr := b.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database %s: %w", db.path, cerr)
		}
	}()
	defer func() {
		// bbolt panics on some damaged pages; report it as damage, not a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s could not be read (%v): move it aside and restore a backup", ErrDamaged, db.path, r)
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
