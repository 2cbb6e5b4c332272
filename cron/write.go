package cron

import (
	"errors"
	"sync"

	"github.com/scriptrun/scriptrun/store"
)

// maxBatch bounds the writes committed in one transaction: 1,000 runs due
// at once make three writes each (queued or running, started, ended), and
// each bbolt commit rewrites most of the pages of the run index, so fewer,
// larger commits start the last runs sooner. On a clustered (etcd) store,
// maxClusterBatch keeps a batch of run records within etcd's 128
// operations per transaction (a record with its index, output, active
// entry and trim is about ten).
const (
	maxBatch        = 1024
	maxClusterBatch = 8
	// maxQueued bounds the writes waiting for the writer; a write beyond
	// it waits to be queued.
	maxQueued = 1024
)

// writer commits run records in batches. A durable bbolt commit costs about
// a millisecond, so a hundred jobs due on the same second would otherwise
// start up to a tenth of a second apart; writes that arrive while a commit
// is in progress share the next one. Like bbolt's DB.Batch, a function may
// run more than once (when another in its batch fails) and must only assign
// what it captures, never append. A write is committed after every write
// queued before it (do, start).
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
	fn   func(*store.Tx) error
	err  chan error  // do: receives the outcome
	then func(error) // start: called with the outcome
}

var errWriterClosed = errors.New("cron: the scheduler has stopped recording runs")

func newWriter(db *store.DB) *writer {
	w := &writer{db: db, max: maxBatch, reqs: make(chan *writeReq, maxQueued), done: make(chan struct{})}
	if db != nil && db.Clustered() {
		w.max = maxClusterBatch
	}
	return w
}

// do runs fn in a write transaction, possibly together with others, and
// returns fn's error (or the commit's).
func (w *writer) do(fn func(*store.Tx) error) error {
	req := &writeReq{fn: fn, err: make(chan error, 1)}
	if !w.queue(req) {
		return errWriterClosed
	}
	return <-req.err
}

// start queues fn like do, without waiting for it: then is called with
// its outcome once it is committed (or failed), on a goroutine of the
// writer's, and must not wait for a write. It reports whether fn was
// queued (false: the writer is closed, and then is not called).
func (w *writer) start(fn func(*store.Tx) error, then func(error)) bool {
	return w.queue(&writeReq{fn: fn, then: then})
}

// queue hands req to the loop, waiting while maxQueued writes wait.
func (w *writer) queue(req *writeReq) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.wg.Add(1)
	w.mu.Unlock()
	w.once.Do(func() { go w.loop() })
	w.reqs <- req
	w.wg.Done()
	return true
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
	errs := make([]error, len(batch))
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
			w.answer(batch, errs)
			return
		}
	}
	for i, r := range batch {
		errs[i] = w.db.Update(r.fn)
	}
	w.answer(batch, errs)
}

// answer gives each write of a committed batch its outcome: do's callers
// at once, start's callbacks on one goroutine for the batch (a callback
// may take a moment; the next batch need not wait for it).
func (w *writer) answer(batch []*writeReq, errs []error) {
	var thens []func()
	for i, r := range batch {
		if r.then == nil {
			r.err <- errs[i]
			continue
		}
		then, err := r.then, errs[i]
		thens = append(thens, func() { then(err) })
	}
	if len(thens) > 0 {
		go func() {
			for _, f := range thens {
				f()
			}
		}()
	}
}
