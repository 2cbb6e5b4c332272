package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// newEtcdStore creates a store under a fresh prefix of c, closed when the test
// ends.
func newEtcdStore(t *testing.T, c *etcdtest.Cluster, key []byte) *DB {
	t.Helper()
	db, err := OpenURL(context.Background(), c.Target(t).String(), key, Options{Create: true, Etcd: etcdkv.Config{DialTimeout: 2 * time.Second}})
	if err != nil {
		t.Fatalf("open etcd store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// migrateFixture is what fillStore writes, to compare a copy with.
type migrateFixture struct {
	providers []Provider
	tokens    []Token
	jobs      []Job
	runs      map[string][]Run
	outputs   map[uint64][]byte
	requests  []RunRequest
	admin     AdminPassword
}

// fillStore writes providers, tokens (OAuth with refresh tokens, static),
// a job with runs and their output, a run request and the admin password.
func fillStore(t *testing.T, db *DB, runs int) {
	t.Helper()
	hash, err := HashAdminPassword("correct horse battery")
	must(t, err)
	must(t, db.Update(func(tx *Tx) error {
		for _, p := range []string{"graph", "sandbox"} {
			if err := tx.CreateProvider(testProvider(p)); err != nil {
				return err
			}
		}
		for _, tk := range []string{"mail", "files"} {
			if err := tx.CreateToken(testToken(tk, "graph")); err != nil {
				return err
			}
		}
		if err := tx.CreateToken(Token{Name: "static", Type: TypeBearer, Active: true, BaseURL: "https://api.example.com",
			Secret: Secret{AccessToken: "static-bearer-SECRET-42"}}); err != nil {
			return err
		}
		if err := tx.CreateJob(Job{Name: "nightly", Schedule: "@daily", Script: "console.log('n')\n", ScriptName: "n.js", Timeout: time.Minute, Enabled: true, History: 1000}); err != nil {
			return err
		}
		if _, err := tx.RequestRun("nightly"); err != nil {
			return err
		}
		return tx.SetAdminPassword(hash)
	}))
	for i := range runs {
		must(t, db.Update(func(tx *Tx) error {
			_, err := tx.AddRun(Run{Job: "nightly", Trigger: TriggerManual, Status: RunSucceeded}, fmt.Appendf(nil, "output of run %d\n", i))
			return err
		}))
	}
}

// readFixture reads every record of db through the record layer.
func readFixture(t *testing.T, db *DB) migrateFixture {
	t.Helper()
	f := migrateFixture{runs: map[string][]Run{}, outputs: map[uint64][]byte{}}
	must(t, db.View(func(tx *Tx) (err error) {
		if f.providers, err = tx.Providers(); err != nil {
			return err
		}
		if f.tokens, err = tx.Tokens(); err != nil {
			return err
		}
		for i := range f.tokens {
			// The fence's revision is the store's own: a counter in the
			// record on bbolt, the key's ModRevision on etcd.
			f.tokens[i].Revision = 0
		}
		if f.jobs, err = tx.Jobs(); err != nil {
			return err
		}
		if f.requests, err = tx.RunRequests(); err != nil {
			return err
		}
		if f.admin, err = tx.AdminPassword(); err != nil {
			return err
		}
		for _, j := range f.jobs {
			if f.runs[j.Name], err = tx.Runs(j.Name, 0); err != nil {
				return err
			}
		}
		return nil
	}))
	// Each output in a transaction of its own, as migrate's verify reads
	// them in small ones: on etcd, hundreds of reads in one transaction can
	// outlast its attempt on a loaded machine.
	for _, runs := range f.runs {
		for _, r := range runs {
			must(t, db.View(func(tx *Tx) (err error) {
				f.outputs[r.ID], err = tx.RunOutput(r.ID)
				return err
			}))
		}
	}
	return f
}

func migrate(t *testing.T, from, to *DB, opts MigrateOptions) MigrateReport {
	t.Helper()
	rep, err := Migrate(context.Background(), from, to, opts)
	if err != nil {
		t.Fatalf("migrate %s → %s: %v", from.Path(), to.Path(), err)
	}
	return rep
}

// bbolt → etcd → bbolt: every record arrives as it was, sealed values
// unchanged, MACs valid, and ids go on where the source was.
func TestMigrateRoundTrip(t *testing.T) {
	c := etcdtest.New(t)
	src := openTestDB(t)
	fillStore(t, src, 300) // more runs than one etcd transaction may hold
	want := readFixture(t, src)

	mid := newEtcdStore(t, c, testKey(7))
	start := time.Now()
	rep := migrate(t, src, mid, MigrateOptions{})
	t.Logf("bbolt → etcd: %d keys, %d bytes in %d transactions, %d records verified, in %s", rep.Total(), rep.Bytes, rep.Batches, rep.Verified, time.Since(start).Round(time.Millisecond))
	if rep.Copied[spaceTokens] != 3 || rep.Copied[spaceProviders] != 2 || rep.Copied[spaceCronOutput] != 300 || rep.Copied[spaceSeq] == 0 {
		t.Errorf("copied %v; want 3 tokens, 2 providers, 300 outputs and the counters", rep.Copied)
	}
	if rep.Batches < 7 || rep.Verified < 300 || len(rep.Skipped) != 0 || rep.Wiped != 0 || rep.SourceChanged != 0 {
		t.Errorf("report %+v: want 7+ batches (900+ keys, 128 per transaction), 300+ records verified, nothing skipped or wiped", rep)
	}
	if got := readFixture(t, mid); !reflect.DeepEqual(got, want) {
		t.Errorf("the etcd copy reads differently:\n got %.2000v\nwant %.2000v", fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want))
	}
	assertSameRaw(t, src, mid)

	back := openTestDB(t)
	start = time.Now()
	rep = migrate(t, mid, back, MigrateOptions{})
	t.Logf("etcd → bbolt: %d keys in %d transactions, in %s", rep.Total(), rep.Batches, time.Since(start).Round(time.Millisecond))
	if got := readFixture(t, back); !reflect.DeepEqual(got, want) {
		t.Errorf("the copy back to bbolt reads differently")
	}
	assertSameRaw(t, src, back)

	// Run ids continue on each copy: the counters travelled.
	last := want.runs["nightly"][0].ID
	for _, db := range []*DB{mid, back} {
		var r Run
		must(t, db.Update(func(tx *Tx) (err error) {
			r, err = tx.AddRun(Run{Job: "nightly", Trigger: TriggerManual, Status: RunRunning}, nil)
			return err
		}))
		if r.ID != last+1 {
			t.Errorf("%s: next run id %d, want %d", db.Path(), r.ID, last+1)
		}
	}
}

// assertSameRaw checks that a and b hold the same keys with the same bytes
// (tokens sealed as they were: nothing was decrypted and sealed again).
func assertSameRaw(t *testing.T, a, b *DB) {
	t.Helper()
	ra, err := snapshot(context.Background(), a.kv)
	must(t, err)
	rb, err := snapshot(context.Background(), b.kv)
	must(t, err)
	if len(ra) != len(rb) {
		t.Fatalf("%s has %d keys, %s %d", a.Path(), len(ra), b.Path(), len(rb))
	}
	for i := range ra {
		if ra[i].k != rb[i].k || !bytes.Equal(ra[i].v, rb[i].v) {
			t.Fatalf("key %q of %s differs in %s (%q)", ra[i].k, a.Path(), b.Path(), rb[i].k)
		}
	}
}

// A target that holds records is refused and left as it was; with Force it
// is cleared and copied over.
func TestMigrateNonEmptyTarget(t *testing.T) {
	c := etcdtest.New(t)
	src := openTestDB(t)
	fillStore(t, src, 3)
	dst := newEtcdStore(t, c, testKey(7))
	must(t, dst.Update(func(tx *Tx) error { return tx.CreateProvider(testProvider("theirs")) }))
	before, err := snapshot(context.Background(), dst.kv)
	must(t, err)

	_, err = Migrate(context.Background(), src, dst, MigrateOptions{})
	if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("migrate onto a store with records: %v; want ErrNotEmpty naming --force", err)
	}
	after, err := snapshot(context.Background(), dst.kv)
	must(t, err)
	if !reflect.DeepEqual(before, after) {
		t.Fatal("a refused migration changed the target")
	}

	rep := migrate(t, src, dst, MigrateOptions{Force: true})
	if rep.Wiped != 1 {
		t.Errorf("wiped %d keys, want the one provider", rep.Wiped)
	}
	if err := dst.View(func(tx *Tx) error { _, err := tx.Provider("theirs"); return err }); !errors.Is(err, ErrNotFound) {
		t.Errorf("the target's own provider after --force: %v, want it gone", err)
	}
	assertSameRaw(t, src, dst)
}

// A target opened with another master key is refused before anything is
// written: the MACs and sealed secrets would not open there.
func TestMigrateWrongKey(t *testing.T) {
	c := etcdtest.New(t)
	src := openTestDB(t)
	fillStore(t, src, 1)
	dst := newEtcdStore(t, c, testKey(8))
	before, err := snapshot(context.Background(), dst.kv)
	must(t, err)
	_, err = Migrate(context.Background(), src, dst, MigrateOptions{Force: true})
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "same key") {
		t.Fatalf("migrate to a store with another key: %v; want ErrWrongKey", err)
	}
	after, err := snapshot(context.Background(), dst.kv)
	must(t, err)
	if !reflect.DeepEqual(before, after) {
		t.Fatal("a refused migration changed the target")
	}
}

