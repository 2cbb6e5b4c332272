package etcdkv_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// testTxn: Update is serializable: a change by someone else to anything the
// function read (a key, an absent key, a listed prefix) between its read
// and its commit makes it run again, never commit on stale reads.
func testTxn(t *testing.T, c *etcdtest.Cluster) {
	ctx := ctxT(t)
	a := c.Open(t, etcdkv.Config{})
	b := c.Open(t, etcdkv.Config{Target: a.Target()})

	tests := []struct {
		name string
		// interfere writes through b during fn's first run, after fn's reads.
		interfere func() error
		// fn reads and returns what it will write to "out".
		fn   func(tx *etcdkv.Txn) (string, error)
		want string
		runs int
	}{
		{
			name:      "key read changed",
			interfere: func() error { _, err := b.Put(ctx, "k", []byte("2")); return err },
			fn: func(tx *etcdkv.Txn) (string, error) {
				kv, err := tx.Get("k")
				return string(kv.Value), err
			},
			want: "2", runs: 2,
		},
		{
			name:      "absent key created",
			interfere: func() error { _, err := b.Create(ctx, "claims/x", []byte("b")); return err },
			fn: func(tx *etcdkv.Txn) (string, error) {
				if _, err := tx.Get("claims/x"); errors.Is(err, etcdkv.ErrNotFound) {
					return "free", nil
				} else if err != nil {
					return "", err
				}
				return "taken", nil
			},
			want: "taken", runs: 2,
		},
		{
			name:      "key added under a listed prefix",
			interfere: func() error { _, err := b.Put(ctx, "jobs/new", []byte("x")); return err },
			fn: func(tx *etcdkv.Txn) (string, error) {
				kvs, err := tx.List("jobs/")
				return strconv.Itoa(len(kvs)), err
			},
			want: "2", runs: 2,
		},
		{
			name:      "write elsewhere does not conflict",
			interfere: func() error { _, err := b.Put(ctx, "unrelated", []byte("x")); return err },
			fn: func(tx *etcdkv.Txn) (string, error) {
				kv, err := tx.Get("k")
				return string(kv.Value), err
			},
			want: "2", runs: 1,
		},
	}
	if _, err := a.Put(ctx, "k", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(ctx, "jobs/old", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		got, runs, err := updateInterfered(ctx, a, tt.fn, tt.interfere)
		if err != nil {
			t.Fatalf("%s: Update: %v", tt.name, err)
		}
		if got != tt.want || runs != tt.runs {
			t.Fatalf("%s: out = %q after %d runs, want %q after %d", tt.name, got, runs, tt.want, tt.runs)
		}
	}

	// Own writes are visible; an error from fn writes nothing.
	boom := errors.New("boom")
	err := a.Update(ctx, func(tx *etcdkv.Txn) error {
		tx.Put("jobs/mine", []byte("m"))
		tx.Delete("jobs/old")
		kvs, err := tx.List("jobs/")
		if err != nil {
			return err
		}
		if got := fmt.Sprint(keys(kvs)); got != "[jobs/mine jobs/new]" {
			t.Errorf("List inside the transaction = %s, want its own writes applied", got)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	if _, err := a.Get(ctx, "jobs/mine"); !errors.Is(err, etcdkv.ErrNotFound) {
		t.Fatalf("aborted Update wrote jobs/mine: %v", err)
	}

	// No lost update: concurrent increments from two clients; each Update
	// that returns nil counted exactly once.
	if _, err := a.Put(ctx, "n", []byte("0")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ok, gaveUp := 0, 0
	var wg sync.WaitGroup
	for _, cli := range []*etcdkv.Client{a, b} {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 8 {
					err := cli.Update(ctx, func(tx *etcdkv.Txn) error {
						kv, err := tx.Get("n")
						if err != nil {
							return err
						}
						n, _ := strconv.Atoi(string(kv.Value))
						tx.Put("n", []byte(strconv.Itoa(n+1)))
						return nil
					})
					mu.Lock()
					switch {
					case err == nil:
						ok++
					case errors.Is(err, etcdkv.ErrConflict):
						gaveUp++
					default:
						t.Error(err)
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	kv, _ := a.Get(ctx, "n")
	if string(kv.Value) != strconv.Itoa(ok) {
		t.Fatalf("counter = %s, but %d Updates succeeded (%d gave up)", kv.Value, ok, gaveUp)
	}
	t.Logf("48 contended increments: %d committed, %d gave up after %d attempts", ok, gaveUp, etcdkv.MaxAttempts)
}

func keys(kvs []etcdkv.KV) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Key
	}
	return out
}

// testTryLock: TryLock fails at once while another process holds the lock.
func testTryLock(t *testing.T, c *etcdtest.Cluster) {
	ctx := ctxT(t)
	a := c.Open(t, etcdkv.Config{})
	b := c.Open(t, etcdkv.Config{Target: a.Target()})
	la, err := a.TryLock(ctx, "job-nightly")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cli  *etcdkv.Client
	}{{"other client", b}, {"same client", a}} {
		if _, err := tt.cli.TryLock(ctx, "job-nightly"); !errors.Is(err, etcdkv.ErrLocked) {
			t.Fatalf("TryLock by %s while held: err = %v, want ErrLocked", tt.name, err)
		}
	}
	if err := la.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	lb, err := b.TryLock(ctx, "job-nightly")
	if err != nil {
		t.Fatalf("TryLock after the release: %v", err)
	}
	lb.Unlock(ctx)
}

// updateInterfered runs an Update on c that reads with read, lets
// interfere write in its first run only, then writes what it read to
// "out". It returns what "out" holds afterwards and how many runs the
// Update took: a read that interfere changed must make it run again.
func updateInterfered(ctx context.Context, c *etcdkv.Client, read func(*etcdkv.Txn) (string, error), interfere func() error) (string, int, error) {
	runs := 0
	err := c.Update(ctx, func(tx *etcdkv.Txn) error {
		runs++
		v, err := read(tx)
		if err != nil {
			return err
		}
		if runs == 1 {
			if err := interfere(); err != nil {
				return err
			}
		}
		tx.Put("out", []byte(v))
		return nil
	})
	if err != nil {
		return "", runs, err
	}
	got, err := c.Get(ctx, "out")
	return string(got.Value), runs, err
}
