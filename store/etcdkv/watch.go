package etcdkv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
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

// ErrCompacted: a watch asked for history the cluster has compacted away.
// The watcher re-reads and watches again from the revision it got.
var ErrCompacted = errors.New("required revision has been compacted")

// Watch delivers every change under prefix made after revision after (0:
// from now) until ctx is done, in revision order; the channel is closed
// then. A change is delivered as soon as the cluster commits it (well within
// the second that issue 13 allows). The watch requires a leader: a member
// that has none, or whose connection breaks, hands the watch to the next
// member, where it resumes from the revision after the last one delivered;
// when no member serves it for the client's timeout (DialTimeout) the
// watch ends with an error wrapping ErrUnavailable. A compacted revision
// ends it with ErrCompacted.
func (c *Client) Watch(ctx context.Context, prefix string, after int64) <-chan Event {
	out := make(chan Event, 16)
	created := make(chan struct{})
	go func() {
		defer close(out)
		err := c.follow(ctx, prefix, after, out, created)
		if ctx.Err() == nil {
			select {
			case out <- Event{Err: fmt.Errorf("etcdkv: watch %s: %w", prefix, err)}:
			case <-ctx.Done():
			}
		}
	}()
	// A watch from now starts at the revision of its creation: wait for
	// it (or its failure), so that a change made after Watch returns is
	// delivered.
	select {
	case <-created:
	case <-ctx.Done():
	}
	return out
}

// follow runs watch streams one after the other, each from the revision
// after the last delivered, until one fails for a reason of its own or none
// could be opened for the client's timeout.
func (c *Client) follow(ctx context.Context, prefix string, after int64, out chan<- Event, created chan struct{}) error {
	var once sync.Once
	signal := func() { once.Do(func() { close(created) }) }
	defer signal()
	full := []byte(c.key(prefix))
	create := watchCreate{Key: full, RangeEnd: prefixEnd(full)}
	if after > 0 {
		create.StartRevision = i64(after + 1)
	}
	since := time.Now() // when the last stream that worked ended
	for {
		wctx, cancel := context.WithCancel(ctx)
		hb := c.heartbeat(wctx, cancel)
		began := time.Now()
		err := c.followOnce(wctx, hb, &create, out, signal)
		cancel()
		if time.Unix(0, hb.last.Load()).After(began) {
			since = time.Now() // the stream worked: the budget starts again
		}
		if hb.hung.Load() {
			err = fmt.Errorf("%w: the member stopped answering", errCutOff)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !transient(err) {
			return c.explain(err)
		}
		if time.Since(since) > c.timeout {
			return fmt.Errorf("%w: no member served the watch for %s: %v", ErrUnavailable, c.timeout, c.explain(err))
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// followOnce runs one stream, moving create's start past each delivered
// event.
func (c *Client) followOnce(ctx context.Context, hb *heartbeat, create *watchCreate, out chan<- Event, created func()) error {
	for m := range c.watchStream(ctx, *create, hb.opened) {
		hb.last.Store(time.Now().UnixNano())
		if m.err != nil {
			return m.err
		}
		r := m.r
		if r.CompactRevision > 0 {
			return fmt.Errorf("%w: history up to revision %d is gone (the watch asked from %d); re-read and watch again",
				ErrCompacted, r.CompactRevision, create.StartRevision)
		}
		if r.Canceled {
			return &rpcError{code: codeUnavailable, msg: "the member cancelled the watch: " + r.CancelReason}
		}
		if r.Created && create.StartRevision == 0 {
			// From now: pin now, so that a resumed stream misses nothing.
			create.StartRevision = r.Header.Revision + 1
		}
		if r.Created {
			created()
		}
		for i := range r.Events {
			e := c.kv(&r.Events[i].Kv)
			ev := Event{Key: e.Key, Value: e.Value, ModRevision: e.ModRevision, Deleted: r.Events[i].Type == "DELETE"}
			if ev.Deleted {
				ev.Value = nil
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
			create.StartRevision = i64(e.ModRevision + 1)
		}
	}
	return errWatchEnded
}

// watchMsg is one message of a watch stream, or the error that ended it.
type watchMsg struct {
	r   *watchResp
	err error
}

// watchStream opens one watch (requiring a leader) and delivers its
// messages; the last one carries the error that ended it. Cancelling ctx
// closes the connection, which ends the watch on the member.
func (c *Client) watchStream(ctx context.Context, create watchCreate, opened func(ep int)) <-chan watchMsg {
	ch := make(chan watchMsg, 16)
	go func() {
		defer close(ch)
		err := c.gw.stream(ctx, "/v3/watch", &watchReq{Create: create}, callOpts{leader: true, repeat: true, opened: opened}, func(m json.RawMessage) error {
			var r watchResp
			if err := json.Unmarshal(m, &r); err != nil {
				return fmt.Errorf("read a watch event: %w", err)
			}
			select {
			case ch <- watchMsg{r: &r}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if errors.Is(err, io.EOF) {
			err = errWatchEnded
		}
		select {
		case ch <- watchMsg{err: err}:
		case <-ctx.Done():
		}
	}()
	return ch
}

// Watch heartbeat: a member that hangs with its connection open (a stopped
// process, a partition that drops packets) would keep a watch silent
// forever, as TCP has nothing to send. When a stream has been quiet for
// watchQuiet, the member it is on is asked for its status; no answer
// within watchProbe ends the stream, and the watch resumes on another.
const (
	watchQuiet = 5 * time.Second
	watchProbe = 3 * time.Second
)

type heartbeat struct {
	ep   atomic.Int64 // member of the stream; -1 until opened
	last atomic.Int64 // unix ns of the last message
	hung atomic.Bool
}

func (h *heartbeat) opened(ep int) { h.ep.Store(int64(ep)) }

// heartbeat watches over one stream until ctx is done, calling cancel if
// its member hangs.
func (c *Client) heartbeat(ctx context.Context, cancel context.CancelFunc) *heartbeat {
	h := &heartbeat{}
	h.ep.Store(-1)
	h.last.Store(time.Now().UnixNano())
	go func() {
		t := time.NewTicker(watchQuiet)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ep := int(h.ep.Load())
			if ep < 0 || time.Since(time.Unix(0, h.last.Load())) < watchQuiet {
				continue
			}
			if !c.gw.alive(ctx, ep, watchProbe) && ctx.Err() == nil {
				c.gw.moveOn(ep) // the stream and calls go elsewhere
				h.hung.Store(true)
				cancel()
				return
			}
		}
	}()
	return h
}
