package etcdkv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestPrimitives runs every primitive against one cluster: an embedded
// single member, or the external one named by $SCRIPTRUN_ETCD_ENDPOINTS
// (Debian's etcd 3.4, for compatibility).
func TestPrimitives(t *testing.T) {
	c := etcdtest.New(t)
	if c.External() {
		t.Logf("running against the external cluster %v", c.Endpoints())
	} else {
		t.Logf("embedded etcd; set %s=host:port to run against another server", etcdtest.EnvEndpoints)
	}
	t.Run("KV", func(t *testing.T) { testKV(t, c.Open(t, etcdkv.Config{})) })
	t.Run("List", func(t *testing.T) { testList(t, c.Open(t, etcdkv.Config{})) })
	t.Run("Commit", func(t *testing.T) { testCommit(t, c.Open(t, etcdkv.Config{})) })
	t.Run("CreateRace", func(t *testing.T) { testCreateRace(t, c.Open(t, etcdkv.Config{})) })
	t.Run("SizeGuard", func(t *testing.T) { testSizeGuard(t, c) })
	t.Run("Lock", func(t *testing.T) { t.Parallel(); testLock(t, c) })
	t.Run("LockLost", func(t *testing.T) { t.Parallel(); testLockLost(t, c) })
	t.Run("TTL", func(t *testing.T) { t.Parallel(); testTTL(t, c.Open(t, etcdkv.Config{})) })
	t.Run("Take", func(t *testing.T) { testTake(t, c.Open(t, etcdkv.Config{})) })
	t.Run("Watch", func(t *testing.T) { testWatch(t, c) })
	t.Run("Txn", func(t *testing.T) { testTxn(t, c) })
	t.Run("TryLock", func(t *testing.T) { testTryLock(t, c) })
	t.Run("Prefixes", func(t *testing.T) { testPrefixes(t, c) })
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testKV(t *testing.T, cli *etcdkv.Client) {
	ctx := ctxT(t)
	if _, err := cli.Get(ctx, "tokens/a"); !errors.Is(err, etcdkv.ErrNotFound) {
		t.Fatalf("Get of a missing key: err = %v, want ErrNotFound", err)
	}
	rev1, err := cli.Put(ctx, "tokens/a", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := cli.Get(ctx, "tokens/a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != "tokens/a" || string(got.Value) != "v1" || got.ModRevision != rev1 || got.CreateRevision != rev1 {
		t.Fatalf("Get after Put = %+v, want key tokens/a, v1, revisions %d", got, rev1)
	}
	rev2, err := cli.Put(ctx, "tokens/a", []byte("v2"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = cli.Get(ctx, "tokens/a")
	if rev2 <= rev1 || got.ModRevision != rev2 || got.CreateRevision != rev1 {
		t.Fatalf("after a second Put: %+v, want ModRevision %d > %d and CreateRevision %d", got, rev2, rev1, rev1)
	}
	if err := cli.Delete(ctx, "tokens/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "tokens/a"); !errors.Is(err, etcdkv.ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if err := cli.Delete(ctx, "tokens/a"); err != nil {
		t.Fatalf("Delete of a missing key: %v, want nil", err)
	}
}

func testList(t *testing.T, cli *etcdkv.Client) {
	ctx := ctxT(t)
	// More than one page (256), and a neighbour that must not be listed.
	const n = 300
	for i := range n {
		if _, err := cli.Put(ctx, fmt.Sprintf("jobs/j%03d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Put(ctx, "jobsx", []byte("not under jobs/")); err != nil {
		t.Fatal(err)
	}
	kvs, rev, err := cli.List(ctx, "jobs/")
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != n {
		t.Fatalf("List(jobs/) gave %d keys, want %d", len(kvs), n)
	}
	for i, kv := range kvs {
		if want := fmt.Sprintf("jobs/j%03d", i); kv.Key != want || kv.Value[0] != byte(i) || kv.ModRevision > rev {
			t.Fatalf("List[%d] = %s %v rev %d, want %s, value %d, rev ≤ %d", i, kv.Key, kv.Value, kv.ModRevision, want, i, rev)
		}
	}
	if kvs, _, err := cli.List(ctx, "nothing/"); err != nil || len(kvs) != 0 {
		t.Fatalf("List of an empty prefix = %v, %v; want none", kvs, err)
	}
}

func testCommit(t *testing.T, cli *etcdkv.Client) {
	ctx := ctxT(t)
	rev, err := cli.Put(ctx, "tokens/t", []byte("set 1"))
	if err != nil {
		t.Fatal(err)
	}
	listRev := rev
	tests := []struct {
		name    string
		conds   []etcdkv.Cond
		ops     []etcdkv.Op
		wantErr error
	}{
		{"stale revision", []etcdkv.Cond{etcdkv.Unchanged("tokens/t", rev-1)}, []etcdkv.Op{etcdkv.OpPut("tokens/t", []byte("lost"))}, etcdkv.ErrConflict},
		{"absent expected, present", []etcdkv.Cond{etcdkv.Unchanged("tokens/t", 0)}, []etcdkv.Op{etcdkv.OpPut("tokens/t", []byte("lost"))}, etcdkv.ErrConflict},
		{"unchanged: fence holds", []etcdkv.Cond{etcdkv.Unchanged("tokens/t", rev)}, []etcdkv.Op{etcdkv.OpPut("tokens/t", []byte("set 2")), etcdkv.OpPut("tokens/other", []byte("x"))}, nil},
		{"same revision again: fence fails", []etcdkv.Cond{etcdkv.Unchanged("tokens/t", rev)}, []etcdkv.Op{etcdkv.OpPut("tokens/t", []byte("replay"))}, etcdkv.ErrConflict},
		{"something new under tokens/", []etcdkv.Cond{etcdkv.NothingNewUnder("tokens/", listRev)}, []etcdkv.Op{etcdkv.OpPut("tokens/u", []byte("lost"))}, etcdkv.ErrConflict},
		{"nothing new under jobs/", []etcdkv.Cond{etcdkv.NothingNewUnder("jobs/", listRev)}, []etcdkv.Op{etcdkv.OpDeletePrefix("tokens/")}, nil},
	}
	for _, tt := range tests {
		before, _, _ := cli.List(ctx, "tokens/")
		_, err := cli.Commit(ctx, tt.conds, tt.ops)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: Commit err = %v, want %v", tt.name, err, tt.wantErr)
		}
		if err != nil {
			after, _, _ := cli.List(ctx, "tokens/")
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Fatalf("%s: a failed Commit wrote: before %v, after %v", tt.name, before, after)
			}
		}
	}
	if kvs, _, _ := cli.List(ctx, "tokens/"); len(kvs) != 0 {
		t.Fatalf("OpDeletePrefix left %v", kvs)
	}
	// PutIfUnchanged: the token fence.
	r1, err := cli.PutIfUnchanged(ctx, "tokens/f", []byte("a"), 0)
	if err != nil {
		t.Fatalf("PutIfUnchanged of a new key with 0: %v", err)
	}
	if _, err := cli.PutIfUnchanged(ctx, "tokens/f", []byte("b"), r1); err != nil {
		t.Fatalf("PutIfUnchanged with the revision read: %v", err)
	}
	if _, err := cli.PutIfUnchanged(ctx, "tokens/f", []byte("c"), r1); !errors.Is(err, etcdkv.ErrConflict) {
		t.Fatalf("PutIfUnchanged with a stale revision: err = %v, want ErrConflict", err)
	}
	if got, _ := cli.Get(ctx, "tokens/f"); string(got.Value) != "b" {
		t.Fatalf("value after a refused CAS = %q, want b", got.Value)
	}
}

// testCreateRace: of many creators of one (job, scheduled time) key, one
// wins, whatever order they run in.
func testCreateRace(t *testing.T, cli *etcdkv.Client) {
	ctx := ctxT(t)
	for tick := range 5 {
		key := fmt.Sprintf("claims/job-a/%d", tick)
		var won, lost atomic.Int32
		var wg sync.WaitGroup
		for node := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := cli.Create(ctx, key, fmt.Appendf(nil, "node %d", node))
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, etcdkv.ErrExists):
					lost.Add(1)
				default:
					t.Errorf("Create: %v", err)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 || lost.Load() != 7 {
			t.Fatalf("tick %d: %d creators won and %d got ErrExists, want 1 and 7", tick, won.Load(), lost.Load())
		}
	}
}

func testSizeGuard(t *testing.T, c *etcdtest.Cluster) {
	ctx := ctxT(t)
	cli := c.Open(t, etcdkv.Config{})
	tests := []struct {
		name    string
		size    int
		wantErr error
	}{
		{"1 MiB run output", 1 << 20, nil},
		{"at etcd's limit", etcdkv.DefaultMaxRequestBytes, etcdkv.ErrTooLarge},
		{"2 MiB", 2 << 20, etcdkv.ErrTooLarge},
	}
	for _, tt := range tests {
		_, err := cli.Put(ctx, "runs/big", bytes.Repeat([]byte{'x'}, tt.size))
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: Put of %d bytes: err = %v, want %v", tt.name, tt.size, err, tt.wantErr)
		}
		if _, err := cli.PutTTL(ctx, "sessions/big", bytes.Repeat([]byte{'x'}, tt.size), time.Minute, false); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: PutTTL of %d bytes: err = %v, want %v", tt.name, tt.size, err, tt.wantErr)
		}
	}
	// Several values that fit alone but not together in one transaction.
	half := bytes.Repeat([]byte{'y'}, 900<<10)
	if _, err := cli.Commit(ctx, nil, []etcdkv.Op{etcdkv.OpPut("runs/1", half), etcdkv.OpPut("runs/2", half)}); !errors.Is(err, etcdkv.ErrTooLarge) {
		t.Fatalf("Commit of two 900 KiB values: err = %v, want ErrTooLarge", err)
	}
	if _, err := cli.Get(ctx, "runs/1"); !errors.Is(err, etcdkv.ErrNotFound) {
		t.Fatalf("a refused Commit wrote runs/1: %v", err)
	}
	// A client told the cluster takes more than it does: the server's own
	// refusal is reported as ErrTooLarge too, not as a generic failure.
	// etcd's check (--max-request-bytes) and gRPC's (512 KiB above it).
	loose := c.Open(t, etcdkv.Config{Target: cli.Target(), MaxRequestBytes: 8 << 20})
	for _, size := range []int{1700 << 10, 2 << 20, 3 << 20} {
		_, err := loose.Put(ctx, "runs/big", bytes.Repeat([]byte{'x'}, size))
		if !errors.Is(err, etcdkv.ErrTooLarge) {
			t.Fatalf("server-side refusal of %d bytes: err = %v, want ErrTooLarge", size, err)
		}
		t.Logf("server refusal of %d bytes reads: %v", size, err)
	}
}

// testLock: mutual exclusion across clients (as across processes), and a
// waiter that follows a release without polling.
func testLock(t *testing.T, c *etcdtest.Cluster) {
	ctx := ctxT(t)
	a := c.Open(t, etcdkv.Config{})
	b := c.Open(t, etcdkv.Config{Target: a.Target()})
	clients := []*etcdkv.Client{a, b, c.Open(t, etcdkv.Config{Target: a.Target()})}

	// A read-modify-write of one key under the lock by 3 clients × 4
	// goroutines loses no update only if the lock excludes.
	if _, err := a.Put(ctx, "counter", []byte("0")); err != nil {
		t.Fatal(err)
	}
	var inside atomic.Int32
	var wg sync.WaitGroup
	const per = 5
	began := time.Now()
	for _, cli := range clients {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					l, err := cli.Lock(ctx, "token-x")
					if err != nil {
						t.Error(err)
						return
					}
					if n := inside.Add(1); n != 1 {
						t.Errorf("%d holders at once", n)
					}
					kv, err := cli.Get(ctx, "counter")
					if err == nil {
						var n int
						fmt.Sscan(string(kv.Value), &n)
						_, err = cli.PutIfUnchanged(ctx, "counter", fmt.Append(nil, n+1), kv.ModRevision)
					}
					if err != nil {
						t.Error(err)
					}
					inside.Add(-1)
					if err := l.Unlock(ctx); err != nil {
						t.Error(err)
					}
				}
			}()
		}
	}
	wg.Wait()
	kv, err := a.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(len(clients) * 4 * per); string(kv.Value) != want {
		t.Fatalf("counter = %s after %s locked increments", kv.Value, want)
	}
	t.Logf("%d locked increments from %d clients in %v", len(clients)*4*per, len(clients), time.Since(began).Round(time.Millisecond))

	// A waiter blocks while the lock is held and follows its release.
	la, err := a.Lock(ctx, "token-y")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		lb, err := b.Lock(ctx, "token-y")
		if err == nil {
			err = lb.Unlock(ctx)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second Lock returned (%v) while the first was held", err)
	case <-time.After(200 * time.Millisecond): // the absence of an event: bounded wait
	}
	released := time.Now()
	if err := la.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("waiter took the lock %v after the release", time.Since(released))
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not get the lock within 5 s of its release")
	}
	// A waiter whose context ends gives up and leaves nothing behind.
	la, _ = a.Lock(ctx, "token-z")
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, "token-z"); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, etcdkv.ErrUnavailable) {
		t.Fatalf("Lock with an expiring context: err = %v, want a deadline error", err)
	}
	la.Unlock(ctx)
	lz, err := a.Lock(ctx, "token-z")
	if err != nil {
		t.Fatalf("lock after a waiter gave up: %v", err)
	}
	lz.Unlock(ctx)

	// A holder that dies (its lease ends) hands the lock to a waiter.
	dying := c.Open(t, etcdkv.Config{Target: a.Target()})
	if _, err := dying.Lock(ctx, "token-d"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		l, err := b.Lock(ctx, "token-d")
		if err == nil {
			err = l.Unlock(ctx)
		}
		waited <- err
	}()
	died := time.Now()
	if _, err := etcdtest.Raw(t, dying).Revoke(ctx, clientLease(dying)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("waiter took a dead holder's lock %v after its lease ended", time.Since(died).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not get a dead holder's lock within 5 s")
	}
}

