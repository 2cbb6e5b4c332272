package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
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
	if _, err := etcdtest.Raw(t, cli).Revoke(ctx, clientv3.LeaseID(cli.LockLease())); err != nil {
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

// loseAnswers makes the next n commits of db's etcd backend that succeed
// end, to update, as if the leader had gone before answering: applied, but
// reported ErrUnavailable. then, if set, runs first (another node's write).
func loseAnswers(db *DB, n int, then func()) {
	e := db.kv.(*etcdBackend)
	e.lostAnswer = func(err error) error {
		if err != nil || n == 0 {
			return err
		}
		n--
		if then != nil {
			then()
		}
		return fmt.Errorf("%w: the cluster did not commit the request in time (simulated)", ErrUnavailable)
	}
}

// A write whose answer is lost after it was applied is read back, not run
// again: a create does not find its own record and say ErrExists, and a
// run is not added twice.
func TestEtcdIndeterminateWriteApplied(t *testing.T) {
	c := etcdtest.New(t)
	db, _ := openEtcdDB(t, c, etcdkv.Config{})
	must(t, db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("graph")) }))
	tests := []struct {
		name  string
		write func(tx *Tx) error
		check func(tx *Tx) error
	}{
		{"CreateProvider", func(tx *Tx) error { return tx.CreateProvider(testProvider("other")) },
			func(tx *Tx) error { _, err := tx.Provider("other"); return err }},
		{"CreateToken", func(tx *Tx) error { return tx.CreateToken(testToken("mail", "graph")) },
			func(tx *Tx) error { _, err := tx.Token("mail"); return err }},
		{"CreateJob", func(tx *Tx) error { return tx.CreateJob(testJob("sync")) },
			func(tx *Tx) error { _, err := tx.Job("sync"); return err }},
		{"AddRun", func(tx *Tx) error {
			_, err := tx.AddRun(Run{Job: "sync", Status: RunSucceeded, Trigger: TriggerManual}, []byte("out"))
			return err
		}, func(tx *Tx) error {
			runs, err := tx.Runs("sync", 0)
			if err == nil && len(runs) != 1 {
				err = fmt.Errorf("%d runs, want 1", len(runs))
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := 0
			loseAnswers(db, 1, nil)
			err := db.Update(func(tx *Tx) error { runs++; return tt.write(tx) })
			if err != nil || runs != 1 {
				t.Fatalf("write with its answer lost = %v after %d runs; want nil after 1 (read back as applied)", err, runs)
			}
			must(t, db.View(tt.check))
		})
	}
}

// A fenced token write whose answer is lost, and which another node then
// overwrote, is not applied as far as this writer can tell: its function
// runs again, and ReplaceToken fails with ErrConflict against the other
// node's record rather than writing over it.
func TestEtcdIndeterminateReplaceTokenConflict(t *testing.T) {
	c := etcdtest.New(t)
	db, cli := openEtcdDB(t, c, etcdkv.Config{})
	other, _ := openEtcdDB(t, c, etcdkv.Config{Target: cli.Target()})
	must(t, db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("graph")) }))
	must(t, db.Update(func(tx *Tx) error { return tx.CreateToken(testToken("mail", "graph")) }))
	read := readToken(t, db, "mail")

	loseAnswers(db, 1, func() {
		theirs := readToken(t, other, "mail")
		theirs.Secret.RefreshToken = "theirs"
		must(t, other.Update(func(tx *Tx) error { return tx.ReplaceToken(theirs, theirs.Revision) }))
	})
	mine := read
	mine.Secret.RefreshToken = "mine"
	err := db.Update(func(tx *Tx) error { return tx.ReplaceToken(mine, read.Revision) })
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("fenced write after a lost answer and another write = %v, want ErrConflict", err)
	}
	if got := readToken(t, db, "mail").Secret.RefreshToken; got != "theirs" {
		t.Errorf("stored refresh token %q, want the other node's", got)
	}

	// Lost, not overwritten: read back as applied.
	read = readToken(t, db, "mail")
	mine.Secret.RefreshToken = "mine again"
	loseAnswers(db, 1, nil)
	must(t, db.Update(func(tx *Tx) error { return tx.ReplaceToken(mine, read.Revision) }))
	if got := readToken(t, db, "mail").Secret.RefreshToken; got != "mine again" {
		t.Errorf("stored refresh token %q after a lost answer, want this writer's", got)
	}
}

