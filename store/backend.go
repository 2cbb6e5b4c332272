package store

import (
	"context"
	"strings"
)

// backend is where records live: a bbolt file today (bolt.go), an etcd
// cluster next (ETCD-DESIGN.md). It knows keys and bytes, nothing of
// records, sealing or MACs; the record layer (tx.go, job.go, run.go,
// admin.go, record.go) is written once over it.
type backend interface {
	// view runs fn on one consistent snapshot.
	view(fn func(kvTx) error) error
	// update runs fn atomically, committed durably when fn returns nil and
	// discarded otherwise. fn may run more than once on an optimistic
	// backend (etcd): it must only write through the kvTx and set
	// variables it owns.
	update(fn func(kvTx) error) error
	// describe names the store in messages: the file's path, or the
	// cluster's URL.
	describe() string

	// lock takes the named lock, which excludes every other goroutine and
	// process using the store until its Unlock (or, on etcd, until it is
	// Lost), waiting until ctx is done (the per-token refresh lock).
	lock(ctx context.Context, name string) (Lock, error)
	// tryLock takes the named lock if it is free, else fails with an error
	// wrapping ErrBusy (the per-job run lock).
	tryLock(name string) (Lock, error)
	// held reports whether another holder has the named lock, without
	// keeping it (SchedulerRunning).
	held(name string) bool
}

// kvTx is one transaction on a backend. Keys are "space/name" strings made
// by the record layer (key); the space is the kind of value (providers,
// tokens, cronruns, …), the name any bytes. Values are opaque here.
type kvTx interface {
	// Get returns the value under key, nil when there is none. The slice
	// is valid only inside the transaction.
	Get(key string) ([]byte, error)
	// List calls fn for every key starting with prefix, in key order,
	// with the rest of the key after prefix; prefix includes the space.
	// fn's slices, like Get's, are valid only inside the transaction.
	List(prefix string, fn func(rest string, v []byte) error) error
	// ListFrom is List of the keys under prefix that sort at or after
	// prefix+start, read from there on: a job's runs after the last one
	// seen, without the older ones.
	ListFrom(prefix, start string, fn func(rest string, v []byte) error) error
	// Keys is List without the values: on etcd a keys-only range, so a
	// page of a long list reads every key but only its own values
	// (GetMany).
	Keys(prefix string, fn func(rest string) error) error
	// GetMany calls fn with the value of each of keys that exists, in the
	// order of keys, as Get reads them: on etcd in one round trip per
	// batch rather than one per key. fn's slices are valid only inside
	// the transaction.
	GetMany(keys []string, fn func(key string, v []byte) error) error
	// Put stores v under key (in a read-only transaction, an error).
	Put(key string, v []byte) error
	// Delete removes key; a missing key is no error.
	Delete(key string) error
	// DeletePrefix removes every key starting with prefix (which includes
	// the space) in one operation however many there are: a job's run
	// history goes in one etcd DeleteRange, within its 128 operations per
	// transaction. A key under prefix must not be written again in the
	// same transaction (etcd refuses it).
	DeletePrefix(prefix string) error
	// NextSequence returns the next number of space's counter, starting
	// at 1 (run and run request ids).
	NextSequence(space string) (uint64, error)
}

// Spaces of keys: the first part of every key. On bbolt each is a bucket
// of the same name, so files written before the backend existed read
// unchanged.
const (
	spaceMeta         = "meta"
	spaceProviders    = "providers"
	spaceTokens       = "tokens"
	spaceAdmin        = "admin"
	spaceCron         = "cron"
	spaceCronJobs     = "cronjobs"
	spaceCronState    = "cronstate"
	spaceCronRuns     = "cronruns"
	spaceCronJobRuns  = "cronjobruns"
	spaceCronOutput   = "cronoutput"
	spaceCronActive   = "cronactive"
	spaceCronRequests = "cronrequests"
)

// key is the backend key of name in space.
func key(space, name string) string { return space + "/" + name }

// splitKey splits a backend key into its space and name.
func splitKey(k string) (space, name string) {
	space, name, _ = strings.Cut(k, "/")
	return space, name
}
