//go:build !etcdgw

package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	cli   *clientv3.Client
	pfx   string // ends in "/"
	lease clientv3.LeaseID
	key   string
	rev   int64 // create revision of key; 0: not held
}

func newMutex(cli *clientv3.Client, pfx string, lease clientv3.LeaseID) *mutex {
	return &mutex{cli: cli, pfx: pfx + "/", lease: lease}
}

// enqueue puts this contender's key (or finds it from an earlier attempt)
// and reports whether it is first in line.
func (m *mutex) enqueue(ctx context.Context) (first bool, err error) {
	m.key = fmt.Sprintf("%s%x", m.pfx, int64(m.lease))
	resp, err := m.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(m.key), "=", 0)).
		Then(clientv3.OpPut(m.key, "", clientv3.WithLease(m.lease)), clientv3.OpGet(m.pfx, clientv3.WithFirstCreate()...)).
		Else(clientv3.OpGet(m.key), clientv3.OpGet(m.pfx, clientv3.WithFirstCreate()...)).
		Commit()
	if err != nil {
		return false, err
	}
	m.rev = resp.Header.Revision
	if !resp.Succeeded {
		m.rev = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	owner := resp.Responses[1].GetResponseRange().Kvs
	return len(owner) == 0 || owner[0].CreateRevision == m.rev, nil
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
	resp, err := m.cli.Get(ctx, m.key)
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
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := m.cli.Watch(wctx, m.pfx, clientv3.WithPrefix(), clientv3.WithFilterPut(), clientv3.WithCreatedNotify())
	wr, ok := <-wch // the creation notice
	if err := watchErr(ctx, wr, ok); err != nil {
		return err
	}
	opts := append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(m.rev-1))
	for {
		resp, err := m.cli.Get(ctx, m.pfx, opts...)
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		pred := string(resp.Kvs[0].Key)
	wait:
		for {
			wr, ok := <-wch
			if err := watchErr(ctx, wr, ok); err != nil {
				return err
			}
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE && string(ev.Kv.Key) == pred {
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
	if errors.Is(err, errWatchEnded) {
		return true
	}
	err = rpctypes.Error(err)
	switch {
	case errors.Is(err, rpctypes.ErrNoLeader), errors.Is(err, rpctypes.ErrTimeout),
		errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail), errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost),
		errors.Is(err, rpctypes.ErrLeaderChanged):
		return true
	}
	s, ok := status.FromError(err)
	return ok && s.Code() == codes.Unavailable
}

var errWatchEnded = errors.New("the watch ended before the lock's holder let go")

// watchErr is the error that ended a watch, if wr (received with ok) is
// its last response.
func watchErr(ctx context.Context, wr clientv3.WatchResponse, ok bool) error {
	if err := wr.Err(); err != nil {
		return err
	}
	if !ok || wr.Canceled {
		if err := ctx.Err(); err != nil {
			return err
		}
		return errWatchEnded
	}
	return nil
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
	if _, err := m.cli.Delete(ctx, m.key); err != nil {
		return err
	}
	m.rev = 0
	return nil
}

// held compares, in a Txn, that this contender's key is still the one it
// created (its lease has not ended).
func (m *mutex) held() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(m.key), "=", m.rev)
}
