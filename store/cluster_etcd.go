package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
)

var _ clusterBackend = (*etcdBackend)(nil)

// register keeps a lease of its own alive (an etcdkv.Session) and creates
// key on it.
func (e *etcdBackend) register(ctx context.Context, k string, ttl time.Duration, value func(lease int64) ([]byte, error)) (<-chan struct{}, func() error, error) {
	s, err := e.c.NewSession(ctx, ttl)
	if err != nil {
		return nil, nil, fmt.Errorf("keep a lease alive: %w", err)
	}
	v, err := value(s.Lease())
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = e.c.Commit(cctx, []etcdkv.Cond{etcdkv.Unchanged(k, 0)}, []etcdkv.Op{etcdkv.OpPutLease(k, v, s.Lease())})
	if errors.Is(err, etcdkv.ErrConflict) {
		err = ErrExists
	}
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	release := func() error {
		// Revoking the lease deletes key; a cluster that cannot be
		// reached lets it expire within ttl.
		if err := s.Close(); err != nil {
			return fmt.Errorf("end the lease of %s: %w", k, err)
		}
		return nil
	}
	return s.Done(), release, nil
}

// watch follows space with etcdkv.Watch from the revision current when it
// is called, so that every change committed after watch returns is heard.
// After the watch broke (a member without a leader, the client closing) it
// watches again from a fresh revision and calls fn(""): the caller re-reads
// what it follows.
func (e *etcdBackend) watch(ctx context.Context, space string, fn func(name string)) {
	prefix := space + "/"
	after := e.revision(ctx)
	go func() {
		for {
			for ev := range e.c.Watch(ctx, prefix, after) {
				if ev.Err != nil {
					break // the channel closes next
				}
				fn(strings.TrimPrefix(ev.Key, prefix))
			}
			// A pause keeps a cluster without quorum from being hammered.
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			after = e.revision(ctx)
			fn("")
		}
	}()
}

// revision is the cluster's current revision, 0 (watch from whenever the
// watch starts) when it cannot be read.
func (e *etcdBackend) revision(ctx context.Context) int64 {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rev, err := e.c.Revision(cctx)
	if err != nil {
		return 0
	}
	return rev
}