// testLockLost: the lease of a holder expires while it works; Lost says so,
// another client takes the lock, and the revision fence (not the lock)
// decides which write lands.
func testLockLost(t *testing.T, c *etcdtest.Cluster) {
	ctx := ctxT(t)
	// A short lease: the client learns of its end at its next keep-alive,
	// a third of the TTL later.
	a := c.Open(t, etcdkv.Config{LockTTL: 3 * time.Second})
	b := c.Open(t, etcdkv.Config{Target: a.Target()})
	if _, err := a.Put(ctx, "tokens/t", []byte("refresh token 1")); err != nil {
		t.Fatal(err)
	}
	la, err := a.Lock(ctx, "token-t")
	if err != nil {
		t.Fatal(err)
	}
	read, err := a.Get(ctx, "tokens/t")
	if err != nil {
		t.Fatal(err)
	}
	// The "token endpoint call" outlives the lease: revoke it as its
	// expiry would end it.
	if _, err := etcdtest.Raw(t, a).Revoke(ctx, clientLease(a)); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	select {
	case <-la.Lost():
		t.Logf("Lost closed %v after the lease ended", time.Since(revoked))
	case <-time.After(10 * time.Second):
		t.Fatal("Lost not closed within 10 s of the lease's end")
	}
	lb, err := b.Lock(ctx, "token-t")
	if err != nil {
		t.Fatalf("another client could not take a lost lock: %v", err)
	}
	defer lb.Unlock(ctx)
	// Held: a write that must not happen after a loss.
	if _, err := a.Commit(ctx, []etcdkv.Cond{la.Held()}, []etcdkv.Op{etcdkv.OpPut("audit", []byte("a"))}); !errors.Is(err, etcdkv.ErrConflict) {
		t.Fatalf("Commit under a lost lock's Held: err = %v, want ErrConflict", err)
	}
	if _, err := b.Commit(ctx, []etcdkv.Cond{lb.Held()}, []etcdkv.Op{etcdkv.OpPut("audit", []byte("b"))}); err != nil {
		t.Fatalf("Commit under a held lock's Held: %v", err)
	}
	// No one wrote the token since a read it: a's answer still lands.
	if _, err := a.PutIfUnchanged(ctx, "tokens/t", []byte("refresh token 2"), read.ModRevision); err != nil {
		t.Fatalf("fenced write after the lease expired, record unchanged: %v (the rotated token would be lost)", err)
	}
	// b read before a's write and now writes: the fence refuses it.
	if _, err := b.PutIfUnchanged(ctx, "tokens/t", []byte("replayed"), read.ModRevision); !errors.Is(err, etcdkv.ErrConflict) {
		t.Fatalf("second write on the same read: err = %v, want ErrConflict", err)
	}
	// a can lock again: its client takes a new lease.
	if err := la.Unlock(ctx); err != nil {
		t.Fatalf("Unlock of a lost lock: %v", err)
	}
}

