package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
)

// etcdBackend keeps the records in an etcd cluster under the client's
// prefix (ETCD-DESIGN.md): a key is the record layer's "space/name" as it
// is. Transactions are etcdkv's optimistic ones, so an update's function
// may run more than once (see backend.update).
//
// This is the skeleton of step 2 of the cut-over: the key-value operations
// and the named locks. Leases, claims, watches and the fenced token write
// come with steps 3 to 5.
type etcdBackend struct {
	c *etcdkv.Client
	// attemptTimeout bounds one run of a view or update (its reads and
	// its commit); attempts is how many runs one that the cluster did not
	// answer gets. Short attempts make a leader's failover cost about one
	// attempt rather than the server's own request timeout.
	attemptTimeout time.Duration
	attempts       int
	// lostAnswer, when set (tests), is told the outcome of every commit
	// and returns the one update sees: a test turns an applied commit
	// into an ErrUnavailable whose answer was lost.
	lostAnswer func(err error) error
}

var _ backend = (*etcdBackend)(nil)

// Defaults of etcdBackend's attempts.
const (
	etcdAttemptTimeout = 2 * time.Second
	etcdAttempts       = 3
)

func newEtcdBackend(c *etcdkv.Client) *etcdBackend {
	return &etcdBackend{c: c, attemptTimeout: etcdAttemptTimeout, attempts: etcdAttempts}
}

func (e *etcdBackend) describe() string { return e.c.Target().String() }

// view runs fn on a snapshot, again (up to attempts) when the cluster did
// not answer its first read. Only then: callers' View functions may append
// what they read to variables of their own (an export, a form), which a
// second run after a partial one would fill twice.
func (e *etcdBackend) view(fn func(kvTx) error) error {
	var err error
	for attempt := 1; attempt <= e.attempts; attempt++ {
		var read bool
		ctx, cancel := context.WithTimeout(context.Background(), e.attemptTimeout)
		err = e.c.View(ctx, func(t *etcdkv.Txn) error {
			err := fn(etcdTx{t: t, readOnly: true})
			read = t.Rev() != 0
			return err
		})
		cancel()
		if !errors.Is(err, ErrUnavailable) || read {
			return err
		}
	}
	return e.gaveUp(err)
}

// update runs fn and commits its writes (etcdkv.Client.Update), within
// attempts of attemptTimeout each. When the cluster does not answer:
//
//   - a read of fn failed: nothing was sent; fn runs again;
//   - the commit failed: it may or may not have been applied (a leader
//     lost mid-request). The store is read back: if it holds exactly what
//     the commit wrote, it was applied and update succeeds (so a Create*
//     does not find its own record and say ErrExists, and a run is not
//     added twice); otherwise fn runs again on what is stored now (a
//     fenced ReplaceToken then retries if the token is as it read it, or
//     fails with ErrConflict if another node wrote it).
func (e *etcdBackend) update(fn func(kvTx) error) error {
	var err error
	for attempt := 1; attempt <= e.attempts; attempt++ {
		var sent *etcdkv.Txn
		var fnErr error
		ctx, cancel := context.WithTimeout(context.Background(), e.attemptTimeout)
		err = e.c.Update(ctx, func(t *etcdkv.Txn) error {
			sent, fnErr = t, fn(etcdTx{t: t})
			return fnErr
		})
		cancel()
		if fnErr == nil && e.lostAnswer != nil {
			err = e.lostAnswer(err)
		}
		if !errors.Is(err, ErrUnavailable) {
			return err
		}
		if fnErr == nil && e.applied(sent) {
			return nil
		}
	}
	return e.gaveUp(err)
}

// applied reads back what an indeterminate commit wrote; a failed read
// counts as not applied (fn runs again and decides on what it reads).
func (e *etcdBackend) applied(sent *etcdkv.Txn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), e.attemptTimeout)
	defer cancel()
	ok, err := sent.Applied(ctx)
	return err == nil && ok
}

func (e *etcdBackend) gaveUp(err error) error {
	return fmt.Errorf("store %s: %d attempts of %s each: %w", e.describe(), e.attempts, e.attemptTimeout, err)
}

func (e *etcdBackend) lock(ctx context.Context, name string) (Lock, error) {
	l, err := e.c.Lock(ctx, name)
	if err != nil {
		return nil, err
	}
	return etcdLock{l}, nil
}

