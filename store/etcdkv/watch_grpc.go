//go:build !etcdgw

package etcdkv

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Event is one change under a watched prefix, or the error that ended the
// watch.
type Event struct {
	// Key is relative to the client's prefix.
	Key   string
	Value []byte // nil for a delete
	// ModRevision is the revision of the change (of the delete, for one).
	ModRevision int64
	Deleted     bool
	// Err, when set, ends the watch: history was compacted past the
	// requested revision, or the client closed. The watcher re-reads
	// (List) and watches again from the revision it got.
	Err error
}

// Watch delivers every change under prefix made after revision after (0:
// from now) until ctx is done, in revision order; the channel is closed
// then. A change is delivered as soon as the cluster commits it (well within
// the second that issue 13 allows). The watch requires a leader, so a member
// cut off from the others ends it with an error rather than going quiet. A
// member that hangs with its connections open keeps the watch silent until
// the client's keep-alive (5 s + 3 s) moves it to another member, where it
// resumes from the last revision delivered.
func (c *Client) Watch(ctx context.Context, prefix string, after int64) <-chan Event {
	opts := []clientv3.OpOption{clientv3.WithPrefix()}
	if after > 0 {
		opts = append(opts, clientv3.WithRev(after+1))
	}
	out := make(chan Event, 16)
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	wch := c.cli.Watch(wctx, c.key(prefix), opts...)
	go func() {
		defer close(out)
		defer cancel()
		send := func(e Event) bool {
			select {
			case out <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for resp := range wch {
			if err := resp.Err(); err != nil {
				send(Event{Err: fmt.Errorf("etcdkv: watch %s: %w", prefix, c.explain(err))})
				return
			}
			for _, ev := range resp.Events {
				e := c.kv(ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision, ev.Kv.CreateRevision, ev.Kv.Lease)
				if !send(Event{Key: e.Key, Value: e.Value, ModRevision: e.ModRevision, Deleted: ev.Type == clientv3.EventTypeDelete}) {
					return
				}
			}
		}
		if ctx.Err() == nil {
			send(Event{Err: fmt.Errorf("etcdkv: watch %s ended: %w", prefix, ErrUnavailable)})
		}
	}()
	return out
}
