package main

import (
	"sync"
	"time"
)

// Spare job processes. Starting a `scriptrun _job` costs about 6 ms of CPU
// (exec, the Go runtime, package initialisation), most of it before the
// child reads its job. When many jobs are due on the same second, starting
// their children one after the other on a small machine delays the last of
// them by a few hundred milliseconds. So serve keeps children started ahead,
// waiting for a job on their standard input, about as many as it started in
// the busiest second of the last spareWindow (at most maxSpareJobs). An idle
// spare holds about 2 MiB of private memory (the binary's pages are shared).
//
// Spares are started once the runs stop arriving for spareQuiet (at most
// spareMaxDelay after the first): the runs of a burst need the CPU first.
const (
	maxSpareJobs  = 128
	spareWindow   = 2 * time.Minute
	spareSeconds  = int(spareWindow / time.Second)
	spareQuiet    = 20 * time.Millisecond
	spareMaxDelay = 250 * time.Millisecond
)

// spares are the idle children of a jobProcess. Its zero value keeps none;
// max > 0 turns it on. Methods are safe for concurrent use.
type spares struct {
	max   int
	spawn func() (*jobChild, error)

	mu      sync.Mutex                           // guards the fields below
	idle    []*jobChild                          // oldest first
	starts  [spareSeconds]struct{ sec, n int64 } // runs started per second, a ring
	wake    chan struct{}
	stop    chan struct{}
	running bool // the fill loop
	closed  bool
	loop    sync.WaitGroup
}

// note counts a run start, and has the fill loop replace the spare it may take.
func (s *spares) note() {
	if s.max <= 0 {
		return
	}
	now := time.Now().Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	b := &s.starts[now%int64(spareSeconds)]
	if b.sec != now {
		b.sec, b.n = now, 0
	}
	b.n++
	if !s.running {
		s.running = true
		s.wake, s.stop = make(chan struct{}, 1), make(chan struct{})
		s.loop.Add(1)
		go s.fill()
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take returns an idle child that is still alive, newest first, or nil.
func (s *spares) take() *jobChild {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.idle) > 0 {
		c := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if c.alive() {
			return c
		}
		go c.discard() // died while idle
	}
	return nil
}

// want is the busiest second's run starts within spareWindow. s.mu is held.
func (s *spares) want() int {
	now := time.Now().Unix()
	var n int64
	for _, b := range s.starts {
		if now-b.sec < int64(spareSeconds) {
			n = max(n, b.n)
		}
	}
	return min(int(n), s.max)
}

// fill keeps the number of idle children at want: it starts the missing
// ones one at a time (leaving the other cores to the runs), and every second
// retires those no longer wanted.
func (s *spares) fill() {
	defer s.loop.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
			if !s.settle() {
				return
			}
		case <-tick.C:
		}
		for {
			s.mu.Lock()
			closed, have, want := s.closed, len(s.idle), s.want()
			var extra *jobChild
			if have > want {
				extra, s.idle = s.idle[0], s.idle[1:]
			}
			s.mu.Unlock()
			if closed {
				return
			}
			if extra != nil {
				extra.discard()
				continue
			}
			if have == want {
				break
			}
			c, err := s.spawn()
			if err != nil {
				break // the run that needs a child starts its own, and reports the error
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.discard()
				return
			}
			s.idle = append(s.idle, c)
			s.mu.Unlock()
		}
	}
}

// settle waits until no run has started for spareQuiet, or spareMaxDelay
// has passed; it reports false when the loop is to stop.
func (s *spares) settle() bool {
	quiet := time.NewTimer(spareQuiet)
	defer quiet.Stop()
	limit := time.NewTimer(spareMaxDelay)
	defer limit.Stop()
	for {
		select {
		case <-s.stop:
			return false
		case <-s.wake:
			quiet.Reset(spareQuiet)
		case <-quiet.C:
			return true
		case <-limit.C:
			return true
		}
	}
}

// close stops the fill loop and kills the idle children.
func (s *spares) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	idle := s.idle
	s.idle = nil
	if s.running {
		close(s.stop)
	}
	s.mu.Unlock()
	s.loop.Wait()
	for _, c := range idle {
		c.discard()
	}
}
