package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/scriptrun/scriptrun/store/etcdkv"
)

// Moving a store (scriptrun store migrate): every key of every space is
// copied from one backend to the other as stored — sealed secrets sealed,
// authenticated records with their MACs, meta/keycheck with the home's id —
// so no secret is decrypted on the way and the MACs, salted with that id,
// still hold on the target. Nothing here depends on what a space holds, so
// spaces added later travel too.

// ErrNotEmpty: the target of Migrate already holds a store with records, and
// MigrateOptions.Force was not given.
var ErrNotEmpty = errors.New("the target store is not empty")

// MigrateOptions tune Migrate. The zero value suits a target with etcd's
// default limits.
type MigrateOptions struct {
	// Force lets Migrate overwrite a target that holds records: every key
	// under it is deleted first (MigrateReport.Wiped counts them).
	Force bool
	// MaxRequestBytes is the target cluster's --max-request-bytes (default
	// etcdkv.DefaultMaxRequestBytes); each batch stays under it. It does
	// not apply to a bbolt target.
	MaxRequestBytes int
	// MaxOps caps the writes of one batch (default 128, etcd's
	// --max-txn-ops).
	MaxOps int
}

// MigrateReport says what Migrate copied, left out and verified.
type MigrateReport struct {
	From, To string // the stores, as their messages name them
	// Copied counts the keys written to the target, by space (providers,
	// tokens, cronjobs, cronruns, cronoutput, meta, seq, …).
	Copied map[string]int
	// Bytes is the size of the values copied; Batches the transactions
	// that wrote them.
	Bytes   int64
	Batches int
	// Wiped counts the keys deleted from the target before the copy
	// (besides the key check an empty target was created with).
	Wiped int
	// Skipped are records larger than the target accepts in one request:
	// only run output may be left out so; they were not copied.
	Skipped []SkippedRecord
	// Verified counts the records read back on the target through the
	// record layer (providers, tokens, jobs, run requests, admin password,
	// runs and their output), each authenticated with its MAC.
	Verified int
	// SourceChanged counts keys of the source written while the copy ran
	// (a process still using it): their new values are not in the copy.
	SourceChanged int
}

// Total is the number of keys copied.
func (r MigrateReport) Total() int {
	n := 0
	for _, c := range r.Copied {
		n += c
	}
	return n
}

// SkippedRecord is a record Migrate could not copy: Size bytes, over Limit.
type SkippedRecord struct {
	Key   string // space/name; a run's output is cronoutput/ID (8 bytes, big-endian)
	Size  int
	Limit int
}

// What names the skipped record in words ("output of run 42").
func (s SkippedRecord) What() string {
	space, name := splitKey(s.Key)
	// Outputs are keyed job \x00 BE id (run.go), or BE id in the older layout.
	if n := len(name); space == spaceCronOutput && (n == 8 || (n > 9 && name[n-9] == 0)) {
		return fmt.Sprintf("output of run %d", binary.BigEndian.Uint64([]byte(name[n-8:])))
	}
	return fmt.Sprintf("%s %q", space, name)
}

// rawKV is one key as stored.
type rawKV struct {
	k string
	v []byte
}

// Migrate copies every record of from into to (the two stores must use the
// same master key), then reads the copy back: every key must hold the bytes
// copied, and every record must authenticate through the record layer on
// to. A target that holds records is refused with ErrNotEmpty unless
// opts.Force; one created empty (OpenURL with Options.Create, or a new
// file) is not "holding records". The target's own key check and home id
// are replaced by the source's, written last, so an etcd target interrupted
// half-way has no schema and OpenURL refuses it (ErrNoStore); a bbolt one
// would open as a new store whose records fail authentication, and the
// error says to run the migration again.
//
// The source is read at one snapshot, held in memory for the copy. Writes
// made to it meanwhile are not copied; MigrateReport.SourceChanged counts
// them. to must not be in use elsewhere while Migrate runs; afterwards it
// reads the copy.
func Migrate(ctx context.Context, from, to *DB, opts MigrateOptions) (MigrateReport, error) {
	rep := MigrateReport{From: from.path, To: to.path, Copied: map[string]int{}}
	if from.path == to.path {
		return rep, fmt.Errorf("migrate %s: the target is the source", from.path)
	}
	recs, err := snapshot(ctx, from.kv)
	if err != nil {
		return rep, fmt.Errorf("migrate: read %s: %w", from.path, err)
	}
	homeID, err := sameKey(from, to, recs)
	if err != nil {
		return rep, err
	}
	held, err := targetRecords(ctx, to.kv)
	if err != nil {
		return rep, fmt.Errorf("migrate: read %s: %w", to.path, err)
	}
	if held > 0 && !opts.Force {
		return rep, fmt.Errorf("%w: %s holds %d keys; nothing was written (pass --force to delete them and copy over them)", ErrNotEmpty, to.path, held)
	}
	m := migration{ctx: ctx, to: to, opts: opts, rep: &rep}
	batches, err := m.plan(recs)
	if err != nil {
		return rep, err
	}
	if err := wipe(ctx, to.kv); err != nil {
		return rep, fmt.Errorf("migrate: clear %s: %w; nothing was copied", to.path, err)
	}
	rep.Wiped = held
	for _, b := range batches {
		if err := m.write(b); err != nil {
			return rep, fmt.Errorf("migrate: write to %s: %w; the copy is incomplete: run the migration again with --force (until then it has no key check, so no node takes it for a store: an etcd prefix is refused as holding none)", to.path, err)
		}
	}
	if err := verify(ctx, from, to, recs, homeID, &rep); err != nil {
		return rep, err
	}
	rep.SourceChanged, err = changedSince(ctx, from.kv, recs)
	if err != nil {
		return rep, fmt.Errorf("migrate: re-read %s: %w", from.path, err)
	}
	return rep, nil
}

