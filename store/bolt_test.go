package store

import bolt "go.etcd.io/bbolt"

// bolt returns the bbolt transaction under tx, for tests that reach into
// the file as an attacker (or a damaged disk) would.
func (tx *Tx) bolt() *bolt.Tx { return tx.kv.(boltTx).tx }
