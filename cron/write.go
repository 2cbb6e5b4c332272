package cron

import (
	"errors"
	"sync"

	"github.com/scriptrun/scriptrun/store"
)

// maxBatch bounds the writes committed in one transaction; on a clustered
// (etcd) store, maxClusterBatch keeps a batch of run records within etcd's
// 128 operations per transaction (a record with its index, output, active
// entry and trim is about ten).
const (
	maxBatch        = 256
	maxClusterBatch = 8
)

// writer commits run records in batches. A durable bbolt commit costs about
// a millisecond, so a hundred jobs due on the same second would otherwise
// start up to a tenth of a second apart; writes that arrive while a commit
// is in progress share the next one. Like bbolt's DB.Batch, a function may
// run more than once (when another in its batch fails) and must only assign
// what it captures, never append.
type writer struct {
	db   *store.DB
	max  int // functions per batch
	once sync.Once
	reqs chan *writeReq

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // writers waiting to hand over a request
	done   chan struct{}  // closed when the loop has exited
}

type writeReq struct {
	fn  func(*store.Tx) error
	err chan error
}

var errWriterClosed = errors.New("cron: the scheduler has stopped recording runs")

func newWriter(db *store.DB) *writer {
	w := &writer{db: db, max: maxBatch, reqs: make(chan *writeReq), done: make(chan struct{})}
	if db != nil && db.Clustered() {
		w.max = maxClusterBatch
	}
	return w
}

// do runs fn in a write transaction, possibly together with others, and
// returns fn's error (or the commit's).
func (w *writer) do(fn func(*store.Tx) error) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errWriterClosed
	}
	w.wg.Add(1)
	w.mu.Unlock()
	w.once.Do(func() { go w.loop() })
	req := &writeReq{fn: fn, err: make(chan error, 1)}
	w.reqs <- req
	w.wg.Done()
	return <-req.err
}

// close waits for the writes in progress and stops the loop.
func (w *writer) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	w.wg.Wait()
	w.once.Do(func() { close(w.done) }) // never started
	close(w.reqs)
	<-w.done
}

func (w *writer) loop() {
	defer close(w.done)
	for req := range w.reqs {
		batch := []*writeReq{req}
	more:
		for len(batch) < w.max {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		w.commit(batch)
	}
}

// commit runs a batch in one transaction; if any function fails, each is
// retried alone so that one bad write does not sink the others.
func (w *writer) commit(batch []*writeReq) {
	if len(batch) > 1 {
		err := w.db.Update(func(tx *store.Tx) error {
			for _, r := range batch {
				if err := r.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, r := range batch {
				r.err <- nil
			}
			return
		}
	}
	for _, r := range batch {
		r.err <- w.db.Update(r.fn)
	}
}
