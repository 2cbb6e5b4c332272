package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// The store contract: what every backend must do, run against each of
// them, so that the token manager, cron and the console cannot tell which
// one they have. testBackends lists them; a new backend is a row there.

// testBackend opens a fresh, empty backend of one kind for a test, closed
// (and checked) when the test ends.
type testBackend struct {
	name string
	open func(t *testing.T) (backend, *boltBackend)
}

var testBackends = []testBackend{
	{name: "bolt", open: openTestBolt},
	{name: "etcd", open: openTestEtcd},
}

// openTestEtcd opens a backend on an embedded single-member etcd (or the
// external cluster of $SCRIPTRUN_ETCD_ENDPOINTS), under a prefix of its own.
func openTestEtcd(t *testing.T) (backend, *boltBackend) {
	t.Helper()
	return newEtcdBackend(etcdtest.New(t).Open(t, etcdkv.Config{})), nil
}

func openTestBolt(t *testing.T) (backend, *boltBackend) {
	t.Helper()
	b := newBoltBackend(filepath.Join(t.TempDir(), "scriptrun.db"), 2*time.Second)
	if err := os.MkdirAll(b.lockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b.exists() {
			if err := b.check(); err != nil {
				t.Errorf("bbolt check after test: %v", err)
			}
		}
	})
	return b, b
}

// forEachBackend runs test once per backend, as a subtest named after it.
func forEachBackend(t *testing.T, test func(t *testing.T, kv backend, file *boltBackend)) {
	for _, tb := range testBackends {
		t.Run(tb.name, func(t *testing.T) {
			kv, file := tb.open(t)
			test(t, kv, file)
		})
	}
}

func getString(t *testing.T, kv backend, k string) string {
	t.Helper()
	var v []byte
	must(t, kv.view(func(tx kvTx) (err error) {
		v, err = tx.Get(k)
		v = bytes.Clone(v)
		return err
	}))
	if v == nil {
		return "<absent>"
	}
	return string(v)
}

func listAll(t *testing.T, kv backend, prefix string) []string {
	t.Helper()
	var got []string
	must(t, kv.view(func(tx kvTx) error {
		return tx.List(prefix, func(rest string, v []byte) error {
			got = append(got, rest+"="+string(v))
			return nil
		})
	}))
	return got
}

func TestContractKV(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv backend, _ *boltBackend) {
		// Run ids are big-endian numbers: their bytes include '/' (0x2f)
		// and 0, which must survive as names.
		binName := string(u64(0x2f00_2f01))
		must(t, kv.update(func(tx kvTx) error {
			for _, p := range [][2]string{
				{"s/b", "2"}, {"s/a", "1"}, {"s/a/x", "nested name"}, {"s/" + binName, "bin"},
				{"t/a", "other space"}, {"idx/job\x00" + binName, "j"}, {"idx/job2\x00" + binName, "j2"},
			} {
				if err := tx.Put(p[0], []byte(p[1])); err != nil {
					return err
				}
			}
			// A write reads back within its own transaction.
			v, err := tx.Get("s/b")
			if err != nil || string(v) != "2" {
				t.Errorf("Get after Put in the same update = %q, %v; want \"2\"", v, err)
			}
			return nil
		}))

		for _, c := range []struct{ key, want string }{
			{"s/a", "1"}, {"s/a/x", "nested name"}, {"s/" + binName, "bin"}, {"t/a", "other space"},
			{"s/missing", "<absent>"}, {"nospace/a", "<absent>"},
		} {
			if got := getString(t, kv, c.key); got != c.want {
				t.Errorf("Get(%q) = %q, want %q", c.key, got, c.want)
			}
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"s/", []string{binName + "=bin", "a=1", "a/x=nested name", "b=2"}}, // binName starts with 0
			{"s/a", []string{"=1", "/x=nested name"}},
			{"idx/job\x00", []string{binName + "=j"}},
			{"t/", []string{"a=other space"}},
			{"nospace/", nil},
		} {
			if got := listAll(t, kv, c.prefix); !slices.Equal(got, c.want) {
				t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
			}
		}

		// A failed update writes nothing.
		boom := errors.New("boom")
		err := kv.update(func(tx kvTx) error {
			if err := tx.Put("s/a", []byte("changed")); err != nil {
				return err
			}
			if err := tx.Delete("s/b"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("update returning an error = %v, want that error", err)
		}
		if got := getString(t, kv, "s/a") + getString(t, kv, "s/b"); got != "12" {
			t.Errorf("after a failed update s/a, s/b = %q, want unchanged \"12\"", got)
		}

		// A view cannot write.
		if err := kv.view(func(tx kvTx) error { return tx.Put("s/a", []byte("x")) }); err == nil {
			t.Error("Put in a view succeeded")
		}

		// Delete, also of a key or space that is not there.
		must(t, kv.update(func(tx kvTx) error {
			for _, k := range []string{"s/a", "s/missing", "nospace/a"} {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			if v, err := tx.Get("s/a"); v != nil || err != nil {
				t.Errorf("Get after Delete in the same update = %q, %v; want absent", v, err)
			}
			return nil
		}))
		if got := listAll(t, kv, "s/"); !slices.Equal(got, []string{binName + "=bin", "a/x=nested name", "b=2"}) {
			t.Errorf("List after Delete = %q", got)
		}
	})
}