// Run output over the target's request limit is reported and left out;
// any other record that large stops the migration before it writes.
func TestMigrateTooLarge(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{MaxRequestBytes: 256 << 10})
	src := openTestDB(t)
	fillStore(t, src, 2)
	big := bytes.Repeat([]byte("x"), 300<<10)
	var bigRun Run
	must(t, src.Update(func(tx *Tx) (err error) {
		bigRun, err = tx.AddRun(Run{Job: "nightly", Trigger: TriggerManual, Status: RunSucceeded}, big)
		return err
	}))
	dst := newEtcdStore(t, c, testKey(7))
	rep := migrate(t, src, dst, MigrateOptions{MaxRequestBytes: 256 << 10})
	if len(rep.Skipped) != 1 || rep.Skipped[0].What() != fmt.Sprintf("output of run %d", bigRun.ID) || rep.Skipped[0].Size != len(big) {
		t.Fatalf("skipped %+v; want the output of run %d", rep.Skipped, bigRun.ID)
	}
	if err := dst.View(func(tx *Tx) error {
		out, err := tx.RunOutput(bigRun.ID)
		if err == nil && out != nil {
			err = fmt.Errorf("output of %d bytes", len(out))
		}
		return err
	}); err != nil {
		t.Errorf("the big run on the copy: %v; want its record without output", err)
	}

	must(t, src.Update(func(tx *Tx) error {
		return tx.CreateJob(Job{Name: "huge", Schedule: "@daily", Script: "//" + string(big) + "\n", ScriptName: "huge.js", Timeout: time.Minute})
	}))
	dst2 := newEtcdStore(t, c, testKey(7))
	before, err := snapshot(context.Background(), dst2.kv)
	must(t, err)
	_, err = Migrate(context.Background(), src, dst2, MigrateOptions{MaxRequestBytes: 256 << 10})
	if !errors.Is(err, etcdkv.ErrTooLarge) || !strings.Contains(err.Error(), "cronjobs/huge") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("migrate a job over the limit: %v; want ErrTooLarge naming it", err)
	}
	after, err := snapshot(context.Background(), dst2.kv)
	must(t, err)
	if !reflect.DeepEqual(before, after) {
		t.Fatal("a refused migration changed the target")
	}
}

