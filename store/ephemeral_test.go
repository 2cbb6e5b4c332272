package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// testClock is a settable clock for expiry.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ephemeralStores opens n DB handles on one fresh store of each backend,
// all on clock, and runs test with them.
func forEachEphemeralStore(t *testing.T, n int, test func(t *testing.T, dbs []*DB, clock *testClock)) {
	t.Run("bolt", func(t *testing.T) {
		clock := &testClock{t: time.Now()}
		path := filepath.Join(t.TempDir(), "scriptrun.db")
		var dbs []*DB
		for range n {
			db, err := Open(path, testKey(3), Options{Now: clock.now})
			if err != nil {
				t.Fatal(err)
			}
			dbs = append(dbs, db)
		}
		test(t, dbs, clock)
	})
	t.Run("etcd", func(t *testing.T) {
		clock := &testClock{t: time.Now()}
		url := "etcd://" + strings.Join(etcdtest.New(t).Endpoints(), ",") + "/eph-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "/"
		var dbs []*DB
		for range n {
			db, err := OpenURL(context.Background(), url, testKey(3), Options{Now: clock.now, Create: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			dbs = append(dbs, db)
		}
		test(t, dbs, clock)
	})
}

func TestEphemeralPutGetDelete(t *testing.T) {
	forEachEphemeralStore(t, 2, func(t *testing.T, dbs []*DB, clock *testClock) {
		a, b := dbs[0].Ephemeral(), dbs[1].Ephemeral()
		must(t, a.PutTTL("session/id-1", []byte("value 1"), time.Hour, true))
		for i, e := range []*Ephemeral{a, b} {
			if v, err := e.Get("session/id-1"); err != nil || string(v) != "value 1" {
				t.Errorf("handle %d: Get = %q, %v; want the value put", i, v, err)
			}
		}
		if _, err := a.Get("session/id-2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get of a key never put: %v, want ErrNotFound", err)
		}
		if err := b.PutTTL("session/id-1", []byte("other"), time.Hour, true); !errors.Is(err, ErrExists) {
			t.Errorf("create-only Put over a live value: %v, want ErrExists", err)
		}
		must(t, b.PutTTL("session/id-1", []byte("value 2"), time.Hour, false))
		if v, _ := a.Get("session/id-1"); string(v) != "value 2" {
			t.Errorf("after a replacing Put: %q, want value 2", v)
		}
		must(t, b.Delete("session/id-1"))
		must(t, b.Delete("session/id-1")) // missing: no error
		if _, err := a.Get("session/id-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Delete on another handle: %v, want ErrNotFound", err)
		}
	})
}

func TestEphemeralExpires(t *testing.T) {
	forEachEphemeralStore(t, 1, func(t *testing.T, dbs []*DB, clock *testClock) {
		e := dbs[0].Ephemeral()
		must(t, e.PutTTL("oauth/state-1", []byte("v"), time.Minute, true))
		must(t, e.PutTTL("oauth/state-2", []byte("v"), time.Minute, true))
		clock.add(time.Minute - time.Nanosecond)
		if _, err := e.Get("oauth/state-1"); err != nil {
			t.Fatalf("Get just before expiry: %v", err)
		}
		clock.add(time.Nanosecond)
		if _, err := e.Get("oauth/state-1"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("Get at expiry: %v, want ErrNotFound saying expired", err)
		}
		if _, err := e.Take("oauth/state-2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Take at expiry: %v, want ErrNotFound", err)
		}
		if n, err := e.Count("oauth"); err != nil || n != 0 {
			t.Errorf("Count after expiry = %d, %v; want 0", n, err)
		}
		// An expired value does not block a create-only write.
		must(t, e.PutTTL("oauth/state-1", []byte("new"), time.Minute, true))
		if v, err := e.Get("oauth/state-1"); err != nil || string(v) != "new" {
			t.Errorf("Get of the re-created value = %q, %v", v, err)
		}
	})
}

// TestEphemeralTakeOnce: six takers on three DB handles race for each of
// twenty values; exactly one of them gets each.
func TestEphemeralTakeOnce(t *testing.T) {
	forEachEphemeralStore(t, 3, func(t *testing.T, dbs []*DB, _ *testClock) {
		handles := []*Ephemeral{dbs[0].Ephemeral(), dbs[1].Ephemeral(), dbs[2].Ephemeral()}
		for round := range 20 {
			k := fmt.Sprintf("oauth/state-%d", round)
			must(t, handles[0].PutTTL(k, []byte("verifier"), time.Minute, true))
			var wg sync.WaitGroup
			start := make(chan struct{})
			got := make(chan error, 6)
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					v, err := handles[i%3].Take(k)
					if err == nil && string(v) != "verifier" {
						err = fmt.Errorf("took %q", v)
					}
					got <- err
				}()
			}
			close(start)
			wg.Wait()
			close(got)
			won := 0
			for err := range got {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, ErrNotFound):
					t.Errorf("round %d: a taker failed: %v", round, err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d takers got the value, want exactly 1", round, won)
			}
		}
	})
}