// TestContractKeysGetMany: Keys walks the names List walks, and GetMany
// reads the values Get reads, in the order asked, leaving absent keys out;
// both see the transaction's own writes.
func TestContractKeysGetMany(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv backend, _ *boltBackend) {
		binName := string(u64(0x2f00_2f01))
		must(t, kv.update(func(tx kvTx) error {
			for _, p := range [][2]string{{"s/b", "2"}, {"s/a", "1"}, {"s/a/x", "nested name"}, {"s/" + binName, "bin"}, {"s/e", ""}, {"t/a", "other"}} {
				if err := tx.Put(p[0], []byte(p[1])); err != nil {
					return err
				}
			}
			return nil
		}))
		keysOf := func(tx kvTx, prefix string) (got []string) {
			must(t, tx.Keys(prefix, func(rest string) error { got = append(got, rest); return nil }))
			return got
		}
		getMany := func(tx kvTx, keys ...string) (got []string) {
			must(t, tx.GetMany(keys, func(k string, v []byte) error {
				if v == nil {
					t.Errorf("GetMany: %s has a nil value, want empty", k)
				}
				got = append(got, k+"="+string(v))
				return nil
			}))
			return got
		}
		must(t, kv.view(func(tx kvTx) error {
			for _, prefix := range []string{"s/", "s/a", "t/", "nospace/"} {
				var want []string
				for _, kv := range listAll(t, kv, prefix) {
					want = append(want, kv[:strings.LastIndex(kv, "=")])
				}
				if got := keysOf(tx, prefix); !slices.Equal(got, want) {
					t.Errorf("Keys(%q) = %q, want List's %q", prefix, got, want)
				}
			}
			got := getMany(tx, "s/b", "s/missing", "s/"+binName, "t/a", "s/e", "nospace/x", "s/a")
			if want := []string{"s/b=2", "s/" + binName + "=bin", "t/a=other", "s/e=", "s/a=1"}; !slices.Equal(got, want) {
				t.Errorf("GetMany = %q, want %q", got, want)
			}
			return nil
		}))
		err := kv.update(func(tx kvTx) error {
			must(t, tx.Put("s/c", []byte("3")))
			must(t, tx.Delete("s/a"))
			if got, want := keysOf(tx, "s/"), []string{binName, "a/x", "b", "c", "e"}; !slices.Equal(got, want) {
				t.Errorf("Keys after own writes = %q, want %q", got, want)
			}
			if got, want := getMany(tx, "s/a", "s/c", "s/b"), []string{"s/c=3", "s/b=2"}; !slices.Equal(got, want) {
				t.Errorf("GetMany after own writes = %q, want %q", got, want)
			}
			return errors.New("abort")
		})
		if err == nil || err.Error() != "abort" {
			t.Errorf("update = %v, want abort", err)
		}
	})
}