// sameKey checks that to's master key opens from's key check, and returns
// the home id sealed in it.
func sameKey(from, to *DB, recs []rawKV) ([]byte, error) {
	var sealed []byte
	for _, r := range recs {
		if r.k == key(spaceMeta, string(keyCheck)) {
			sealed = r.v
		}
	}
	if sealed == nil {
		return nil, fmt.Errorf("%w: %s has no key check (meta/keycheck): it is not a scriptrun store", ErrDamaged, from.path)
	}
	plain, err := to.seal.open(sealed, keyCheck)
	if err != nil || len(plain) != len(keyCheckPlain2)+homeIDSize || !bytes.HasPrefix(plain, keyCheckPlain2) {
		return nil, fmt.Errorf("%w: %s was opened with another master key than %s was created with; both stores must use the same key (SCRIPTRUN_MASTER_KEY or master.key); nothing was written", ErrWrongKey, to.path, from.path)
	}
	return plain[len(keyCheckPlain2):], nil
}

// migration is one run of Migrate's writes.
type migration struct {
	ctx  context.Context
	to   *DB
	opts MigrateOptions
	rep  *MigrateReport
}

// plan splits recs into batches the target accepts, meta/schema alone in
// the last one, and leaves out (reporting them) run output too large to be
// written at all. Any other record that large fails the plan before
// anything is written.
func (m *migration) plan(recs []rawKV) ([][]rawKV, error) {
	maxOps, budget, prefix := m.limits()
	var batches [][]rawKV
	var cur []rawKV
	size := 0
	var meta []rawKV
	for _, r := range recs {
		if space, _ := splitKey(r.k); space == spaceMeta {
			meta = append(meta, r)
			continue
		}
		cost := prefix + len(r.k) + len(r.v) + 16
		if cost > budget {
			if space, _ := splitKey(r.k); space != spaceCronOutput {
				return nil, fmt.Errorf("migrate: %s (%d bytes) is larger than %s accepts in one request (%d bytes): raise the cluster's --max-request-bytes (and pass the same limit here); nothing was written: %w",
					r.k, len(r.v), m.to.path, budget, etcdkv.ErrTooLarge)
			}
			m.rep.Skipped = append(m.rep.Skipped, SkippedRecord{Key: r.k, Size: len(r.v), Limit: budget})
			continue
		}
		if len(cur) == maxOps || size+cost > budget {
			batches, cur, size = append(batches, cur), nil, 0
		}
		cur, size = append(cur, r), size+cost
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return append(batches, meta), nil
}

// limits are the ops and bytes one batch may hold on the target, and the
// bytes its key prefix adds to every key.
func (m *migration) limits() (maxOps, budget, prefix int) {
	maxOps = m.opts.MaxOps
	if maxOps <= 0 {
		maxOps = 128
	}
	e, ok := m.to.kv.(*etcdBackend)
	if !ok {
		return maxOps, 64 << 20, 0 // bbolt: no request limit; batches bound the memory of a transaction
	}
	maxReq := m.opts.MaxRequestBytes
	if maxReq <= 0 {
		maxReq = etcdkv.DefaultMaxRequestBytes
	}
	// etcdkv keeps 4 KiB of each request for framing; keep 4 KiB more.
	return maxOps, maxReq - 8<<10, len(e.c.Target().Prefix)
}

// write stores one batch in one transaction of the target.
func (m *migration) write(batch []rawKV) error {
	err := m.to.kv.update(func(tx kvTx) error {
		for _, r := range batch {
			if err := putRaw(tx, r.k, r.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.rep.Batches++
	for _, r := range batch {
		space, _ := splitKey(r.k)
		m.rep.Copied[space]++
		m.rep.Bytes += int64(len(r.v))
	}
	return nil
}

// putRaw writes a key as stored. A counter (seq/SPACE) is a key of its own
// on etcd and the sequence of bucket SPACE on bbolt, so that run and request
// ids go on from where the source was.
func putRaw(tx kvTx, k string, v []byte) error {
	space, name := splitKey(k)
	bt, ok := tx.(boltTx)
	if !ok || space != spaceSeq {
		return tx.Put(k, v)
	}
	if len(v) != 8 {
		return fmt.Errorf("counter %s: %d bytes, want 8", k, len(v))
	}
	b, err := bt.bucket(name, true)
	if err != nil {
		return err
	}
	return b.SetSequence(binary.BigEndian.Uint64(v))
}

// transientSpaces hold state of live processes, not records: etcdkv's locks,
// and console sessions and pending authorizations ("ephemeral"; leased on
// etcd, a bucket on bbolt). They are not copied: a lock would outlive its
// holder, and after a move people sign in to the console again.
func transientSpace(space string) bool { return space == "locks" || space == "ephemeral" }

// snapshot reads every key of kv at one point in time, in key order, with
// values copied, sorted by key. Keys attached to an etcd lease (nodes,
// running runs) and transient spaces belong to live processes and are left
// out.
// bbolt's bucket sequences are returned as seq/BUCKET keys, as etcd keeps
// them.
func snapshot(ctx context.Context, kv backend) ([]rawKV, error) {
	var out []rawKV
	err := eachRaw(ctx, kv, func(k string, v []byte) error {
		out = append(out, rawKV{k, bytes.Clone(v)})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].k < out[j].k })
	return out, err
}

// eachRaw calls fn for every key of kv at one snapshot (see snapshot);
// fn's slices are valid only during the call.
func eachRaw(ctx context.Context, kv backend, fn func(k string, v []byte) error) error {
	switch b := kv.(type) {
	case *boltBackend:
		return b.viewBolt(func(tx *bolt.Tx) error { return eachBolt(tx, fn) })
	case *etcdBackend:
		kvs, _, err := b.c.List(ctx, "")
		if err != nil {
			return err
		}
		for _, e := range kvs {
			if space, _ := splitKey(e.Key); e.Lease != 0 || transientSpace(space) {
				continue
			}
			if err := fn(e.Key, e.Value); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("migrate: a %T store cannot be listed", kv)
}

func eachBolt(tx *bolt.Tx, fn func(k string, v []byte) error) error {
	var seqs []rawKV
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if s := b.Sequence(); s > 0 {
			seqs = append(seqs, rawKV{key(spaceSeq, string(name)), u64(s)})
		}
		if transientSpace(string(name)) {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return nil // a nested bucket: none is ever made
			}
			return fn(string(name)+"/"+string(k), v)
		})
	})
	if err != nil {
		return err
	}
	for _, s := range seqs {
		if err := fn(s.k, s.v); err != nil {
			return err
		}
	}
	return nil
}

// targetRecords counts the keys of kv other than the schema and key check
// an empty store is created with.
func targetRecords(ctx context.Context, kv backend) (int, error) {
	n := 0
	err := eachRaw(ctx, kv, func(k string, _ []byte) error {
		if k != key(spaceMeta, string(keySchema)) && k != key(spaceMeta, string(keyCheck)) {
			n++
		}
		return nil
	})
	return n, err
}

// wipe deletes every key of kv (live processes' leased keys on etcd too).
func wipe(ctx context.Context, kv backend) error {
	switch b := kv.(type) {
	case *etcdBackend:
		_, err := b.c.Commit(ctx, nil, []etcdkv.Op{etcdkv.OpDeletePrefix("")})
		return err
	case *boltBackend:
		return b.update(func(t kvTx) error {
			tx := t.(boltTx).tx
			var names [][]byte
			if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				names = append(names, bytes.Clone(name))
				return nil
			}); err != nil {
				return err
			}
			for _, n := range names {
				if err := tx.DeleteBucket(n); err != nil {
					return fmt.Errorf("delete bucket %s: %w", n, err)
				}
			}
			return nil
		})
	}
	return fmt.Errorf("migrate: a %T store cannot be cleared", kv)
}