// TestEphemeralStoresNoSecret: neither the name (a session id, an OAuth
// state) nor the value is in the store in the clear; a value moved to
// another key, or with its expiry changed, is refused.
func TestEphemeralStoresNoSecret(t *testing.T) {
	forEachEphemeralStore(t, 1, func(t *testing.T, dbs []*DB, clock *testClock) {
		db := dbs[0]
		e := db.Ephemeral()
		must(t, e.PutTTL("session/NAME-SECRET-1", []byte("VALUE-SECRET-1"), time.Hour, false))
		must(t, e.PutTTL("session/NAME-SECRET-2", []byte("VALUE-SECRET-2"), time.Hour, false))
		raw := map[string][]byte{}
		must(t, db.kv.view(func(tx kvTx) error {
			return tx.List(key(spaceEphemeral, ""), func(rest string, v []byte) error {
				raw[rest] = bytes.Clone(v)
				return nil
			})
		}))
		if len(raw) != 2 {
			t.Fatalf("%d ephemeral keys stored, want 2", len(raw))
		}
		var keys []string
		for k, v := range raw {
			keys = append(keys, k)
			if strings.Contains(k, "SECRET") || bytes.Contains(v, []byte("SECRET")) {
				t.Errorf("stored %q = %q shows a name or a value", k, v)
			}
			if !strings.HasPrefix(k, "session/") || len(k) != len("session/")+64 {
				t.Errorf("stored key %q, want session/ and a hex SHA-256", k)
			}
		}
		// Swap the two values: each now sits under the other's key.
		must(t, db.kv.update(func(tx kvTx) error {
			if err := tx.Put(key(spaceEphemeral, keys[0]), raw[keys[1]]); err != nil {
				return err
			}
			return tx.Put(key(spaceEphemeral, keys[1]), raw[keys[0]])
		}))
		for _, n := range []string{"session/NAME-SECRET-1", "session/NAME-SECRET-2"} {
			if _, err := e.Get(n); !errors.Is(err, ErrDamaged) || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("Get of a value moved to another key: %v, want ErrDamaged naming no secret", err)
			}
		}
		// Push an expiry a year ahead without the key.
		v := bytes.Clone(raw[keys[0]])
		v[0]++
		must(t, db.kv.update(func(tx kvTx) error { return tx.Put(key(spaceEphemeral, keys[0]), v) }))
		clock.add(2 * time.Hour)
		_, err1 := e.Get("session/NAME-SECRET-1")
		_, err2 := e.Get("session/NAME-SECRET-2")
		if !errors.Is(err1, ErrDamaged) && !errors.Is(err2, ErrDamaged) {
			t.Errorf("Get of a value whose expiry was changed: %v / %v, want ErrDamaged", err1, err2)
		}
	})
}

func TestEphemeralRefusals(t *testing.T) {
	db := openTestDB(t)
	e := db.Ephemeral()
	for _, tt := range []struct {
		key   string
		ttl   time.Duration
		value []byte
		want  string
	}{
		{"no-kind-SECRET", time.Minute, nil, "want KIND/NAME"},
		{"/SECRET", time.Minute, nil, "want KIND/NAME"},
		{"session/", time.Minute, nil, "want KIND/NAME"},
		{"Bad Kind/SECRET", time.Minute, nil, "want KIND/NAME"},
		{"session/SECRET", 0, nil, "time to live must be positive"},
		{"session/SECRET", time.Minute, make([]byte, maxEphemeralValue+1), "over the 65536 allowed"},
	} {
		err := e.PutTTL(tt.key, tt.value, tt.ttl, false)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("PutTTL(%q, ttl %s): %v, want an error saying %q and naming no secret", tt.key, tt.ttl, err, tt.want)
		}
	}
}