// TestContractListFrom: ListFrom lists what List lists from a start key
// on, within the prefix (not past it, not the space's other keys), with
// the transaction's own writes.
func TestContractListFrom(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv backend, _ *boltBackend) {
		id := func(n uint64) string { return string(u64(n)) }
		must(t, kv.update(func(tx kvTx) error {
			for _, p := range [][2]string{
				{"idx/job\x00" + id(3), "3"}, {"idx/job\x00" + id(0x2f), "47"}, {"idx/job\x00" + id(0x100), "256"},
				{"idx/job2\x00" + id(1), "other job"}, {"idx/jo\x00" + id(9), "before"}, {"other/job\x00" + id(5), "other space"},
			} {
				if err := tx.Put(p[0], []byte(p[1])); err != nil {
					return err
				}
			}
			return nil
		}))
		listFrom := func(tx kvTx, prefix, start string) (got []string) {
			must(t, tx.ListFrom(prefix, start, func(rest string, v []byte) error {
				got = append(got, fmt.Sprintf("%x=%s", rest, v))
				return nil
			}))
			return got
		}
		p := "idx/job\x00"
		must(t, kv.view(func(tx kvTx) error {
			for _, c := range []struct {
				start string
				want  []string
			}{
				{"", []string{"0000000000000003=3", "000000000000002f=47", "0000000000000100=256"}},
				{id(3), []string{"0000000000000003=3", "000000000000002f=47", "0000000000000100=256"}},
				{id(4), []string{"000000000000002f=47", "0000000000000100=256"}},
				{id(0x101), nil},
			} {
				if got := listFrom(tx, p, c.start); !slices.Equal(got, c.want) {
					t.Errorf("ListFrom(%q, %x) = %q, want %q", p, c.start, got, c.want)
				}
			}
			return nil
		}))
		err := kv.update(func(tx kvTx) error {
			must(t, tx.Put(p+id(0x30), []byte("48")))
			must(t, tx.Put(p+id(1), []byte("1")))
			must(t, tx.Delete(p+id(0x100)))
			if got, want := listFrom(tx, p, id(4)), []string{"000000000000002f=47", "0000000000000030=48"}; !slices.Equal(got, want) {
				t.Errorf("ListFrom after own writes = %q, want %q", got, want)
			}
			return errors.New("abort")
		})
		if err == nil || err.Error() != "abort" {
			t.Errorf("update = %v, want abort", err)
		}
	})
}

func TestContractSequences(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv backend, _ *boltBackend) {
		next := func(space string) uint64 {
			t.Helper()
			var n uint64
			must(t, kv.update(func(tx kvTx) (err error) { n, err = tx.NextSequence(space); return err }))
			return n
		}
		for _, c := range []struct {
			space string
			want  uint64
		}{{"runs", 1}, {"runs", 2}, {"requests", 1}, {"runs", 3}} {
			if got := next(c.space); got != c.want {
				t.Errorf("NextSequence(%q) = %d, want %d", c.space, got, c.want)
			}
		}
		// A number taken by a failed update may be given again, or not;
		// the next one is never lower than one already committed.
		_ = kv.update(func(tx kvTx) error { _, _ = tx.NextSequence("runs"); return errors.New("abort") })
		if got := next("runs"); got < 4 {
			t.Errorf("NextSequence after an aborted one = %d, want >= 4", got)
		}
	})
}

