package etcdkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Txn is one optimistic transaction, given to the function of View or
// Update. It reads a consistent snapshot (every read at the revision of
// its first one), buffers writes, and sees its own writes. It is valid only
// inside that function and is not safe for concurrent use.
type Txn struct {
	c        *Client
	ctx      context.Context
	rev      int64                // snapshot; 0 until the first read
	reads    map[string]int64     // key → ModRevision seen (0: absent); compared at commit
	seen     map[string]int64     // key → ModRevision seen by Get or List; not compared
	got      map[string]*KV       // key → what Get read (nil: absent), served again without a round trip
	lists    map[string]bool      // prefixes listed
	writes   map[string]*bufWrite // key → last write
	order    []string             // keys in first-write order
	dropped  []string             // prefixes deleted (DeletePrefix), applied before the writes
	readOnly bool
}

type bufWrite struct {
	value []byte
	del   bool
}

// MaxAttempts is how often Update runs its function before it gives up on
// a key that others keep changing.
const MaxAttempts = 8

// View runs fn on a snapshot of the cluster. Nothing is written.
func (c *Client) View(ctx context.Context, fn func(*Txn) error) error {
	tx := c.newTxn(ctx, true)
	return fn(tx)
}

// Update runs fn and commits its writes in one etcd transaction, if and
// only if nothing it read has changed since: every key read is compared on
// its ModRevision (absent keys on not existing) and every listed prefix on
// NothingNewUnder, together with the writes. If a compare fails, fn runs
// again on a fresh snapshot, up to MaxAttempts times, then the error wraps
// ErrConflict. This is software transactional memory over etcd's Txn, as
// concurrency.NewSTM (serializable snapshot isolation), plus List.
//
// fn may therefore run more than once: it must have no effect other than
// its writes through the Txn and setting variables it owns. An error from
// fn aborts without writing and is returned as is.
//
// A listed prefix does not see deletions under it (see NothingNewUnder);
// callers that must, read a key that deleters rewrite.
func (c *Client) Update(ctx context.Context, fn func(*Txn) error) error {
	var last error
	for attempt := range MaxAttempts {
		tx := c.newTxn(ctx, false)
		if err := fn(tx); err != nil {
			return err
		}
		err := tx.commit()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		last = err
		// Back off a little, growing, so that writers hot on one key
		// do not keep invalidating each other in lock step.
		t := time.NewTimer(time.Duration(1<<attempt) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("etcdkv: update: %w", ctx.Err())
		case <-t.C:
		}
	}
	return fmt.Errorf("etcdkv: update gave up after %d attempts: %w", MaxAttempts, last)
}

func (c *Client) newTxn(ctx context.Context, readOnly bool) *Txn {
	return &Txn{c: c, ctx: ctx, reads: map[string]int64{}, seen: map[string]int64{}, got: map[string]*KV{}, lists: map[string]bool{}, writes: map[string]*bufWrite{}, readOnly: readOnly}
}

// ModRevision is the ModRevision of key as this transaction last read it
// (Get, or List of a prefix holding it): the revision a later write can be
// fenced on. It is 0 for a key not read, absent, or written earlier in
// this transaction (its revision is known only once committed).
func (tx *Txn) ModRevision(key string) int64 {
	if _, ok := tx.writes[key]; ok {
		return 0
	}
	return tx.seen[key]
}

// Rev is the snapshot's revision (0 before the first read).
func (tx *Txn) Rev() int64 { return tx.rev }