// TestEphemeralSweep: on bbolt, a write after sweepEvery removes the values
// that expired, so a file does not keep every session ever made.
func TestEphemeralSweep(t *testing.T) {
	clock := &testClock{t: time.Now()}
	db, err := Open(filepath.Join(t.TempDir(), "scriptrun.db"), testKey(3), Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	e := db.Ephemeral()
	must(t, e.PutTTL("signin/a", []byte("x"), time.Minute, false))
	must(t, e.PutTTL("session/b", []byte("x"), 3*sweepEvery, false))
	clock.add(sweepEvery)
	must(t, e.PutTTL("signin/c", []byte("x"), time.Minute, false))
	if n := len(listAll(t, db.kv, key(spaceEphemeral, ""))); n != 2 {
		t.Errorf("after the sweep %d values are stored, want 2 (the expired one gone)", n)
	}
}

// TestEphemeralLeases: on etcd, writes of one TTL share a lease, and the
// cluster deletes a value soon after it expires.
func TestEphemeralLeases(t *testing.T) {
	url := "etcd://" + strings.Join(etcdtest.New(t).Endpoints(), ",") + "/eph-leases/"
	db, err := OpenURL(context.Background(), url, testKey(3), Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := db.kv.(*etcdBackend).c
	e := db.Ephemeral()
	leaseOf := func(name string) int64 {
		k, _ := storedKey(name)
		kv, err := c.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		return kv.Lease
	}
	must(t, e.PutTTL("session/a", []byte("x"), 2*time.Hour+time.Second, false))
	must(t, e.PutTTL("session/b", []byte("x"), 2*time.Hour+5*time.Minute, false))
	if la, lb := leaseOf("session/a"), leaseOf("session/b"); la == 0 || la != lb {
		t.Errorf("two writes of one TTL bucket have leases %x and %x, want one shared lease", la, lb)
	}
	must(t, e.PutTTL("oauth/c", []byte("x"), time.Second, false))
	deadline := time.Now().Add(30 * time.Second)
	for {
		k, _ := storedKey("oauth/c")
		if _, err := c.Get(context.Background(), k); err != nil {
			break // gone (or unreadable: Get below says which)
		}
		if time.Now().After(deadline) {
			t.Fatal("a value with a 1 s TTL is still in etcd after 30 s")
		}
		time.Sleep(100 * time.Millisecond) // polling the cluster's lease expiry
	}
	if _, err := e.Get("oauth/c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after the lease expired: %v, want ErrNotFound", err)
	}
	if n, err := e.Count("session"); err != nil || n != 2 {
		t.Errorf("Count(session) = %d, %v; want 2", n, err)
	}
}

// BenchmarkEphemeralPut compares a shared lease per TTL bucket (what
// PutTTL does) with a lease per write (etcdkv.Client.PutTTL).
func BenchmarkEphemeralPut(b *testing.B) {
	url := "etcd://" + strings.Join(etcdtest.New(b).Endpoints(), ",") + "/eph-bench/"
	db, err := OpenURL(context.Background(), url, testKey(3), Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e := db.Ephemeral()
	c := db.kv.(*etcdBackend).c
	value := bytes.Repeat([]byte("v"), 300)
	// leases reports the leases the cluster holds, per write.
	leases := func(b *testing.B, before int) {
		resp, err := etcdtest.Raw(b, c).Leases(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(resp.Leases)-before)/float64(b.N), "leases/op")
	}
	count := func(b *testing.B) int {
		resp, err := etcdtest.Raw(b, c).Leases(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		return len(resp.Leases)
	}
	b.Run("shared-lease", func(b *testing.B) {
		before := count(b)
		for i := range b.N {
			if err := e.PutTTL(fmt.Sprintf("session/%d", i), value, 2*time.Hour, false); err != nil {
				b.Fatal(err)
			}
		}
		leases(b, before)
	})
	b.Run("lease-per-key", func(b *testing.B) {
		before := count(b)
		for i := range b.N {
			if _, err := c.PutTTL(context.Background(), fmt.Sprintf("ephemeral/bench/%d", i), value, 2*time.Hour, false); err != nil {
				b.Fatal(err)
			}
		}
		leases(b, before)
	})
}

// TestEphemeralReplace: Replace writes only over a live value, so an update
// never brings back a value deleted or expired meanwhile.
func TestEphemeralReplace(t *testing.T) {
	forEachEphemeralStore(t, 2, func(t *testing.T, dbs []*DB, clock *testClock) {
		a, b := dbs[0].Ephemeral(), dbs[1].Ephemeral()
		if err := a.Replace("session/x", []byte("v"), time.Hour); !errors.Is(err, ErrNotFound) {
			t.Errorf("Replace of a value never put: %v, want ErrNotFound", err)
		}
		must(t, a.PutTTL("session/x", []byte("v1"), time.Minute, true))
		must(t, b.Replace("session/x", []byte("v2"), time.Hour))
		clock.add(2 * time.Minute) // past the first TTL: Replace set a new one
		if v, err := a.Get("session/x"); err != nil || string(v) != "v2" {
			t.Errorf("after Replace: %q, %v; want v2 with the new TTL", v, err)
		}
		must(t, b.Delete("session/x"))
		if err := a.Replace("session/x", []byte("v3"), time.Hour); !errors.Is(err, ErrNotFound) {
			t.Errorf("Replace after a Delete on another handle: %v, want ErrNotFound", err)
		}
		if _, err := a.Get("session/x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a deleted value came back: %v", err)
		}
		must(t, a.PutTTL("session/y", []byte("v"), time.Minute, false))
		clock.add(time.Minute)
		if err := b.Replace("session/y", []byte("v"), time.Hour); !errors.Is(err, ErrNotFound) {
			t.Errorf("Replace of an expired value: %v, want ErrNotFound", err)
		}
	})
}
