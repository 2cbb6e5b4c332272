package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// KV is one key as read, with the revisions a later write can be fenced on.
type KV struct {
	// Key is relative to the client's prefix.
	Key   string
	Value []byte
	// ModRevision is the cluster revision of the key's last write; a
	// compare-and-swap write (PutIfUnchanged) succeeds only while it holds.
	ModRevision int64
	// CreateRevision is the revision that created the key.
	CreateRevision int64
	// Lease is the lease the key is attached to (0: none).
	Lease int64
}

// Get reads one key, or returns an error wrapping ErrNotFound. The read is
// linearizable: it sees every write that completed before it began.
func (c *Client) Get(ctx context.Context, key string) (KV, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	resp, err := c.rangeKeys(ctx, rangeReq{Key: []byte(c.key(key))})
	if err != nil {
		return KV{}, fmt.Errorf("etcdkv: get %s: %w", keyText(key), c.explain(err))
	}
	if len(resp.Kvs) == 0 {
		return KV{}, fmt.Errorf("etcdkv: get %s: %w", keyText(key), ErrNotFound)
	}
	return c.kv(&resp.Kvs[0]), nil
}

// List reads every key under prefix (relative to the client's), in key
// order, all at one revision, which it returns: a later write can be fenced
// on "nothing under prefix changed since rev" (see Commit). Values are
// fetched in pages of 256 keys to keep each response small.
func (c *Client) List(ctx context.Context, prefix string) (kvs []KV, rev int64, err error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	start := []byte(c.key(prefix))
	end := prefixEnd(start)
	for {
		resp, err := c.rangeKeys(ctx, rangeReq{Key: start, RangeEnd: end, Limit: 256, Revision: i64(rev)})
		if err != nil {
			return nil, 0, fmt.Errorf("etcdkv: list %s: %w", keyText(prefix), c.explain(err))
		}
		if rev == 0 {
			rev = int64(resp.Header.Revision)
		}
		for i := range resp.Kvs {
			kvs = append(kvs, c.kv(&resp.Kvs[i]))
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return kvs, rev, nil
		}
		start = append(resp.Kvs[len(resp.Kvs)-1].Key, 0)
	}
}

// Put writes a key unconditionally and returns its new ModRevision.
func (c *Client) Put(ctx context.Context, key string, value []byte) (int64, error) {
	r, err := c.Commit(ctx, nil, []Op{OpPut(key, value)})
	if err != nil {
		return 0, err
	}
	return r, nil
}

// Delete removes a key; deleting a missing key is not an error.
func (c *Client) Delete(ctx context.Context, key string) error {
	_, err := c.Commit(ctx, nil, []Op{OpDelete(key)})
	return err
}

// Create writes a key only if it does not exist, or returns an error
// wrapping ErrExists. This is how a node claims (job, scheduled time): of any
// number of nodes creating the same key, exactly one succeeds, whatever
// their clocks say.
func (c *Client) Create(ctx context.Context, key string, value []byte) (int64, error) {
	rev, err := c.Commit(ctx, []Cond{Unchanged(key, 0)}, []Op{OpPut(key, value)})
	if errors.Is(err, ErrConflict) {
		return 0, fmt.Errorf("etcdkv: create %s: %w", keyText(key), ErrExists)
	}
	return rev, err
}

// PutIfUnchanged writes a key only if its ModRevision is still modRev (0:
// the key must not exist), or returns an error wrapping ErrConflict. This is
// the fence for a rotated token set: written only if the token record is
// the one read before the token endpoint was called.
func (c *Client) PutIfUnchanged(ctx context.Context, key string, value []byte, modRev int64) (int64, error) {
	return c.Commit(ctx, []Cond{Unchanged(key, modRev)}, []Op{OpPut(key, value)})
}

// Cond is a condition of a Commit, checked by the cluster atomically with
// the writes.
type Cond struct {
	key    string
	rev    int64
	prefix bool     // key is a prefix; holds while every ModRevision under it is <= rev
	cmp    *compare // set for conditions built elsewhere (Lock.Held); its key is absolute
}

// Unchanged holds while key's ModRevision is modRev; modRev 0 means the key
// does not exist.
func Unchanged(key string, modRev int64) Cond {
	return Cond{key: key, rev: modRev}
}

// NothingNewUnder holds while no key under prefix was written (created or
// changed) after revision rev. It does not see deletions: a transaction that
// depends on a list's membership also fences on a key that every delete
// under that prefix rewrites (see ETCD-DESIGN.md, "collection versions").
func NothingNewUnder(prefix string, rev int64) Cond {
	return Cond{key: prefix, rev: rev, prefix: true}
}

// Op is a write of a Commit.
type Op struct {
	key    string
	value  []byte
	del    bool
	prefix bool // delete every key under key
	lease  int64
}

// OpPut writes key.
func OpPut(key string, value []byte) Op { return Op{key: key, value: value} }

