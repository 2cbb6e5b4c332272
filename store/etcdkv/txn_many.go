package etcdkv

import (
	"errors"
	"fmt"
)

// GetMany reads keys as Get does, each at the snapshot, with this
// transaction's own writes applied and fenced by Update as Get's reads
// are, and calls fn for each that exists, in the order of keys. The keys
// not read before in the transaction are fetched together, in one etcd
// transaction of range reads per MaxTxnOps keys, rather than one round
// trip each. An error from fn ends the reads and is returned as is.
func (tx *Txn) GetMany(keys []string, fn func(KV) error) error {
	if err := tx.prefetch(keys); err != nil {
		return err
	}
	for _, k := range keys {
		kv, err := tx.Get(k) // served from what prefetch read, or own writes
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(kv); err != nil {
			return err
		}
	}
	return nil
}

// prefetch reads the keys that Get would fetch from the cluster (not
// written nor read before in this transaction) and keeps them as Get
// does.
func (tx *Txn) prefetch(keys []string) error {
	var fetch []string
	for _, k := range keys {
		if _, ok := tx.writes[k]; ok {
			continue
		}
		if _, ok := tx.got[k]; ok || tx.droppedKey(k) {
			continue
		}
		fetch = append(fetch, k)
	}
	for start := 0; start < len(fetch); start += tx.c.maxOps {
		if err := tx.fetch(fetch[start:min(start+tx.c.maxOps, len(fetch))]); err != nil {
			return err
		}
	}
	return nil
}

// fetch reads keys (at most MaxTxnOps) in one transaction at the
// snapshot, fixing it if this is the transaction's first read, and keeps
// each as Get does.
func (tx *Txn) fetch(keys []string) error {
	ctx, cancel := tx.c.ctx(tx.ctx)
	defer cancel()
	resp, err := tx.c.txn(ctx, tx.c.getsAt(keys, tx.rev))
	if err != nil {
		return fmt.Errorf("etcdkv: get %s: %w", describeKeys(keys), tx.c.explain(err))
	}
	if tx.rev == 0 {
		// The reads of one etcd transaction are at its revision.
		tx.rev = int64(resp.Header.Revision)
	}
	for i, k := range keys {
		kvs := resp.rangeAt(i)
		if len(kvs) == 0 {
			tx.reads[k] = 0
			tx.got[k] = nil
			continue
		}
		out := tx.c.kv(&kvs[0])
		tx.reads[k] = out.ModRevision
		tx.seen[k] = out.ModRevision
		tx.got[k] = &out
	}
	return nil
}