// verify reads the copy back: the same keys with the same bytes as recs
// less the skipped ones, then every record through the record layer with
// the MAC key of the home (its id travelled in the key check). On success
// to reads the copy from then on.
func verify(ctx context.Context, from, to *DB, recs []rawKV, homeID []byte, rep *MigrateReport) error {
	want := digests(recs, rep.Skipped)
	var missing, differ, extra []string
	err := eachRaw(ctx, to.kv, func(k string, v []byte) error {
		d, ok := want[k]
		switch {
		case !ok:
			extra = append(extra, k)
		case d != sha256.Sum256(v):
			differ = append(differ, k)
		}
		delete(want, k)
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: verify %s: %w", to.path, err)
	}
	for k := range want {
		missing = append(missing, k)
	}
	if len(missing)+len(differ)+len(extra) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("%w: migrate: the copy at %s does not match %s: %d keys missing %q, %d different %q, %d unexpected %q; run the migration again with --force",
			ErrDamaged, to.path, from.path, len(missing), first(missing), len(differ), first(differ), len(extra), first(extra))
	}
	// The copy carries from's key check, so its MAC key is from's: derived
	// from the same master key (sameKey) and the same home id.
	if got, err := homeOf(to); err != nil || !bytes.Equal(got, homeID) {
		return fmt.Errorf("%w: migrate: the copy at %s does not carry the home id of %s (%v)", ErrDamaged, to.path, from.path, err)
	}
	to.mac = from.mac
	n, err := readAll(to)
	rep.Verified = n
	if err != nil {
		return fmt.Errorf("migrate: verify %s: %w", to.path, err)
	}
	return nil
}

