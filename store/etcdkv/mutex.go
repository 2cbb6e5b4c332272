package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// mutex is etcd's lock recipe (the one of client/v3/concurrency.Mutex) on
// the v3 API: each contender puts pfx/LEASE attached to its lease; the key
// with the lowest create revision holds the lock; a waiter watches only the
// key just before its own, for its delete.
//
// Written here rather than used from concurrency for one reason: that
// package watches the predecessor from the revision of its read, which
// etcd serves as an "unsynced" watcher, caught up by a loop that runs every
// 100 ms, so each hand-over waited 50 ms on average (measured: 33 ms per
// contended increment). See waitPredecessors.
type mutex struct {
	c     *Client
	pfx   string // ends in "/"
	lease int64
	key   string
	rev   int64 // create revision of key; 0: not held
}

func newMutex(c *Client, pfx string, lease int64) *mutex {
	return &mutex{c: c, pfx: pfx + "/", lease: lease}
}

// firstCreate reads the contender that came first.
func (m *mutex) firstCreate() *rangeReq {
	pfx := []byte(m.pfx)
	return &rangeReq{Key: pfx, RangeEnd: prefixEnd(pfx), SortTarget: "CREATE", SortOrder: "ASCEND", Limit: 1}
}

// enqueue puts this contender's key (or finds it from an earlier attempt)
// and reports whether it is first in line.
func (m *mutex) enqueue(ctx context.Context) (first bool, err error) {
	m.key = fmt.Sprintf("%s%x", m.pfx, m.lease)
	key := []byte(m.key)
	resp, err := m.c.txn(ctx, txnReq{
		Compare: []compare{cmpCreate(key, 0)},
		Success: []requestOp{{Put: &putReq{Key: key, Lease: i64(m.lease)}}, {Range: m.firstCreate()}},
		Failure: []requestOp{{Range: &rangeReq{Key: key}}, {Range: m.firstCreate()}},
	})
	if err != nil {
		return false, err
	}
	m.rev = int64(resp.Header.Revision)
	if !resp.Succeeded {
		mine := resp.rangeAt(0)
		if len(mine) == 0 {
			return false, fmt.Errorf("%w: the lock key vanished as it was read", errWatchEnded)
		}
		m.rev = int64(mine[0].CreateRevision)
	}
	owner := resp.rangeAt(1)
	return len(owner) == 0 || int64(owner[0].CreateRevision) == m.rev, nil
}

// lock waits until every key created before this one is gone, then checks
// that its own key survived (its lease may have ended meanwhile). A leader
// change while it waits (the watch ends, a read finds no leader) is waited
// out, as long as ctx allows: enqueue and the wait are safe to repeat.
func (m *mutex) lock(ctx context.Context) error {
	var first bool
	err := retryTransient(ctx, func() (err error) { first, err = m.enqueue(ctx); return err })
	if err != nil {
		return err
	}
	if first {
		return nil
	}
	if err := retryTransient(ctx, func() error { return m.waitPredecessors(ctx) }); err != nil {
		m.cleanup(ctx)
		return err
	}
	resp, err := m.c.rangeKeys(ctx, rangeReq{Key: []byte(m.key)})
	if err != nil {
		m.cleanup(ctx)
		return err
	}
	if len(resp.Kvs) == 0 {
		m.rev = 0
		return ErrLockLost
	}
	return nil
}

// tryLock takes the lock only if it is free, else removes its key.
func (m *mutex) tryLock(ctx context.Context) error {
	first, err := m.enqueue(ctx)
	if err != nil {
		return err
	}
	if first {
		return nil
	}
	if err := m.unlock(ctx); err != nil {
		return err
	}
	return ErrLocked
}

// waitPredecessors returns once no key created before this one is left.
//
// The watch is opened first, from "now", and its creation awaited: a watch
// from now is synced, so etcd sends its events at once. (A watch from a
// past revision, as concurrency.Mutex opens one, is caught up by a loop
// that runs every 100 ms: each contended hand-over then waited ~50 ms.) A
// delete after the watch's creation is seen; the Get that follows names
// the key to wait for; a delete seen before it is harmless, since the loop
// reads again.
func (m *mutex) waitPredecessors(ctx context.Context) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pfx := []byte(m.pfx)
	wch := m.c.watchStream(wctx, watchCreate{Key: pfx, RangeEnd: prefixEnd(pfx), Filters: []string{"NOPUT"}}, nil)
	if _, err := watchNext(ctx, wch); err != nil { // the creation notice
		return err
	}
	for {
		resp, err := m.c.rangeKeys(ctx, rangeReq{Key: pfx, RangeEnd: prefixEnd(pfx), SortTarget: "CREATE", SortOrder: "DESCEND",
			Limit: 1, MaxCreateRevision: i64(m.rev - 1)})
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		pred := string(resp.Kvs[0].Key)
	wait:
		for {
			r, err := watchNext(ctx, wch)
			if err != nil {
				return err
			}
			for _, ev := range r.Events {
				if ev.Type == "DELETE" && string(ev.Kv.Key) == pred {
					break wait
				}
			}
		}
	}
}

// retryTransient runs fn until it succeeds, fails for a reason other than
// the cluster's (transient), or ctx is done, backing off from 10 to 200 ms.
func retryTransient(ctx context.Context, fn func() error) error {
	wait := 10 * time.Millisecond
	for {
		err := fn()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// transient reports whether err may pass once the cluster has a leader
// again: no leader, a request cut off by a leader change, an endpoint gone,
// or a watch ended without a reason of its own.
func transient(err error) bool {
	if errors.Is(err, errWatchEnded) || errors.Is(err, errUnreachable) || errors.Is(err, errCutOff) {
		return true
	}
	var re *rpcError
	if !errors.As(err, &re) {
		return false
	}
	return re.code == codeUnavailable || strings.HasPrefix(re.msg, "etcdserver: request timed out") ||
		re.msg == "etcdserver: no leader" || re.msg == "etcdserver: leader changed"
}

var errWatchEnded = errors.New("the watch ended before the lock's holder let go")

// watchNext is the next message of a watch stream, or the error that
// ended it.
func watchNext(ctx context.Context, wch <-chan watchMsg) (*watchResp, error) {
	m, ok := <-wch
	switch {
	case ok && m.err == nil && m.r.Canceled:
		return nil, errWatchEnded
	case ok && m.err == nil:
		return m.r, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case ok:
		return nil, m.err
	}
	return nil, errWatchEnded
}

// cleanup removes the key of a waiter that gave up, so it does not hold up
// the line until its lease ends; best effort, bounded.
func (m *mutex) cleanup(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = m.unlock(cctx)
}

func (m *mutex) unlock(ctx context.Context) error {
	if m.rev == 0 {
		return nil
	}
	if _, err := m.c.deleteRange(ctx, deleteReq{Key: []byte(m.key)}); err != nil {
		return err
	}
	m.rev = 0
	return nil
}

// held compares, in a Txn, that this contender's key is still the one it
// created (its lease has not ended).
func (m *mutex) held() compare {
	return cmpCreate([]byte(m.key), m.rev)
}