// Get reads key, or returns an error wrapping ErrNotFound. A key written
// earlier in this transaction reads as written.
func (tx *Txn) Get(key string) (KV, error) {
	if w, ok := tx.writes[key]; ok {
		if w.del {
			return KV{}, fmt.Errorf("etcdkv: get %s: %w", keyText(key), ErrNotFound)
		}
		return KV{Key: key, Value: w.value}, nil
	}
	if tx.droppedKey(key) {
		return KV{}, fmt.Errorf("etcdkv: get %s: %w", keyText(key), ErrNotFound)
	}
	if kv, ok := tx.got[key]; ok {
		// Read before in this transaction: the snapshot has not moved.
		if kv == nil {
			return KV{}, fmt.Errorf("etcdkv: get %s: %w", keyText(key), ErrNotFound)
		}
		return *kv, nil
	}
	resp, err := tx.get(rangeReq{Key: []byte(tx.c.key(key))})
	if err != nil {
		return KV{}, fmt.Errorf("etcdkv: get %s: %w", keyText(key), tx.c.explain(err))
	}
	if len(resp.Kvs) == 0 {
		tx.reads[key] = 0
		tx.got[key] = nil
		return KV{}, fmt.Errorf("etcdkv: get %s: %w", keyText(key), ErrNotFound)
	}
	out := tx.c.kv(&resp.Kvs[0])
	tx.reads[key] = out.ModRevision
	tx.seen[key] = out.ModRevision
	tx.got[key] = &out
	return out, nil
}

// List reads every key under prefix at the snapshot, with this
// transaction's own writes applied, in key order.
func (tx *Txn) List(prefix string) ([]KV, error) { return tx.list(prefix, "", false) }

// Keys is List without the values: the cluster sends the keys and their
// revisions only (a keys-only range), and every Value is nil. A caller
// that needs the values of a few keys of a long list (one page of it)
// reads the keys, then those values with GetMany. Update fences the prefix
// as it does after List.
func (tx *Txn) Keys(prefix string) ([]KV, error) { return tx.list(prefix, "", true) }

// ListFrom is List of the keys under prefix that sort at or after
// prefix+start: the cluster sends only those (a job's runs after the last
// one seen, not its whole history). Update fences the whole prefix, as it
// does after List.
func (tx *Txn) ListFrom(prefix, start string) ([]KV, error) { return tx.list(prefix, start, false) }

func (tx *Txn) list(prefix, start string, keysOnly bool) ([]KV, error) {
	full := []byte(tx.c.key(prefix))
	resp, err := tx.get(rangeReq{Key: []byte(tx.c.key(prefix + start)), RangeEnd: prefixEnd(full), KeysOnly: keysOnly})
	if err != nil {
		return nil, fmt.Errorf("etcdkv: list %s: %w", keyText(prefix), tx.c.explain(err))
	}
	tx.lists[prefix] = true
	// The cluster sends keys in order: merge the transaction's own writes
	// into them, rather than sort every key again.
	own := tx.writesUnder(prefix, start)
	out := make([]KV, 0, len(resp.Kvs)+len(own))
	i := 0
	for j := range resp.Kvs {
		k := tx.c.kv(&resp.Kvs[j])
		if tx.droppedKey(k.Key) {
			continue
		}
		tx.seen[k.Key] = k.ModRevision
		for ; i < len(own) && own[i] < k.Key; i++ {
			out = tx.appendWrite(out, own[i], keysOnly)
		}
		if i < len(own) && own[i] == k.Key {
			out = tx.appendWrite(out, own[i], keysOnly)
			i++
			continue
		}
		out = append(out, k)
	}
	for ; i < len(own); i++ {
		out = tx.appendWrite(out, own[i], keysOnly)
	}
	return out, nil
}

