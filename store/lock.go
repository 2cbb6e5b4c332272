package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/scriptrun/scriptrun/internal/lazy"
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

// tryLock takes the named lock on a descriptor of its file that this
// backend keeps open (keptLocks), so that a run lock costs two flock calls
// and an fstat rather than an open and a close of the file (the scheduler
// takes one per run).
func (b *boltBackend) tryLock(name string) (Lock, error) {
	l, err := b.kept.lock(name, b.lockPathOf)
	if err != nil {
		return nil, err
	}
	return fileLockHeld{func() { b.kept.unlock(l) }}, nil
}

// close closes the lock files kept open (DB.Close).
func (b *boltBackend) close() error {
	b.kept.close()
	return nil
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

// maxKeptLocks bounds the lock files a backend keeps open (a run lock per
// job: a home with more jobs than this opens the others again), and so
// does a quarter of the process's limit on open files (keptLimit): the
// descriptors must leave room for the job processes' pipes and the
// connections.
const maxKeptLocks = 1024

// keptLimit is how many lock files a backend keeps open, worked out on
// first use (a sync.OnceValue call here would be init work at every start).
var keptLimit = lazy.Value[int]{New: func() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 64
	}
	return int(min(rl.Cur/4, maxKeptLocks))
}}

// keptLocks are lock files kept open, by lock name. flock locks belong to
// the open file description, which every user of an entry in this process
// shares, so an entry is handed to one holder at a time (inUse): a second
// one in this process is busy, as one in another process is.
type keptLocks struct {
	mu    sync.Mutex // guards files and each entry's inUse
	files map[string]*keptLock
}

type keptLock struct {
	name  string
	f     *os.File // nil until the holder that created the entry opens it
	inUse bool     // held, or being taken: not to be handed out or closed
}

// lock takes the exclusive flock of name's kept descriptor, opening the
// file (path(name)) if need be. A holder in this process or another gives
// ErrBusy.
func (k *keptLocks) lock(name string, path func(string) string) (*keptLock, error) {
	for {
		l, err := k.take(name)
		if err != nil {
			return nil, err
		}
		if l.f == nil {
			if l.f, err = openLockFile(path(name)); err != nil {
				k.drop(l)
				return nil, err
			}
		}
		err = flockNB(l.f, syscall.LOCK_EX)
		if err == nil && !unlinked(l.f) {
			return l, nil
		}
		if err == nil {
			// The file was removed (its folder emptied) after it was
			// opened: a lock on it excludes no one who opens the path now.
			// Open the path again.
			k.drop(l)
			continue
		}
		k.put(l)
		if err == syscall.EWOULDBLOCK {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("lock %s: %w", path(name), err)
	}
}

// unlock releases a lock taken by lock. Should the unlock fail, the
// descriptor is closed, which releases it too.
func (k *keptLocks) unlock(l *keptLock) {
	if err := flockNB(l.f, syscall.LOCK_UN); err != nil {
		k.drop(l)
		return
	}
	k.put(l)
}

// take returns name's entry marked in use (a new one without a descriptor
// if it has none, closing a free entry when keptLimit are kept), or
// ErrBusy when it is in use.
func (k *keptLocks) take(name string) (*keptLock, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l := k.files[name]; l != nil {
		if l.inUse {
			return nil, ErrBusy
		}
		l.inUse = true
		return l, nil
	}
	if k.files == nil {
		k.files = map[string]*keptLock{}
	}
	if len(k.files) >= keptLimit.Get() {
		for n, other := range k.files {
			if !other.inUse {
				other.f.Close()
				delete(k.files, n)
				break
			}
		}
	}
	l := &keptLock{name: name, inUse: true}
	k.files[name] = l
	return l, nil
}

// put marks l free again.
func (k *keptLocks) put(l *keptLock) {
	k.mu.Lock()
	l.inUse = false
	k.mu.Unlock()
}

// drop forgets l and closes its descriptor (releasing its lock).
func (k *keptLocks) drop(l *keptLock) {
	k.mu.Lock()
	if k.files[l.name] == l {
		delete(k.files, l.name)
	}
	k.mu.Unlock()
	if l.f != nil {
		l.f.Close()
	}
}

// close closes the descriptors of the free entries (the DB is closed;
// a lock still held stays so until its holder unlocks it).
func (k *keptLocks) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for n, l := range k.files {
		if !l.inUse {
			l.f.Close()
			delete(k.files, n)
		}
	}
}

func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lock %s: %w (is the home's locks folder gone?)", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// flockNB applies flock operation how without blocking, again when a
// signal interrupts it.
func flockNB(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err != syscall.EINTR {
			return err
		}
	}
}

// unlinked reports whether f's file no longer has a name (fstat's link
// count is 0), or cannot be examined.
func unlinked(f *os.File) bool {
	var st syscall.Stat_t
	return syscall.Fstat(int(f.Fd()), &st) != nil || st.Nlink == 0
}
