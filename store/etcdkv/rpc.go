package etcdkv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The v3 calls this package makes, over the gateway. Keys here are
// absolute (prefixed); errors are the transport's, for explain.

func (c *Client) rangeKeys(ctx context.Context, req rangeReq) (*rangeResp, error) {
	var resp rangeResp
	if err := c.gw.call(ctx, "/v3/kv/range", &req, &resp, callOpts{repeat: true}); err != nil {
		return nil, err
	}
	return &resp, nil
}

// txn sends a transaction. One without writes is safe to send again to
// another member.
func (c *Client) txn(ctx context.Context, req txnReq) (*txnResp, error) {
	repeat := true
	for _, ops := range [][]requestOp{req.Success, req.Failure} {
		for _, op := range ops {
			if op.Range == nil {
				repeat = false
			}
		}
	}
	var resp txnResp
	if err := c.gw.call(ctx, "/v3/kv/txn", &req, &resp, callOpts{repeat: repeat}); err != nil {
		return nil, err
	}
	return &resp, nil
}

func (c *Client) deleteRange(ctx context.Context, req deleteReq) (*deleteResp, error) {
	var resp deleteResp
	if err := c.gw.call(ctx, "/v3/kv/deleterange", &req, &resp, callOpts{}); err != nil {
		return nil, err
	}
	return &resp, nil
}

// grant asks for a lease of ttl seconds. A grant sent twice leaves an
// unused lease that expires: safe to repeat.
func (c *Client) grant(ctx context.Context, secs int64) (int64, error) {
	var resp leaseResp
	if err := c.gw.call(ctx, "/v3/lease/grant", &leaseReq{TTL: i64(secs)}, &resp, callOpts{repeat: true}); err != nil {
		return 0, err
	}
	if resp.Error != "" {
		return 0, &rpcError{code: codeUnavailable, msg: resp.Error}
	}
	return int64(resp.ID), nil
}

func (c *Client) revoke(ctx context.Context, lease int64) error {
	var resp leaseResp
	return c.gw.call(ctx, "/v3/lease/revoke", &leaseReq{ID: i64(lease)}, &resp, callOpts{repeat: true})
}

// errLeaseGone: a keep-alive found the lease expired or revoked.
var errLeaseGone = errors.New("the lease has expired or was revoked")

// keepAlive renews a lease once and returns its new TTL.
func (c *Client) keepAlive(ctx context.Context, lease int64) (time.Duration, error) {
	var ttl int64
	got := false
	err := c.gw.stream(ctx, "/v3/lease/keepalive", &leaseReq{ID: i64(lease)}, callOpts{repeat: true}, func(m json.RawMessage) error {
		var resp leaseResp
		if err := json.Unmarshal(m, &resp); err != nil {
			return err
		}
		ttl, got = int64(resp.TTL), true
		return io.EOF // one answer is all there is
	})
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if !got {
		return 0, fmt.Errorf("%w: the keep-alive got no answer", errCutOff)
	}
	if ttl <= 0 {
		return 0, errLeaseGone
	}
	return time.Duration(ttl) * time.Second, nil
}

// Status is what a member says of itself (doctor).
type Status struct {
	// Version is the member's etcd version.
	Version string
	// Leader is the member id of the leader it follows (0: none).
	Leader uint64
}

// Status asks the member at endpoint ("host:port", one of Target's) for
// its version and leader.
func (c *Client) Status(ctx context.Context, endpoint string) (Status, error) {
	ep := -1
	for i, e := range c.target.Endpoints {
		if e == endpoint {
			ep = i
		}
	}
	if ep < 0 {
		return Status{}, fmt.Errorf("etcdkv: status of %s: not an endpoint of %s", endpoint, c.target)
	}
	_, token, err := c.gw.auth(ctx)
	var resp statusResp
	if err == nil {
		var hr *http.Response
		if hr, err = c.gw.send(ctx, ep, "/v3/maintenance/status", []byte("{}"), token, false); err == nil {
			err = decode(hr, &resp)
		}
	}
	if err != nil {
		return Status{}, fmt.Errorf("etcdkv: status of %s: %w", endpoint, c.explain(err))
	}
	return Status{Version: resp.Version, Leader: uint64(resp.Leader)}, nil
}

// Revision is the cluster's current revision.
func (c *Client) Revision(ctx context.Context) (int64, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	resp, err := c.rangeKeys(ctx, rangeReq{Key: []byte(c.prefix), CountOnly: true})
	if err != nil {
		return 0, fmt.Errorf("etcdkv: revision: %w", c.explain(err))
	}
	return int64(resp.Header.Revision), nil
}