// A cluster that goes away during the copy: a clear error, the source as
// it was, and the target without a schema, so no node opens it.
func TestMigrateTargetGoesAway(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{})
	src := openTestDB(t)
	fillStore(t, src, 2)
	before, err := snapshot(context.Background(), src.kv)
	must(t, err)
	dst := newEtcdStore(t, c, testKey(7))
	c.Stop(0)
	_, err = Migrate(context.Background(), src, dst, MigrateOptions{})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("migrate to a stopped cluster: %v; want ErrUnavailable", err)
	}
	after, err := snapshot(context.Background(), src.kv)
	must(t, err)
	if !reflect.DeepEqual(before, after) {
		t.Fatal("a failed migration changed the source")
	}
}

// bbolt → bbolt works too (a home moved to another file), console sessions
// stay behind, and a store is not its own target.
func TestMigrateFileToFile(t *testing.T) {
	src := openTestDB(t)
	fillStore(t, src, 2)
	// A console session: state of a live process, not copied.
	must(t, src.kv.update(func(tx kvTx) error { return tx.Put("ephemeral/session/abc", []byte("sealed")) }))
	dst, err := Open(filepath.Join(t.TempDir(), "copy.db"), testKey(7), Options{})
	must(t, err)
	migrate(t, src, dst, MigrateOptions{})
	assertSameRaw(t, src, dst)
	if v := getString(t, dst.kv, "ephemeral/session/abc"); v != "<absent>" {
		t.Errorf("a console session was copied: %q", v)
	}
	if err := dst.CheckRecords(); err != nil {
		t.Errorf("the copy's records: %v", err)
	}
	if _, err := Migrate(context.Background(), src, src, MigrateOptions{}); err == nil || !strings.Contains(err.Error(), "the target is the source") {
		t.Errorf("migrate a store onto itself: %v", err)
	}
}

// A copy that fails half-way (here: the cluster refuses a batch the plan
// thought would fit, its --max-request-bytes being lower than said) leaves
// a target with no key check, which no node opens as a store, and the
// source as it was.
func TestMigrateInterrupted(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{MaxRequestBytes: 64 << 10})
	src := openTestDB(t)
	fillStore(t, src, 200) // 200 run index entries: small batches first
	must(t, src.Update(func(tx *Tx) error {
		_, err := tx.AddRun(Run{Job: "nightly", Trigger: TriggerManual, Status: RunSucceeded}, bytes.Repeat([]byte("y"), 100<<10))
		return err
	}))
	before, err := snapshot(context.Background(), src.kv)
	must(t, err)
	dst := newEtcdStore(t, c, testKey(7))
	rep, err := Migrate(context.Background(), src, dst, MigrateOptions{}) // believes the default 1.5 MiB
	if !errors.Is(err, etcdkv.ErrTooLarge) || !strings.Contains(err.Error(), "incomplete") || rep.Batches == 0 {
		t.Fatalf("migrate to a cluster with a lower limit: %v after %d batches; want ErrTooLarge after some batches, saying the copy is incomplete", err, rep.Batches)
	}
	if _, err := OpenURL(context.Background(), dst.Path(), testKey(7), Options{}); !errors.Is(err, ErrNoStore) {
		t.Errorf("open the half-copied target: %v; want ErrNoStore", err)
	}
	after, err := snapshot(context.Background(), src.kv)
	must(t, err)
	if !reflect.DeepEqual(before, after) {
		t.Error("a failed migration changed the source")
	}
}