func clientLease(c *etcdkv.Client) clientv3.LeaseID { return clientv3.LeaseID(c.LockLease()) }

func testTTL(t *testing.T, cli *etcdkv.Client) {
	ctx := ctxT(t)
	events := cli.Watch(ctx, "sessions/", 0)
	if _, err := cli.PutTTL(ctx, "sessions/s1", []byte("signed in"), time.Second, true); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.PutTTL(ctx, "sessions/s1", []byte("again"), time.Second, true); !errors.Is(err, etcdkv.ErrExists) {
		t.Fatalf("create-only PutTTL of an existing key: err = %v, want ErrExists", err)
	}
	kv, err := cli.Get(ctx, "sessions/s1")
	if err != nil || kv.Lease == 0 {
		t.Fatalf("Get of a fresh TTL key: %+v, %v; want it, with a lease", kv, err)
	}
	start := time.Now()
	deadline := time.After(10 * time.Second) // etcd raises a 1 s lease to its minimum
	for {
		select {
		case e := <-events:
			if e.Err != nil {
				t.Fatal(e.Err)
			}
			if e.Deleted && e.Key == "sessions/s1" {
				t.Logf("1 s key expired after %v", time.Since(start))
				if _, err := cli.Get(ctx, "sessions/s1"); !errors.Is(err, etcdkv.ErrNotFound) {
					t.Fatalf("expired key still readable: %v", err)
				}
				return
			}
		case <-deadline:
			t.Fatal("TTL key not deleted within 10 s")
		}
	}
}