// etcd caps the compares and the writes of one transaction: a write over
// the cap is refused before it is sent, naming the limit, and nothing of
// it is written.
func TestEtcdTooManyOps(t *testing.T) {
	c := etcdtest.New(t)
	db, _ := openEtcdDB(t, c, etcdkv.Config{MaxTxnOps: 16})
	err := db.Update(func(tx *Tx) error {
		for i := range 17 {
			if err := tx.kv.Put(key("s", fmt.Sprint(i)), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, etcdkv.ErrTooLarge) || !strings.Contains(err.Error(), "--max-txn-ops of 16") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("17 writes with a limit of 16: %v, want ErrTooLarge naming the limit", err)
	}
	var n int
	must(t, db.View(func(tx *Tx) error {
		return tx.kv.List("s/", func(string, []byte) error { n++; return nil })
	}))
	if n != 0 {
		t.Errorf("%d keys written by a refused transaction", n)
	}
}

// A record too large for the cluster is refused before it is sent, with
// an error naming the record and the limit; nothing is written.
func TestEtcdTooLarge(t *testing.T) {
	c := etcdtest.New(t)
	db, _ := openEtcdDB(t, c, etcdkv.Config{MaxRequestBytes: 64 << 10})
	must(t, db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("graph")) }))
	big := testToken("big", "graph")
	big.Secret.Extra = map[string]json.RawMessage{"blob": json.RawMessage(`"` + strings.Repeat("x", 80<<10) + `"`)}
	err := db.Update(func(tx *Tx) error { return tx.CreateToken(big) })
	if !errors.Is(err, etcdkv.ErrTooLarge) || !strings.Contains(err.Error(), "tokens/big") || !strings.Contains(err.Error(), "limit of 65536 bytes") {
		t.Fatalf("a token over the request limit: %v, want ErrTooLarge naming tokens/big and the limit", err)
	}
	if err := db.View(func(tx *Tx) error { _, err := tx.Token("big"); return err }); !errors.Is(err, ErrNotFound) {
		t.Errorf("read of the refused token: %v, want ErrNotFound", err)
	}
}

// A cluster that nothing answers for is an error naming where it looked and
// what to check, within the dial timeout (not after the store's attempts).
func TestOpenURLUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = OpenURL(context.Background(), "etcd://"+addr+"/team/", testKey(7), Options{Etcd: etcdkv.Config{DialTimeout: time.Second}})
	took := time.Since(start)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "is etcd running there") {
		t.Fatalf("open of a closed port: %v, want ErrUnavailable naming %s and what to check", err, addr)
	}
	// Generous: it tells "within the dial timeout" from a hang or the
	// store's own attempts, not one millisecond from another.
	if took > 10*time.Second {
		t.Errorf("open of a closed port failed after %v with a 1 s dial timeout", took)
	}
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
}

// On 3 members the leader going away mid-command costs an attempt, not the
// command: every write lands exactly once. With no quorum a write is a
// clear error naming the store, and a multi-record write is all or nothing.
func TestEtcdMemberGoingAway(t *testing.T) {
	if testing.Short() {
		t.Skip("3-member cluster: skipped with -short")
	}
	c := etcdtest.Start(t, etcdtest.Options{Members: 3})
	db, _ := openEtcdDB(t, c, etcdkv.Config{DialTimeout: 2 * time.Second})
	must(t, db.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("graph")) }))
	const n = 12
	for i := range n {
		if i == n/3 {
			c.Stop(c.Leader())
		}
		if err := db.Update(func(tx *Tx) error { return tx.CreateToken(testToken(fmt.Sprintf("t%02d", i), "graph")) }); err != nil {
			t.Fatalf("create token %d after the leader stopped: %v", i, err)
		}
	}
	if toks := listTokens(t, db); len(toks) != n {
		t.Fatalf("%d tokens after the failover, want %d", len(toks), n)
	}

	c.Stop(c.Leader()) // two of three gone: no quorum
	err := db.Update(func(tx *Tx) error {
		for _, name := range []string{"x1", "x2"} {
			if err := tx.CreateToken(testToken(name, "graph")); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "etcd://") || !strings.Contains(err.Error(), "attempts") {
		t.Fatalf("write without quorum: %v, want ErrUnavailable naming the store", err)
	}
	t.Logf("without quorum: %v", err)
}

// An etcd user without rights on the store's prefix is told so, naming the
// prefix and the fix, and is not mistaken for an empty prefix (ErrNoStore).
func TestOpenURLNoPermission(t *testing.T) {
	if testing.Short() {
		t.Skip("enables auth on a cluster of its own: skipped with -short")
	}
	c := etcdtest.Start(t, etcdtest.Options{})
	raw := etcdtest.Raw(t, c.Open(t, etcdkv.Config{}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	etcdtest.EnableAuth(t, raw, "root-pw", map[string]string{"bob": "bob-pw"})
	url := "etcd://" + strings.Join(c.Endpoints(), ",") + "/team-a/"
	// Generous: etcd checks the password with bcrypt, slow under -race.
	_, err := OpenURL(ctx, url, testKey(7), Options{Etcd: etcdkv.Config{Username: "bob", Password: "bob-pw", DialTimeout: 15 * time.Second}})
	if err == nil || errors.Is(err, ErrNoStore) || !strings.Contains(err.Error(), "may not use prefix /team-a/") || strings.Contains(err.Error(), "bob-pw") {
		t.Fatalf("open as a user without rights: %v, want an error naming the prefix and no password", err)
	}
	t.Logf("%v", err)
}