// writesUnder returns the keys this transaction wrote under prefix that
// sort at or after prefix+start, in order.
func (tx *Txn) writesUnder(prefix, start string) []string {
	from := prefix + start
	var keys []string
	for k := range tx.writes {
		if strings.HasPrefix(k, prefix) && k >= from {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// appendWrite appends to a list what this transaction wrote under k:
// nothing for a delete.
func (tx *Txn) appendWrite(out []KV, k string, keysOnly bool) []KV {
	switch w := tx.writes[k]; {
	case w.del:
		return out
	case keysOnly:
		return append(out, KV{Key: k})
	default:
		return append(out, KV{Key: k, Value: w.value})
	}
}

// get reads at the snapshot, fixing it on the first read. The first read is
// linearizable; the others read that same revision.
func (tx *Txn) get(req rangeReq) (*rangeResp, error) {
	req.Revision = i64(tx.rev)
	ctx, cancel := tx.c.ctx(tx.ctx)
	defer cancel()
	resp, err := tx.c.rangeKeys(ctx, req)
	if err != nil {
		return nil, err
	}
	if tx.rev == 0 {
		tx.rev = int64(resp.Header.Revision)
	}
	return resp, nil
}

// Put buffers a write of key, applied at commit.
func (tx *Txn) Put(key string, value []byte) { tx.write(key, &bufWrite{value: value}) }

// Delete buffers a delete of key, applied at commit.
func (tx *Txn) Delete(key string) { tx.write(key, &bufWrite{del: true}) }

func (tx *Txn) write(key string, w *bufWrite) {
	if tx.readOnly {
		panic("etcdkv: write in View")
	}
	if _, ok := tx.writes[key]; !ok {
		tx.order = append(tx.order, key)
	}
	tx.writes[key] = w
}

// Applied reports whether the cluster holds now exactly what this
// transaction wrote: each key put with its value, each deleted key absent.
// After a commit that ended in ErrUnavailable (which may or may not have
// been applied) it tells the two apart, read at one revision, so that a
// caller retries only what did not happen. A commit applied and then
// changed by another writer reads as not applied: the caller's retry then
// decides on what it finds, as after any conflict.
func (tx *Txn) Applied(ctx context.Context) (bool, error) {
	var rev int64
	for start := 0; start < len(tx.order); start += tx.c.maxOps {
		keys := tx.order[start:min(start+tx.c.maxOps, len(tx.order))]
		cctx, cancel := tx.c.ctx(ctx)
		resp, err := tx.c.txn(cctx, tx.c.getsAt(keys, rev))
		cancel()
		if err != nil {
			return false, fmt.Errorf("etcdkv: read back %s: %w", describeKeys(keys), tx.c.explain(err))
		}
		rev = int64(resp.Header.Revision)
		for i, k := range keys {
			if !tx.holds(k, resp.rangeAt(i)) {
				return false, nil
			}
		}
	}
	return true, nil
}

// holds reports whether kvs, read under k, is this transaction's write of k.
func (tx *Txn) holds(k string, kvs []pbKV) bool {
	w := tx.writes[k]
	if w.del {
		return len(kvs) == 0
	}
	return len(kvs) == 1 && bytes.Equal(kvs[0].Value, w.value)
}

// getsAt is a transaction of one range read per key, at revision rev (0:
// the current one).
func (c *Client) getsAt(keys []string, rev int64) txnReq {
	req := txnReq{Success: make([]requestOp, len(keys))}
	for i, k := range keys {
		req.Success[i].Range = &rangeReq{Key: []byte(c.key(k)), Revision: i64(rev)}
	}
	return req
}

func describeKeys(keys []string) string {
	if len(keys) == 1 {
		return keyText(keys[0])
	}
	return fmt.Sprintf("%s and %d more", keyText(keys[0]), len(keys)-1)
}

// commit sends the read set's compares and the writes in one Txn.
func (tx *Txn) commit() error {
	if len(tx.writes) == 0 && len(tx.dropped) == 0 {
		return nil // a read-only run: its snapshot was consistent
	}
	if err := tx.checkDropped(); err != nil {
		return err
	}
	conds := make([]Cond, 0, len(tx.reads)+len(tx.lists))
	for k, rev := range tx.reads {
		conds = append(conds, Unchanged(k, rev))
	}
	for p := range tx.lists {
		conds = append(conds, NothingNewUnder(p, tx.rev))
	}
	ops := make([]Op, 0, len(tx.dropped)+len(tx.order))
	for _, p := range tx.dropped {
		ops = append(ops, OpDeletePrefix(p))
	}
	for _, k := range tx.order {
		if w := tx.writes[k]; w.del {
			ops = append(ops, OpDelete(k))
		} else {
			ops = append(ops, OpPut(k, w.value))
		}
	}
	_, err := tx.c.Commit(tx.ctx, conds, ops)
	return err
}
