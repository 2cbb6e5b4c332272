package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Grant creates a lease of ttl (rounded up to whole seconds; etcd may raise
// a very short one to its minimum, about 2 s by default). Keys written with
// OpPutLease under it are deleted when it expires or is revoked.
func (c *Client) Grant(ctx context.Context, ttl time.Duration) (int64, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	secs := int64((ttl + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	id, err := c.grant(ctx, secs)
	if err != nil {
		return 0, fmt.Errorf("etcdkv: grant a %s lease: %w", ttl, c.explain(err))
	}
	return id, nil
}

// Revoke ends a lease at once, deleting its keys.
func (c *Client) Revoke(ctx context.Context, lease int64) error {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	if err := c.revoke(ctx, lease); err != nil {
		return fmt.Errorf("etcdkv: revoke lease %x: %w", lease, c.explain(err))
	}
	return nil
}

// PutTTL writes key so that it disappears ttl from now (console sessions,
// CSRF state, OAuth state and PKCE verifiers), and returns the lease, which
// a later write can reuse or Revoke. With create set the write is
// create-only (ErrExists), and an unused lease is revoked.
func (c *Client) PutTTL(ctx context.Context, key string, value []byte, ttl time.Duration, create bool) (lease int64, err error) {
	if err := c.checkSize(nil, []Op{OpPut(key, value)}); err != nil {
		return 0, fmt.Errorf("etcdkv: write %s: %w", keyText(key), err)
	}
	lease, err = c.Grant(ctx, ttl)
	if err != nil {
		return 0, err
	}
	var conds []Cond
	if create {
		conds = []Cond{Unchanged(key, 0)}
	}
	if _, err = c.Commit(ctx, conds, []Op{OpPutLease(key, value, lease)}); err != nil {
		// Best effort: an unused lease would expire anyway.
		_ = c.Revoke(context.WithoutCancel(ctx), lease)
		if errors.Is(err, ErrConflict) {
			return 0, fmt.Errorf("etcdkv: create %s: %w", keyText(key), ErrExists)
		}
		return 0, err
	}
	return lease, nil
}

// Take reads and deletes a key in one request, so that of any number of
// callers exactly one gets it (an OAuth state is used once). A missing or
// expired key gives ErrNotFound.
func (c *Client) Take(ctx context.Context, key string) (KV, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	resp, err := c.deleteRange(ctx, deleteReq{Key: []byte(c.key(key)), PrevKV: true})
	if err != nil {
		return KV{}, fmt.Errorf("etcdkv: take %s: %w", keyText(key), c.explain(err))
	}
	if len(resp.PrevKvs) == 0 {
		return KV{}, fmt.Errorf("etcdkv: take %s: %w", keyText(key), ErrNotFound)
	}
	return c.kv(&resp.PrevKvs[0]), nil
}
