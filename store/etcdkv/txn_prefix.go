package etcdkv

import (
	"fmt"
	"strings"
)

// DeletePrefix buffers the deletion of every key under prefix, applied at
// commit as one DeleteRange, whatever the number of keys: one operation of
// the cluster's --max-txn-ops (128) instead of one per key. Later reads in
// the transaction no longer see those keys. etcd refuses a transaction
// that also writes a key under a deleted prefix ("duplicate key"), so a
// Put under it in the same transaction makes the commit fail with an error
// saying so (nothing is written).
func (tx *Txn) DeletePrefix(prefix string) {
	if tx.readOnly {
		panic("etcdkv: write in View")
	}
	// Earlier writes under prefix are undone by the range: drop them.
	kept := tx.order[:0]
	for _, k := range tx.order {
		if strings.HasPrefix(k, prefix) {
			delete(tx.writes, k)
			continue
		}
		kept = append(kept, k)
	}
	tx.order = kept
	tx.dropped = append(tx.dropped, prefix)
}

// droppedKey reports whether key is under a prefix deleted in this
// transaction.
func (tx *Txn) droppedKey(key string) bool {
	for _, p := range tx.dropped {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// checkDropped refuses a put under a deleted prefix before etcd does, with
// the key named.
func (tx *Txn) checkDropped() error {
	for _, k := range tx.order {
		if w := tx.writes[k]; !w.del && tx.droppedKey(k) {
			return fmt.Errorf("etcdkv: write %s: the transaction also deletes a prefix holding it, which etcd refuses; nothing was written", keyText(k))
		}
	}
	return nil
}
