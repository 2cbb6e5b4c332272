package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/scriptrun/scriptrun/internal/keyedmutex"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// boltBackend keeps the records in a bbolt file that it opens for each
// transaction, under a lock file beside it (see doc.go, "Several
// processes, one home"). Each key space is a bucket, created on first write.
type boltBackend struct {
	path     string
	lockPath string // of the file: shared for view, exclusive for update
	lockDir  string // of named locks (lock.go)
	timeout  time.Duration

	mu      sync.RWMutex              // in-process: view shares, update excludes
	checked atomic.Pointer[fileStamp] // the file as checkFile last passed it
	locks   keyedmutex.Map            // in-process queues in front of named locks
	kept    keptLocks                 // lock files kept open for tryLock (lock.go)
}

var _ backend = (*boltBackend)(nil)

func newBoltBackend(path string, timeout time.Duration) *boltBackend {
	return &boltBackend{
		path:     path,
		lockPath: path + ".lock",
		lockDir:  filepath.Join(filepath.Dir(path), "locks"),
		timeout:  timeout,
	}
}

func (b *boltBackend) describe() string { return b.path }

// exists reports whether the file is there and not empty, so that a first
// open can skip the read-only check and initialize it.
func (b *boltBackend) exists() bool {
	info, err := os.Stat(b.path)
	return err == nil && info.Size() > 0
}

func (b *boltBackend) view(fn func(kvTx) error) error {
	return b.viewBolt(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (b *boltBackend) viewBolt(fn func(*bolt.Tx) error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.withFile(false, func(db *bolt.DB) error { return db.View(fn) })
}

func (b *boltBackend) update(fn func(kvTx) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.withFile(true, func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
	})
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("database %s: the disk is full: free some space and try again; nothing was changed (%w)", b.path, err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("database %s is on a read-only file system: nothing can be changed there; reading still works (%w)", b.path, err)
	}
	return err
}

// withFile opens the bbolt file for one transaction under the lock file.
func (b *boltBackend) withFile(write bool, fn func(*bolt.DB) error) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	l, err := lockFile(ctx, b.lockPath, write)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %s is busy in another process (waited %s): let it finish or stop it, then retry", ErrLocked, b.path, b.timeout)
		}
		return fmt.Errorf("lock database %s: %w", b.path, err)
	}
	defer l.unlock()

	info, err := os.Stat(b.path)
	if err != nil && !write {
		// A read-only open of a file that is not there would fail obscurely.
		return fmt.Errorf("open database %s: %w", b.path, err)
	}
	if err == nil {
		if err := b.checkFile(info); err != nil {
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
			err = fmt.Errorf("%w: %s could not be read (%v): move it aside and restore a backup", ErrDamaged, b.path, r)
		}
	}()
	db, err := bolt.Open(b.path, 0o600, &bolt.Options{ReadOnly: !write, Timeout: b.timeout})
	if err != nil {
		return b.explainOpen(err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close database %s: %w", b.path, cerr)
		}
	}()
	return fn(db)
}

func (b *boltBackend) explainOpen(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w: %s is held open by another program (waited %s): close it (an old scriptrun, or a bbolt tool) and retry", ErrLocked, b.path, b.timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return fmt.Errorf("%w: %s is not a readable scriptrun database (%v): move it aside and restore a backup, or remove it to start empty", ErrDamaged, b.path, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("open database %s: permission denied: check the owner and mode of the file and its folder", b.path)
	}
	return fmt.Errorf("open database %s: %w", b.path, err)
}

// check verifies the file's internal consistency (bbolt's page checks).
func (b *boltBackend) check() error {
	return b.viewBolt(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %s: %w", ErrDamaged, b.path, errors.Join(errs...))
		}
		return nil
	})
}

// boltTx is a kvTx on a bbolt transaction: a key's space is a bucket.
type boltTx struct{ tx *bolt.Tx }

// bucket returns the bucket of space, creating it in a writable
// transaction when create is set; nil when it does not exist.
func (t boltTx) bucket(space string, create bool) (*bolt.Bucket, error) {
	if b := t.tx.Bucket([]byte(space)); b != nil || !create {
		return b, nil
	}
	if !t.tx.Writable() {
		return nil, fmt.Errorf("write %s: read-only transaction", space)
	}
	b, err := t.tx.CreateBucketIfNotExists([]byte(space))
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", space, err)
	}
	return b, nil
}

func (t boltTx) Get(k string) ([]byte, error) {
	space, name := splitKey(k)
	b, _ := t.bucket(space, false)
	if b == nil {
		return nil, nil
	}
	return b.Get([]byte(name)), nil
}

func (t boltTx) List(prefix string, fn func(rest string, v []byte) error) error {
	return t.each(prefix, "", func(rest, v []byte) error { return fn(string(rest), v) })
}

// ListFrom seeks the cursor to prefix+start.
func (t boltTx) ListFrom(prefix, start string, fn func(rest string, v []byte) error) error {
	return t.each(prefix, start, func(rest, v []byte) error { return fn(string(rest), v) })
}

// Keys walks the same cursor as List: bbolt's values cost nothing until
// read.
func (t boltTx) Keys(prefix string, fn func(rest string) error) error {
	return t.each(prefix, "", func(rest, _ []byte) error { return fn(string(rest)) })
}

// each calls fn for every record whose key starts with prefix and sorts at
// or after prefix+start, in key order, with the rest of the key after
// prefix.
func (t boltTx) each(prefix, start string, fn func(rest, v []byte) error) error {
	space, sub := splitKey(prefix)
	b, _ := t.bucket(space, false)
	if b == nil {
		return nil
	}
	p := []byte(sub)
	c := b.Cursor()
	for k, v := c.Seek([]byte(sub + start)); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if v == nil && b.Bucket(k) != nil {
			continue // a nested bucket: none is ever made, so not a record
		}
		if err := fn(k[len(p):], v); err != nil {
			return err
		}
	}
	return nil
}

// GetMany is a Get per key: bbolt reads from memory.
func (t boltTx) GetMany(keys []string, fn func(key string, v []byte) error) error {
	for _, k := range keys {
		v, err := t.Get(k)
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (t boltTx) Put(k string, v []byte) error {
	space, name := splitKey(k)
	b, err := t.bucket(space, true)
	if err != nil {
		return err
	}
	return b.Put([]byte(name), v)
}

func (t boltTx) Delete(k string) error {
	space, name := splitKey(k)
	b, _ := t.bucket(space, false)
	if b == nil {
		return nil
	}
	return b.Delete([]byte(name))
}

func (t boltTx) NextSequence(space string) (uint64, error) {
	b, err := t.bucket(space, true)
	if err != nil {
		return 0, err
	}
	return b.NextSequence()
}

// DeletePrefix deletes the keys under prefix one by one with a cursor:
// bbolt has no limit on a transaction's writes.
func (t boltTx) DeletePrefix(prefix string) error {
	space, sub := splitKey(prefix)
	b, _ := t.bucket(space, false)
	if b == nil {
		return nil
	}
	p := []byte(sub)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Seek(p) {
		if v == nil && b.Bucket(k) != nil {
			return fmt.Errorf("delete %s: %q is a nested bucket, not a record", prefix, k)
		}
		if err := c.Delete(); err != nil {
			return fmt.Errorf("delete %s: %w", prefix, err)
		}
	}
	return nil
}