func (e *etcdBackend) tryLock(name string) (Lock, error) {
	l, err := e.c.TryLock(context.Background(), name)
	if errors.Is(err, etcdkv.ErrLocked) {
		return nil, fmt.Errorf("%w: %v", ErrBusy, err)
	}
	if err != nil {
		return nil, err
	}
	return etcdLock{l}, nil
}

func (e *etcdBackend) held(name string) bool {
	l, err := e.tryLock(name)
	if err != nil {
		return errors.Is(err, ErrBusy)
	}
	l.Unlock()
	return false
}

// etcdLock is a Lock held by the client's lease (etcdkv.Lock).
type etcdLock struct{ l *etcdkv.Lock }

// Unlock releases the lock. A failed unlock (the cluster unreachable)
// leaves the lock to its lease, which expires within the lock TTL: nothing
// more to do.
func (l etcdLock) Unlock() { _ = l.l.Unlock(context.Background()) }

func (l etcdLock) Lost() <-chan struct{} { return l.l.Lost() }

// etcdTx is a kvTx on an etcdkv transaction.
type etcdTx struct {
	t        *etcdkv.Txn
	readOnly bool
}

// spaceSeq holds the counters of NextSequence, one key per space (bbolt
// keeps them in the buckets themselves).
const spaceSeq = "seq"

func (t etcdTx) Get(k string) ([]byte, error) {
	kv, err := t.t.Get(k)
	if errors.Is(err, etcdkv.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if kv.Value == nil {
		return []byte{}, nil // present, empty
	}
	return kv.Value, nil
}

func (t etcdTx) List(prefix string, fn func(rest string, v []byte) error) error {
	return t.ListFrom(prefix, "", fn)
}

// ListFrom is a range from prefix+start to the prefix's end
// (etcdkv.Txn.ListFrom): the cluster sends nothing before start.
func (t etcdTx) ListFrom(prefix, start string, fn func(rest string, v []byte) error) error {
	kvs, err := t.t.ListFrom(prefix, start)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if err := fn(kv.Key[len(prefix):], kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// Keys is a keys-only range (etcdkv.Txn.Keys): the cluster sends no
// values.
func (t etcdTx) Keys(prefix string, fn func(rest string) error) error {
	kvs, err := t.t.Keys(prefix)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if err := fn(kv.Key[len(prefix):]); err != nil {
			return err
		}
	}
	return nil
}

// GetMany reads keys in one round trip per --max-txn-ops of them
// (etcdkv.Txn.GetMany).
func (t etcdTx) GetMany(keys []string, fn func(key string, v []byte) error) error {
	return t.t.GetMany(keys, func(kv etcdkv.KV) error {
		v := kv.Value
		if v == nil {
			v = []byte{} // present, empty (as Get)
		}
		return fn(kv.Key, v)
	})
}

func (t etcdTx) Put(k string, v []byte) error {
	if t.readOnly {
		return fmt.Errorf("write %s: read-only transaction", k)
	}
	t.t.Put(k, bytes.Clone(v)) // written at commit: the caller may reuse v
	return nil
}

func (t etcdTx) Delete(k string) error {
	if t.readOnly {
		return fmt.Errorf("delete %s: read-only transaction", k)
	}
	t.t.Delete(k)
	return nil
}

func (t etcdTx) NextSequence(space string) (uint64, error) {
	k := key(spaceSeq, space)
	v, err := t.Get(k)
	if err != nil {
		return 0, err
	}
	var n uint64
	if len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	return n, t.Put(k, u64(n))
}

// empty reports whether the prefix holds no store (no schema record).
func (e *etcdBackend) empty() (bool, error) {
	var v []byte
	err := e.view(func(tx kvTx) error {
		var err error
		v, err = tx.Get(key(spaceMeta, string(keySchema)))
		return err
	})
	return v == nil, err
}

func (e *etcdBackend) close() error { return e.c.Close() }

// DeletePrefix is one DeleteRange at commit (etcdkv.Txn.DeletePrefix).
func (t etcdTx) DeletePrefix(prefix string) error {
	if t.readOnly {
		return fmt.Errorf("delete %s…: read-only transaction", prefix)
	}
	t.t.DeletePrefix(prefix)
	return nil
}

// Revision is key's ModRevision as last read in this transaction.
func (t etcdTx) Revision(k string) int64 { return t.t.ModRevision(k) }
