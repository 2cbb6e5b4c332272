package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Session is a lease kept alive in the background, from NewSession: what
// a client's locks and a node's registration live on. Done is closed once
// the lease is lost (expired: no keep-alive reached the cluster within its
// TTL; revoked) or the session is closed.
type Session struct {
	c      *Client
	lease  int64
	ttl    time.Duration
	done   chan struct{}
	cancel context.CancelFunc
	once   sync.Once
}

// NewSession grants a lease of ttl (whole seconds, at least 1) and renews
// it every third of its TTL until Close or its loss.
func (c *Client) NewSession(ctx context.Context, ttl time.Duration) (*Session, error) {
	secs := max(int64((ttl+time.Second-1)/time.Second), 1)
	gctx, cancel := c.ctx(ctx)
	defer cancel()
	id, err := c.grant(gctx, secs)
	if err != nil {
		return nil, fmt.Errorf("etcdkv: grant a %s lease: %w", ttl, c.explain(err))
	}
	kctx, kcancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Session{c: c, lease: id, ttl: time.Duration(secs) * time.Second, done: make(chan struct{}), cancel: kcancel}
	go s.keepAlive(kctx)
	return s, nil
}

// Lease is the session's lease id.
func (s *Session) Lease() int64 { return s.lease }

// Done is closed when the lease is lost or the session closed.
func (s *Session) Done() <-chan struct{} { return s.done }

// keepAlive renews the lease every third of its TTL; a renewal that fails
// is tried again every half second until the lease would have expired.
func (s *Session) keepAlive(ctx context.Context) {
	defer close(s.done)
	expires := time.Now().Add(s.ttl)
	wait := s.ttl / 3
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		kctx, cancel := context.WithTimeout(ctx, max(s.ttl/3, time.Second))
		ttl, err := s.c.keepAlive(kctx, s.lease)
		cancel()
		switch {
		case err == nil:
			expires, wait = time.Now().Add(ttl), ttl/3
		case errors.Is(err, errLeaseGone), time.Now().After(expires):
			return
		default:
			wait = min(500*time.Millisecond, time.Until(expires))
		}
	}
}

// Close stops the keep-alive and revokes the lease, deleting the keys
// attached to it. A cluster that cannot be reached lets it expire within
// its TTL instead.
func (s *Session) Close() error {
	s.orphan()
	ctx, cancel := context.WithTimeout(context.Background(), s.c.timeout)
	defer cancel()
	if err := s.c.revoke(ctx, s.lease); err != nil {
		return fmt.Errorf("etcdkv: revoke lease %x: %w", s.lease, s.c.explain(err))
	}
	return nil
}

// orphan stops the keep-alive and waits for it to end, leaving the lease
// to expire.
func (s *Session) orphan() {
	s.once.Do(s.cancel)
	<-s.done
}
