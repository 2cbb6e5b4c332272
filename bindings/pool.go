package bindings

import (
	"sync"
	"time"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// senderPool runs the requests of sendAsync, fetch and executeAsync on
// long-lived goroutines. A goroutine started per request begins with a
// small stack and grows it, copying it each time, on the way down net/http
// and the Signer: with 64 requests in flight that copying was 3 % of the
// process's CPU. A pooled sender keeps its grown stack for the next request.
//
// The pool never makes a request wait: Go hands the work to an idle sender,
// else starts a new one (up to max), else runs it on a goroutine of its own
// as before. So every request is in flight as soon as it is sent, however
// many there are; the pool only bounds how many goroutines stay around
// between requests. Idle senders are kept most recently used first, so the
// busy ones stay warm and the others age out: a sender idle for longer
// than idle exits. The pool has no goroutine at all once every sender has
// exited.
type senderPool struct {
	max  int
	idle time.Duration

	mu       sync.Mutex // guards the fields below and each sender's idleSince
	ready    []*sender  // idle senders, the most recently idle last
	senders  int        // busy and idle
	sweeping bool       // sweep is running
	closed   bool
	quit     chan struct{} // closed by Close
}

// sender is one long-lived goroutine of a pool.
type sender struct {
	work      chan func() // capacity 1: handing work over never blocks; nil means exit
	idleSince time.Time
}

// Sizes of the pool the runtimes of a process share: senders for hundreds
// of requests in flight, each kept a few seconds after its last request.
const (
	maxSenders = 256
	senderIdle = 5 * time.Second
)

// senders is the pool every runtime of the process uses, so that requests
// from several scripts (a session's evaluations, jobs) reuse the same
// goroutines.
// It is made on first use: a call here would be init work at every start.
var senders = lazy.Value[*senderPool]{New: func() *senderPool { return newSenderPool(maxSenders, senderIdle) }}

func newSenderPool(max int, idle time.Duration) *senderPool {
	return &senderPool{max: max, idle: idle, quit: make(chan struct{})}
}

// Go runs f on a sender: the one idle most recently, a new one if there
// are fewer than max, or else a goroutine of its own. It never waits for a
// sender to free up. After Close, f runs on a goroutine of its own.
func (p *senderPool) Go(f func()) {
	p.mu.Lock()
	if n := len(p.ready); n > 0 {
		s := p.ready[n-1]
		p.ready[n-1] = nil
		p.ready = p.ready[:n-1]
		p.mu.Unlock()
		s.work <- f
		return
	}
	if p.closed || p.senders >= p.max {
		p.mu.Unlock()
		go f()
		return
	}
	p.senders++
	startSweep := !p.sweeping
	p.sweeping = true
	p.mu.Unlock()
	if startSweep {
		go p.sweep()
	}
	go p.run(&sender{work: make(chan func(), 1)}, f)
}

// run is a sender's goroutine: it runs f, then the work Go hands it, until
// it is told to exit.
func (p *senderPool) run(s *sender, f func()) {
	for f != nil {
		f()
		if !p.release(s) {
			return
		}
		f = <-s.work
	}
}

// release makes s ready for more work; it returns false when the pool is
// closed, and s must exit.
func (p *senderPool) release(s *sender) bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.senders--
		return false
	}
	s.idleSince = now
	p.ready = append(p.ready, s)
	return true
}

// sweep tells senders idle for longer than p.idle to exit, every half of
// p.idle, until no sender is left or the pool is closed.
func (p *senderPool) sweep() {
	t := time.NewTicker(p.idle / 2)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
		}
		if !p.retire(time.Now().Add(-p.idle)) {
			return
		}
	}
}

// retire tells the ready senders idle since before cutoff to exit; it
// returns false, and sweep ends, once the pool has no sender left.
func (p *senderPool) retire(cutoff time.Time) bool {
	p.mu.Lock()
	var stale []*sender
	kept := p.ready[:0]
	for _, s := range p.ready {
		if s.idleSince.Before(cutoff) {
			stale = append(stale, s)
		} else {
			kept = append(kept, s)
		}
	}
	clear(p.ready[len(kept):])
	p.ready = kept
	p.senders -= len(stale)
	more := p.senders > 0
	p.sweeping = more
	p.mu.Unlock()
	for _, s := range stale {
		s.work <- nil
	}
	return more
}

// Len returns the number of senders, busy or idle.
func (p *senderPool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.senders
}

// Close makes idle senders exit at once and busy ones once their work is
// done; later work runs on goroutines of its own.
func (p *senderPool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.quit)
	ready := p.ready
	p.ready = nil
	p.senders -= len(ready)
	p.mu.Unlock()
	for _, s := range ready {
		s.work <- nil
	}
}
