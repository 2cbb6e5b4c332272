package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

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
}

var _ backend = (*etcdBackend)(nil)

func newEtcdBackend(c *etcdkv.Client) *etcdBackend { return &etcdBackend{c: c} }

func (e *etcdBackend) describe() string { return e.c.Target().String() }

func (e *etcdBackend) view(fn func(kvTx) error) error {
	return e.c.View(context.Background(), func(t *etcdkv.Txn) error {
		return fn(etcdTx{t: t, readOnly: true})
	})
}

func (e *etcdBackend) update(fn func(kvTx) error) error {
	return e.c.Update(context.Background(), func(t *etcdkv.Txn) error {
		return fn(etcdTx{t: t})
	})
}

func (e *etcdBackend) lock(ctx context.Context, name string) (func(), error) {
	l, err := e.c.Lock(ctx, name)
	if err != nil {
		return nil, err
	}
	return func() {
		// A failed unlock (the cluster unreachable) leaves the lock to
		// its lease, which expires within the lock TTL; nothing to do.
		_ = l.Unlock(context.Background())
	}, nil
}

func (e *etcdBackend) tryLock(name string) (func(), error) {
	l, err := e.c.TryLock(context.Background(), name)
	if errors.Is(err, etcdkv.ErrLocked) {
		return nil, fmt.Errorf("%w: %v", ErrBusy, err)
	}
	if err != nil {
		return nil, err
	}
	return func() { _ = l.Unlock(context.Background()) }, nil
}

func (e *etcdBackend) held(name string) bool {
	unlock, err := e.tryLock(name)
	if err != nil {
		return errors.Is(err, ErrBusy)
	}
	unlock()
	return false
}

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
	kvs, err := t.t.List(prefix)
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