func TestContractLocks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv backend, _ *boltBackend) {
		held, err := kv.lock(context.Background(), "token-mail")
		must(t, err)
		select {
		case <-held.Lost():
			t.Error("Lost fired on a lock just taken")
		default:
		}
		if !kv.held("token-mail") {
			t.Error("held = false while locked")
		}
		if _, err := kv.tryLock("token-mail"); !errors.Is(err, ErrBusy) {
			t.Errorf("tryLock while locked = %v, want ErrBusy", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := kv.lock(ctx, "token-mail"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second lock while locked = %v, want a deadline error", err)
		}
		other, err := kv.tryLock("token-other")
		must(t, err)
		other.Unlock()
		held.Unlock()
		if kv.held("token-mail") {
			t.Error("held = true after unlock")
		}
		again, err := kv.tryLock("token-mail")
		must(t, err)
		again.Unlock()
	})
}

// TestContractStore runs the record layer over each backend: what the
// token manager, cron and the console do, and the key check.
func TestContractStore(t *testing.T) {
	cheapArgon(t)
	forEachBackend(t, func(t *testing.T, kv backend, file *boltBackend) {
		db, err := open(kv, file, testKey(7), Options{LockTimeout: 2 * time.Second})
		must(t, err)
		seedAll(t, db)

		must(t, db.View(func(tx *Tx) error {
			tok, p, err := tx.TokenWithProvider("mail")
			if err != nil || p == nil || p.Name != "graph" || tok.Secret.RefreshToken != testToken("mail", "graph").Secret.RefreshToken {
				t.Errorf("TokenWithProvider(mail) = %+v, %v, %v", tok.Name, p, err)
			}
			toks, err := tx.Tokens()
			if err != nil || len(toks) != 3 {
				t.Errorf("Tokens = %d tokens, %v; want 3", len(toks), err)
			}
			return nil
		}))
		if err := db.Update(func(tx *Tx) error { return tx.DeleteProvider("graph", false) }); !errors.Is(err, ErrInUse) {
			t.Errorf("DeleteProvider of a provider in use = %v, want ErrInUse", err)
		}

		// Runs: ids increase, history is trimmed to the job's KeepRuns,
		// newest first; DeleteJob takes the history with it.
		short := testJob("short")
		short.History = 3
		must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(short) }))
		var ids []uint64
		for range short.History + 2 {
			r := addRun(t, db, Run{Job: "short", Status: RunSucceeded, Trigger: TriggerManual}, []byte("out"))
			ids = append(ids, r.ID)
		}
		if !slices.IsSorted(ids) || ids[0] == 0 {
			t.Errorf("run ids %v, want increasing from 1", ids)
		}
		var runs []Run
		must(t, db.View(func(tx *Tx) (err error) { runs, err = tx.Runs("short", 0); return err }))
		want := slices.Clone(ids[2:])
		slices.Reverse(want)
		if got := runIDs(runs); !slices.Equal(got, want) {
			t.Errorf("Runs(short) = %v, want %v", got, want)
		}
		must(t, db.Update(func(tx *Tx) error { return tx.DeleteJob("short") }))
		must(t, db.View(func(tx *Tx) (err error) { runs, err = tx.Runs("short", 0); return err }))
		if len(runs) != 0 {
			t.Errorf("Runs after DeleteJob = %v, want none", runIDs(runs))
		}
		if err := db.CheckRecords(); err != nil {
			t.Errorf("CheckRecords: %v", err)
		}

		// Another DB on the same store with the same key reads it; with
		// another key it is refused.
		db2, err := open(kv, file, testKey(7), Options{})
		must(t, err)
		must(t, db2.View(func(tx *Tx) error { _, err := tx.Token("mail"); return err }))
		if _, err := open(kv, file, testKey(8), Options{}); !errors.Is(err, ErrWrongKey) {
			t.Errorf("open with another key = %v, want ErrWrongKey", err)
		}
	})
}