// OpPutLease writes key attached to a lease (see Grant): it is deleted when
// the lease expires.
func OpPutLease(key string, value []byte, lease int64) Op {
	return Op{key: key, value: value, lease: lease}
}

// OpDelete removes key.
func OpDelete(key string) Op { return Op{key: key, del: true} }

// OpDeletePrefix removes every key under prefix.
func OpDeletePrefix(prefix string) Op { return Op{key: prefix, del: true, prefix: true} }

// Commit applies ops atomically if every cond holds, and returns the
// revision of the write; if a cond fails it writes nothing and returns an
// error wrapping ErrConflict. A request larger than the cluster accepts is
// refused before it is sent, with ErrTooLarge naming the largest key.
func (c *Client) Commit(ctx context.Context, conds []Cond, ops []Op) (int64, error) {
	what := describe(ops)
	if err := c.checkSize(conds, ops); err != nil {
		return 0, fmt.Errorf("etcdkv: write %s: %w", what, err)
	}
	if err := c.checkOps(conds, ops); err != nil {
		return 0, fmt.Errorf("etcdkv: write %s: %w", what, err)
	}
	req := txnReq{Compare: make([]compare, len(conds)), Success: make([]requestOp, len(ops))}
	for i, cd := range conds {
		switch {
		case cd.cmp != nil:
			req.Compare[i] = *cd.cmp
		case cd.prefix:
			k := []byte(c.key(cd.key))
			req.Compare[i] = cmpMod(k, "LESS", cd.rev+1)
			req.Compare[i].RangeEnd = prefixEnd(k)
		default:
			req.Compare[i] = cmpMod([]byte(c.key(cd.key)), "EQUAL", cd.rev)
		}
	}
	for i, op := range ops {
		k := []byte(c.key(op.key))
		switch {
		case op.del && op.prefix:
			req.Success[i].Delete = &deleteReq{Key: k, RangeEnd: prefixEnd(k)}
		case op.del:
			req.Success[i].Delete = &deleteReq{Key: k}
		default:
			req.Success[i].Put = &putReq{Key: k, Value: op.value, Lease: i64(op.lease)}
		}
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	resp, err := c.txn(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("etcdkv: write %s: %w", what, c.explain(err))
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("etcdkv: write %s: %w (%s)", what, ErrConflict, describeConds(conds))
	}
	return int64(resp.Header.Revision), nil
}

// checkSize refuses a request the cluster would refuse: etcd limits the
// whole request (keys, values and compares) to --max-request-bytes.
func (c *Client) checkSize(conds []Cond, ops []Op) error {
	total, largest, largestKey := 0, 0, ""
	for _, cd := range conds {
		total += 2*(len(c.prefix)+len(cd.key)) + 16
	}
	for _, op := range ops {
		n := len(c.prefix) + len(op.key) + len(op.value)
		total += n + 16
		if n > largest {
			largest, largestKey = n, op.key
		}
	}
	if limit := c.maxReq - requestOverhead; total > limit {
		return fmt.Errorf("%w: the request is %d bytes (largest %s, %d bytes), over the cluster's limit of %d bytes less %d for framing; nothing was written",
			ErrTooLarge, total, largestKey, largest, c.maxReq, requestOverhead)
	}
	return nil
}

// checkOps refuses a transaction the cluster would refuse: etcd limits its
// compares, and its writes, each to --max-txn-ops.
func (c *Client) checkOps(conds []Cond, ops []Op) error {
	if len(conds) <= c.maxOps && len(ops) <= c.maxOps {
		return nil
	}
	return fmt.Errorf("%w: the transaction has %d compares and %d writes, over the cluster's --max-txn-ops of %d for either; nothing was written",
		ErrTooLarge, len(conds), len(ops), c.maxOps)
}

func (c *Client) kv(kv *pbKV) KV {
	return KV{Key: strings.TrimPrefix(string(kv.Key), c.prefix), Value: kv.Value, ModRevision: int64(kv.ModRevision),
		CreateRevision: int64(kv.CreateRevision), Lease: int64(kv.Lease)}
}

func describe(ops []Op) string {
	switch len(ops) {
	case 0:
		return "(nothing)"
	case 1:
		return keyText(ops[0].key)
	}
	return fmt.Sprintf("%s and %d more", keyText(ops[0].key), len(ops)-1)
}

func describeConds(conds []Cond) string {
	keys := make([]string, len(conds))
	for i, cd := range conds {
		keys[i] = keyText(cd.key)
		if cd.prefix {
			keys[i] += "…"
		}
	}
	return "checked " + strings.Join(keys, ", ")
}

// keyText is a key as error messages show it: as it is when every byte is
// printable ASCII, else quoted with the other bytes escaped (run keys end
// in a binary id, which would print as control characters).
func keyText(k string) string {
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return strconv.Quote(k)
		}
	}
	return k
}