func testTake(t *testing.T, cli *etcdkv.Client) {
	ctx := ctxT(t)
	if _, err := cli.PutTTL(ctx, "oauth-state/abc", []byte("verifier"), time.Minute, true); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kv, err := cli.Take(ctx, "oauth-state/abc")
			switch {
			case err == nil && string(kv.Value) == "verifier":
				got.Add(1)
			case errors.Is(err, etcdkv.ErrNotFound):
			default:
				t.Errorf("Take: %+v, %v", kv, err)
			}
		}()
	}
	wg.Wait()
	if got.Load() != 1 {
		t.Fatalf("%d of 6 Takes got the state, want 1", got.Load())
	}
}

func testWatch(t *testing.T, c *etcdtest.Cluster) {
	ctx := ctxT(t)
	a := c.Open(t, etcdkv.Config{})
	b := c.Open(t, etcdkv.Config{Target: a.Target()})
	first, err := a.Put(ctx, "jobs/before", []byte("0"))
	if err != nil {
		t.Fatal(err)
	}
	events := a.Watch(ctx, "jobs/", 0)
	// The watch is registered asynchronously: the event for a write made
	// right after Watch returns is still delivered (revision order), but
	// write through b to show another node's change arriving.
	type step struct {
		write func() (int64, error)
		key   string
		del   bool
	}
	steps := []step{
		{func() (int64, error) { return b.Put(ctx, "jobs/a", []byte("1")) }, "jobs/a", false},
		{func() (int64, error) { return b.Put(ctx, "jobs/a", []byte("2")) }, "jobs/a", false},
		{func() (int64, error) { return b.Put(ctx, "other/x", []byte("not watched")) }, "", false},
		{func() (int64, error) { return 0, b.Delete(ctx, "jobs/a") }, "jobs/a", true},
	}
	for i, s := range steps {
		sent := time.Now()
		if _, err := s.write(); err != nil {
			t.Fatal(err)
		}
		if s.key == "" {
			continue
		}
		select {
		case e := <-events:
			if e.Err != nil || e.Key != s.key || e.Deleted != s.del {
				t.Fatalf("step %d: event %+v, want key %s deleted=%v", i, e, s.key, s.del)
			}
			if d := time.Since(sent); d > time.Second {
				t.Fatalf("step %d: event after %v, want within 1 s", i, d)
			}
		case <-time.After(time.Second):
			t.Fatalf("step %d: no event within 1 s", i)
		}
	}
	// Watching from a revision replays what came after it.
	replay := a.Watch(ctx, "jobs/", first-1)
	select {
	case e := <-replay:
		if e.Key != "jobs/before" || e.ModRevision != first {
			t.Fatalf("replay from %d: first event %+v, want jobs/before at %d", first-1, e, first)
		}
	case <-time.After(time.Second):
		t.Fatal("no replayed event within 1 s")
	}
}

// testPrefixes: two installations on one cluster do not see each other.
func testPrefixes(t *testing.T, c *etcdtest.Cluster) {
	ctx := ctxT(t)
	a := c.Open(t, etcdkv.Config{})
	b := c.Open(t, etcdkv.Config{})
	if _, err := a.Put(ctx, "tokens/t", []byte("a's")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "tokens/t"); !errors.Is(err, etcdkv.ErrNotFound) {
		t.Fatalf("b (prefix %s) sees a's key (prefix %s): %v", b.Target().Prefix, a.Target().Prefix, err)
	}
	if kvs, _, _ := b.List(ctx, ""); len(kvs) != 0 {
		t.Fatalf("b lists %v under its prefix", kvs)
	}
}