// TestContractDeleteJobFullHistory deletes a job with a full default
// history in one update.
func TestContractDeleteJobFullHistory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv backend, file *boltBackend) {
		db, err := open(kv, file, testKey(7), Options{})
		must(t, err)
		must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("sync")) }))
		var last Run
		for range DefaultRunHistory {
			last = addRun(t, db, Run{Job: "sync", Status: RunSucceeded, Trigger: TriggerManual}, []byte("out"))
		}
		must(t, db.Update(func(tx *Tx) error { return tx.DeleteJob("sync") }))
		must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob("sync")) }))
		must(t, db.View(func(tx *Tx) error {
			if _, err := tx.Run(last.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("Run(%d) of the deleted history = %v, want ErrNotFound", last.ID, err)
			}
			if _, err := tx.RunOutput(last.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("RunOutput(%d) of the deleted history = %v, want ErrNotFound", last.ID, err)
			}
			runs, err := tx.Runs("sync", 0)
			if err != nil || len(runs) != 0 {
				t.Errorf("Runs of the re-created job = %v, %v; want none", runIDs(runs), err)
			}
			return nil
		}))
		var active []Run
		must(t, db.View(func(tx *Tx) (err error) { active, err = tx.ActiveRuns(); return err }))
		if len(active) != 0 {
			t.Errorf("ActiveRuns after DeleteJob = %v, want none", runIDs(active))
		}
	})
}

// TestContractLoweredHistory: after a job's history is cut from 100 to 2,
// each new run trims a bounded number of old ones (every transaction
// within etcd's 128 operations), until 2 are left.
func TestContractLoweredHistory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv backend, file *boltBackend) {
		db, err := open(kv, file, testKey(7), Options{})
		must(t, err)
		j := testJob("sync")
		must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(j) }))
		for range DefaultRunHistory {
			addRun(t, db, Run{Job: "sync", Status: RunSucceeded, Trigger: TriggerManual}, []byte("out"))
		}
		j.History = 2
		must(t, db.Update(func(tx *Tx) error { return tx.PutJob(j) }))
		count := func() int {
			var runs []Run
			must(t, db.View(func(tx *Tx) (err error) { runs, err = tx.Runs("sync", 0); return err }))
			return len(runs)
		}
		prev := count()
		for i := 0; prev > 2; i++ {
			if i > DefaultRunHistory/maxTrim+2 {
				t.Fatalf("history still %d runs after %d more, want 2", prev, i)
			}
			addRun(t, db, Run{Job: "sync", Status: RunSucceeded, Trigger: TriggerManual}, []byte("out"))
			n := count()
			if n >= prev && prev > 2 {
				t.Fatalf("history went from %d to %d runs with one more run", prev, n)
			}
			prev = n
		}
	})
}

// TestContractDeleteJobKeepsOthers: deleting job "a" by prefix leaves the
// runs of job "ab", whose name starts the same.
func TestContractDeleteJobKeepsOthers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, kv backend, file *boltBackend) {
		db, err := open(kv, file, testKey(7), Options{})
		must(t, err)
		for _, name := range []string{"a", "ab"} {
			must(t, db.Update(func(tx *Tx) error { return tx.CreateJob(testJob(name)) }))
			addRun(t, db, Run{Job: name, Status: RunSucceeded, Trigger: TriggerManual}, []byte("out of "+name))
		}
		kept := addRun(t, db, Run{Job: "ab", Status: RunRunning, Trigger: TriggerManual}, nil)
		must(t, db.Update(func(tx *Tx) error { return tx.DeleteJob("a") }))
		must(t, db.View(func(tx *Tx) error {
			runs, err := tx.Runs("ab", 0)
			if err != nil || len(runs) != 2 {
				t.Errorf("Runs(ab) after deleting a = %v, %v; want 2", runIDs(runs), err)
				return nil
			}
			out, err := tx.RunOutput(runs[1].ID)
			if err != nil || string(out) != "out of ab" {
				t.Errorf("output of ab's run = %q, %v", out, err)
			}
			active, err := tx.ActiveRuns()
			if err != nil || len(active) != 1 || active[0].ID != kept.ID {
				t.Errorf("ActiveRuns = %v, %v; want ab's running run %d", runIDs(active), err, kept.ID)
			}
			return nil
		}))
	})
}
