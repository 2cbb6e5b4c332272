package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdurl"
)

var (
	// ErrNoStore: an etcd prefix holds no scriptrun store and the open did
	// not ask to create one (Options.Create). A typo in the prefix must not
	// silently start an empty store.
	ErrNoStore = errors.New("no scriptrun store")
	// ErrUnavailable: the etcd cluster could not be reached or has no
	// quorum. A write that ended with it may or may not have been applied.
	ErrUnavailable error = etcdkv.ErrUnavailable
)

// IsURL reports whether store names an etcd cluster (etcd://…) rather than
// a bbolt file.
func IsURL(store string) bool {
	return len(store) >= len("etcd:") && strings.EqualFold(store[:len("etcd:")], "etcd:")
}

// OpenURL opens the store that store names: an etcd cluster for
// "etcd://host:port[,host:port…][/prefix]" (Options.Etcd carries TLS files,
// credentials and limits; its Target is taken from the URL), else the bbolt
// file at that path, created on first use as Open does.
//
// An etcd prefix with no store in it is refused with ErrNoStore unless
// opts.Create is set. The caller closes the DB (Close) when done.
func OpenURL(ctx context.Context, store string, key []byte, opts Options) (*DB, error) {
	if !IsURL(store) {
		return Open(store, key, opts)
	}
	target, err := etcdurl.Parse(store)
	if err != nil {
		return nil, err
	}
	cfg := opts.Etcd
	cfg.Target = target
	c, err := etcdkv.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", target, err)
	}
	kv := newEtcdBackend(c)
	if !opts.Create {
		empty, err := kv.empty()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("open store %s: %w", target, err)
		}
		if empty {
			c.Close()
			return nil, fmt.Errorf("%w at %s: check the prefix, or create one there with `scriptrun store migrate --to %s` (copies a home) or `scriptrun store init --store %s`", ErrNoStore, target, target, target)
		}
	}
	db, err := open(kv, nil, key, opts)
	if err != nil {
		c.Close()
		return nil, err
	}
	return db, nil
}

// Close releases the store's connection (etcd); a bbolt DB holds nothing
// between transactions but the job lock files it keeps open, which it
// closes. The DB must not be used afterwards.
func (db *DB) Close() error {
	if c, ok := db.kv.(interface{ close() error }); ok {
		return c.close()
	}
	return nil
}

// Clustered reports whether the store is shared by several hosts (etcd),
// where locks are leases and transactions are optimistic.
func (db *DB) Clustered() bool {
	_, ok := db.kv.(*etcdBackend)
	return ok
}
