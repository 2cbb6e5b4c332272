package store

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// openEtcdDB opens a store on a fresh prefix of c, with the test key.
func openEtcdDB(t *testing.T, c *etcdtest.Cluster, cfg etcdkv.Config) (*DB, *etcdkv.Client) {
	t.Helper()
	cli := c.Open(t, cfg)
	db, err := open(newEtcdBackend(cli), nil, testKey(7), Options{})
	must(t, err)
	return db, cli
}

// A token lock on etcd reports the end of its lease: Lost closes, and
// another holder may take the lock.
func TestEtcdTokenLockLost(t *testing.T) {
	c := etcdtest.New(t)
	db, cli := openEtcdDB(t, c, etcdkv.Config{LockTTL: 3 * time.Second})
	other, _ := openEtcdDB(t, c, etcdkv.Config{Target: cli.Target()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	l, err := db.LockToken(ctx, "mail")
	must(t, err)
	defer l.Unlock()
	if l.Lost() == nil {
		t.Fatal("an etcd lock has no Lost channel")
	}
	// The lease ends as its expiry would end it (a stalled holder).
	if _, err := cli.Raw().Revoke(ctx, clientv3.LeaseID(cli.LockLease())); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-ctx.Done():
		t.Fatal("Lost not closed after the lease was revoked")
	}
	l2, err := other.LockToken(ctx, "mail")
	if err != nil {
		t.Fatalf("another process could not take a lost lock: %v", err)
	}
	l2.Unlock()
}
