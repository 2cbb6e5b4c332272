package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultLockTTL is the lease of a Client's locks: a holder that dies (or
// is cut off from the cluster) releases its locks this long after its last
// keep-alive.
const DefaultLockTTL = 10 * time.Second

// Lock is a held mutex, from Client.Lock.
//
// # Why the lease alone is not enough
//
// A Lock is held as long as its lease is kept alive. A holder that stalls
// (a GC pause, a stopped VM, a partition) past the TTL loses the lease
// while it still believes it holds the lock, and another process takes it.
// etcd's documentation says so of its own locks ("Notes on the usage of
// lock and lease" in its API guarantees, and contrib/lock, after
// Kleppmann): a lease-based lock alone cannot provide mutual exclusion; the
// protected resource must validate a version number (a fencing token).
// Lost reports the loss, but only after the fact: the holder may already be
// in the middle of a token endpoint call. So a lock only keeps others
// waiting (it saves them work); correctness comes from the write: a Commit
// fenced with Unchanged on the revision of what was read under the lock.
// If the compare holds, the write is right even if the lease has expired
// (and must be made: the provider has already rotated the refresh token);
// if it fails, someone else wrote in between, and the holder re-reads.
type Lock struct {
	release func() // the in-process turn
	m       *mutex
	session *Session
	name    string
	c       *Client
}

// Lock takes the named lock (shared by every process on the cluster under
// this prefix) and waits, on a watch of the lock's keys rather than by
// polling, until it is free or ctx is done. Processes are served in arrival
// order (see mutex).
//
// etcd's lock recipe belongs to a lease (its key is the name plus the
// lease id), and a client's locks share one lease, so to etcd every
// goroutine of a client is one holder: goroutines first queue in-process
// for the name, and only the one at the front waits on the cluster.
func (c *Client) Lock(ctx context.Context, name string) (*Lock, error) {
	release, err := c.local.Lock(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("etcdkv: lock %s: %w", name, err)
	}
	s, err := c.session(ctx)
	if err != nil {
		release()
		return nil, fmt.Errorf("etcdkv: lock %s: %w", name, err)
	}
	m := newMutex(c, c.key("locks/"+name), s.Lease())
	if err := m.lock(ctx); err != nil {
		release()
		return nil, fmt.Errorf("etcdkv: lock %s: %w", name, c.explain(err))
	}
	return &Lock{release: release, m: m, session: s, name: name, c: c}, nil
}

// ErrLocked: TryLock found the lock held by another process.
var ErrLocked = errors.New("held by another process")

// TryLock takes the named lock if no other process holds it, without
// waiting; otherwise it returns an error wrapping ErrLocked (cron's
// overlap check: a job already running anywhere on the cluster). Another
// goroutine of this client holding it counts as held too.
func (c *Client) TryLock(ctx context.Context, name string) (*Lock, error) {
	release, err := c.local.TryLock(name)
	if err != nil {
		return nil, fmt.Errorf("etcdkv: lock %s: %w", name, ErrLocked)
	}
	s, err := c.session(ctx)
	if err != nil {
		release()
		return nil, fmt.Errorf("etcdkv: lock %s: %w", name, err)
	}
	m := newMutex(c, c.key("locks/"+name), s.Lease())
	tctx, tcancel := c.ctx(ctx)
	defer tcancel()
	if err := m.tryLock(tctx); err != nil {
		release()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("etcdkv: lock %s: %w", name, ErrLocked)
		}
		return nil, fmt.Errorf("etcdkv: lock %s: %w", name, c.explain(err))
	}
	return &Lock{release: release, m: m, session: s, name: name, c: c}, nil
}

// Lost is closed when the lock's lease has expired or been revoked: from
// then on another process may hold the lock. See the type's doc for why
// writes are fenced anyway.
func (l *Lock) Lost() <-chan struct{} { return l.session.Done() }

// Held is a Commit condition that holds while this lock is still held,
// for writes that must not happen after a loss (most do not need it: see
// the type's doc).
func (l *Lock) Held() Cond {
	cmp := l.m.held()
	return Cond{key: "lock " + l.name, cmp: &cmp}
}

// Unlock releases the lock. Unlocking a lost lock is not an error. It must
// be called once.
func (l *Lock) Unlock(ctx context.Context) error {
	defer l.release()
	ctx, cancel := l.c.ctx(ctx)
	defer cancel()
	if err := l.m.unlock(ctx); err != nil {
		return fmt.Errorf("etcdkv: unlock %s: %w", l.name, l.c.explain(err))
	}
	return nil
}

// sessions: one lease per client, kept alive in the background, shared by
// all its locks; replaced once it is lost.
type sessions struct {
	mu  sync.Mutex
	s   *Session
	ttl time.Duration
}

func (c *Client) session(ctx context.Context) (*Session, error) {
	c.sess.mu.Lock()
	defer c.sess.mu.Unlock()
	if c.sess.s != nil {
		select {
		case <-c.sess.s.Done():
			c.sess.s = nil
		default:
			return c.sess.s, nil
		}
	}
	ttl := c.sess.ttl
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	s, err := c.NewSession(ctx, ttl)
	if err != nil {
		return nil, fmt.Errorf("the lock lease: %w", err)
	}
	c.sess.s = s
	return s, nil
}

// closeSession revokes the lock lease (releasing every lock at once).
func (c *Client) closeSession() {
	c.sess.mu.Lock()
	defer c.sess.mu.Unlock()
	if c.sess.s != nil {
		_ = c.sess.s.Close()
		c.sess.s = nil
	}
}

// LockLease is the lease behind this client's locks (0: none yet), for
// tests that simulate its expiry by revoking it.
func (c *Client) LockLease() int64 {
	c.sess.mu.Lock()
	defer c.sess.mu.Unlock()
	if c.sess.s == nil {
		return 0
	}
	return c.sess.s.Lease()
}
