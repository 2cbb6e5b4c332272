package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// fileLock is an flock(2) lock on a file. flock locks belong to an open file
// description, so two opens in one process exclude each other as two
// processes do.
type fileLock struct{ f *os.File }

// lockFile takes a shared or exclusive lock on path (created 0600 if
// missing), polling in steps that grow from 0.5 ms to 4 ms until ctx is
// done. Short steps hand a released lock on quickly (a refresh storm's
// waiters queue here); polling rather than a blocking flock means a waiter
// that gives up leaves nothing behind that could take the lock later.
func lockFile(ctx context.Context, path string, exclusive bool) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil && !exclusive {
		// A read-only home still allows reading: flock works on a read-only
		// descriptor of an existing lock file.
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	wait := 500 * time.Microsecond
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return &fileLock{f: f}, nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
		if wait < 4*time.Millisecond {
			wait *= 2
		}
	}
}

func (l *fileLock) unlock() {
	// Closing the descriptor releases the lock.
	l.f.Close()
}

// Lock is a held named lock (LockToken). It excludes every other goroutine
// and process using the store until Unlock, which must be called once.
//
// On a bbolt file the lock is an flock that dies with its process: it is
// never lost, and Lost returns nil (a channel that never fires). On etcd it
// is held by a lease kept alive in the background: a holder that stalls
// or is cut off past the lease's TTL loses it while it still runs, and Lost
// closes once the loss is known (see etcdkv.Lock). A write made under the
// lock must therefore not rely on it for correctness: fence it on what was
// read (Tx.ReplaceToken).
type Lock interface {
	// Unlock releases the lock. Unlocking a lost lock does nothing.
	Unlock()
	// Lost is closed once the lock may be held by someone else (etcd
	// lease gone); nil when that cannot happen.
	Lost() <-chan struct{}
}

// LockToken takes the named token's refresh lock, which excludes every other
// goroutine and process using this store until the returned Lock's Unlock
// is called (or, on etcd, until it is Lost). It waits until ctx is done.
func (db *DB) LockToken(ctx context.Context, name string) (Lock, error) {
	if err := ValidateName("token", name); err != nil {
		return nil, err
	}
	l, err := db.kv.lock(ctx, "token-"+name)
	if err != nil {
		return nil, fmt.Errorf("wait for token %q lock: %w", name, err)
	}
	return l, nil
}

// fileLockHeld is a Lock on a bbolt home: released by unlock, never lost.
type fileLockHeld struct{ unlock func() }

func (l fileLockHeld) Unlock()               { l.unlock() }
func (l fileLockHeld) Lost() <-chan struct{} { return nil }

// Locks of the bbolt backend are files in the home's locks folder, each
// behind an in-process queue (keyedmutex.Map) so that goroutines of one process
// wait in line before they poll the file lock.

func (b *boltBackend) lockPathOf(name string) string {
	return filepath.Join(b.lockDir, name+".lock")
}

func (b *boltBackend) lock(ctx context.Context, name string) (Lock, error) {
	release, err := b.locks.Lock(ctx, name)
	if err != nil {
		return nil, err
	}
	path := b.lockPathOf(name)
	l, err := lockFile(ctx, path, true)
	if err != nil {
		release()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return fileLockHeld{func() { l.unlock(); release() }}, nil
}

func (b *boltBackend) tryLock(name string) (Lock, error) {
	l, err := tryLock(b.lockPathOf(name), true)
	if err != nil {
		return nil, err
	}
	return fileLockHeld{l.unlock}, nil
}

func (b *boltBackend) held(name string) bool {
	l, err := tryLock(b.lockPathOf(name), false)
	if err != nil {
		return errors.Is(err, ErrBusy)
	}
	l.unlock()
	return false
}

// tryLock takes a file lock if it is free, else fails with ErrBusy.
func tryLock(path string, exclusive bool) (*fileLock, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // lockFile tries once before it looks at ctx
	l, err := lockFile(ctx, path, exclusive)
	if errors.Is(err, context.Canceled) {
		return nil, ErrBusy
	}
	if err != nil && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lock %s: %w (is the home's locks folder gone?)", path, err)
	}
	return l, err
}

// lockFileOnly takes the named file lock without the in-process queue,
// waiting until ctx is done.
func (b *boltBackend) lockFileOnly(ctx context.Context, name string) (func(), error) {
	path := b.lockPathOf(name)
	l, err := lockFile(ctx, path, true)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return l.unlock, nil
}
