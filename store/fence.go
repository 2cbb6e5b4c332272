package store

import (
	"fmt"

	"github.com/scriptrun/scriptrun/store/etcdkv"
)

// ErrConflict: a fenced write (Tx.ReplaceToken) found the record changed
// since the copy it was decided on was read; nothing was written. Re-read
// and decide again. On etcd, an Update that others keep invalidating also
// gives up with it.
var ErrConflict error = etcdkv.ErrConflict

// revisionTx is a kvTx whose backend keeps a revision per key (etcd's
// ModRevision), so records need not carry one.
type revisionTx interface {
	// Revision is the revision of key as last read in this transaction;
	// 0 when not read, absent, or written in this transaction.
	Revision(key string) int64
}

// revision is the revision of the record under k just read, whose stored
// counter (bbolt) is stored.
func (tx *Tx) revision(k string, stored int64) int64 {
	if r, ok := tx.kv.(revisionTx); ok {
		return r.Revision(k)
	}
	return stored
}

// nextRevision is the counter to store in a record of space being written:
// the next number of the space's sequence on bbolt, 0 (none stored) where
// the backend keeps revisions itself. A sequence rather than the record's
// own count plus one, so that a token deleted and created again never
// repeats a revision a refresh in flight may have read.
func (tx *Tx) nextRevision(space string) (int64, error) {
	if _, ok := tx.kv.(revisionTx); ok {
		return 0, nil
	}
	n, err := tx.kv.NextSequence(space)
	if err != nil {
		return 0, fmt.Errorf("number the write in %s: %w", space, err)
	}
	return int64(n), nil
}

// ReplaceToken stores t as PutToken does, but only if the stored token
// still has revision readRev, the Revision of the copy t was decided on
// (read before a token endpoint call, say); otherwise it writes nothing and
// returns an error wrapping ErrConflict. A token deleted meanwhile gives
// ErrNotFound.
//
// This is the fence of a refresh (ETCD-DESIGN.md §3): on etcd the lock
// around a refresh is a lease, which a stalled holder can lose while it
// still writes, so the write itself must check that no one else wrote
// first. On etcd the compare is made by the cluster in the commit; a
// conflict there re-runs the Update's function, whose ReplaceToken then
// sees the new revision and fails with ErrConflict, which ends the Update
// (it is never retried against the record another node wrote).
func (tx *Tx) ReplaceToken(t Token, readRev int64) error {
	cur, err := tx.Token(t.Name)
	if err != nil {
		return err
	}
	if cur.Revision != readRev {
		return fmt.Errorf("token %q %w (revision %d, read at %d): another process wrote it meanwhile: read it again", t.Name, ErrConflict, cur.Revision, readRev)
	}
	return tx.PutToken(t)
}