// homeOf opens db's key check with its master key and returns the home id.
func homeOf(db *DB) ([]byte, error) {
	var id []byte
	err := db.kv.view(func(tx kvTx) error {
		v, sealed, err := readMeta(tx)
		if err != nil {
			return err
		}
		if v == nil || sealed == nil {
			return fmt.Errorf("no schema or key check")
		}
		n, homeID, err := db.schemaOf(v, sealed)
		if err == nil && n != SchemaVersion {
			err = fmt.Errorf("schema %d, want %d", n, SchemaVersion)
		}
		id = bytes.Clone(homeID)
		return err
	})
	return id, err
}

// readAll reads every record of db through the record layer and returns
// how many it read; damaged records fail it. A job's runs are read in a
// transaction of their own and their outputs in transactions of
// runsPerRead: a run's output is three reads, and on etcd a job's whole
// history in one transaction would outlast its attempt on a busy machine
// (the copy being verified is not in use, so nothing changes between them).
func readAll(db *DB) (int, error) {
	if err := db.CheckRecords(); err != nil {
		return 0, err
	}
	n := 0
	var jobs []Job
	err := db.View(func(tx *Tx) error {
		ps, err := tx.Providers()
		if err != nil {
			return err
		}
		ts, err := tx.Tokens()
		if err != nil {
			return err
		}
		rs, err := tx.RunRequests()
		if err != nil {
			return err
		}
		n = len(ps) + len(ts) + len(rs)
		if _, err := tx.AdminPassword(); err == nil {
			n++
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		jobs, err = tx.Jobs()
		return err
	})
	if err != nil {
		return n, err
	}
	for _, j := range jobs {
		runs, err := readRuns(db, j.Name)
		if err != nil {
			return n, err
		}
		n += 1 + runs
	}
	return n, nil
}

// runsPerRead is how many runs' outputs one verify transaction reads.
const runsPerRead = 32

// readRuns reads a job's runs, then their outputs runsPerRead at a time,
// and returns how many runs it read.
func readRuns(db *DB, job string) (int, error) {
	var runs []Run
	err := db.View(func(tx *Tx) (err error) {
		runs, err = tx.Runs(job, 0)
		return err
	})
	if err != nil {
		return 0, err
	}
	for chunk := range slices.Chunk(runs, runsPerRead) {
		err := db.View(func(tx *Tx) error {
			for _, r := range chunk {
				if _, err := tx.RunOutput(r.ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return len(runs), nil
}

// changedSince counts the keys of kv that differ now from recs (written,
// added or deleted after the snapshot).
func changedSince(ctx context.Context, kv backend, recs []rawKV) (int, error) {
	want := digests(recs, nil)
	n := 0
	err := eachRaw(ctx, kv, func(k string, v []byte) error {
		if d, ok := want[k]; !ok || d != sha256.Sum256(v) {
			n++
		}
		delete(want, k)
		return nil
	})
	return n + len(want), err
}

func digests(recs []rawKV, skipped []SkippedRecord) map[string][sha256.Size]byte {
	out := make(map[string][sha256.Size]byte, len(recs))
	for _, r := range recs {
		out[r.k] = sha256.Sum256(r.v)
	}
	for _, s := range skipped {
		delete(out, s.Key)
	}
	return out
}

// first returns up to 3 of keys, for a message.
func first(keys []string) []string {
	if len(keys) > 3 {
		return keys[:3]
	}
	return keys
}
