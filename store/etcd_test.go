package store

import (
	"context"
	"errors"
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

// On etcd, Update runs its function again when its commit's compare fails.
// ReplaceToken must then fail with ErrConflict on the record the other
// node wrote, not succeed against it: the fence is the revision read
// before the function, not the one the re-run reads.
func TestEtcdReplaceTokenNotRetriedPastAnotherWrite(t *testing.T) {
	c := etcdtest.New(t)
	db, cli := openEtcdDB(t, c, etcdkv.Config{})
	other, _ := openEtcdDB(t, c, etcdkv.Config{Target: cli.Target()})
	must(t, db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("graph")) }))
	must(t, db.Update(func(tx *Tx) error { return tx.CreateToken(testToken("mail", "graph")) }))
	read := readToken(t, db, "mail")

	runs := 0
	mine := read
	mine.Secret.RefreshToken = "mine"
	err := db.Update(func(tx *Tx) error {
		runs++
		if err := tx.ReplaceToken(mine, read.Revision); err != nil {
			return err
		}
		if runs == 1 {
			// Another node rotates the token between this function's
			// read and its commit.
			theirs := read
			theirs.Secret.RefreshToken = "theirs"
			must(t, other.Update(func(tx *Tx) error { return tx.ReplaceToken(theirs, read.Revision) }))
		}
		return nil
	})
	if !errors.Is(err, ErrConflict) || runs != 2 {
		t.Fatalf("Update = %v after %d runs, want ErrConflict from the second run", err, runs)
	}
	if got := readToken(t, db, "mail").Secret.RefreshToken; got != "theirs" {
		t.Errorf("stored refresh token %q, want the other node's", got)
	}
}
