package main

import (
	goruntime "runtime"
	"sync"
	"time"
)

// Idle job processes. Starting a `scriptrun _job` costs about 6 ms of CPU
// (exec, the Go runtime, package initialisation) before it reads its first
// job; a run on a child that is ready takes about 1 ms. So a child whose run
// ended cleanly waits for the next (see jobChild.reusable), and while runs
// keep coming serve keeps at least one child ready. When many runs are due
// at once, they share the ready children in turn: a run that finds none
// waits jobWaitForChild for one to come back before it starts another, and
// no more than jobStarting children start at a time. Idle children beyond
// the one are ended once unused for spareWindow; at most maxSpareJobs wait.
// An idle child holds about 2 MiB of private memory (the binary's pages are
// shared) once it has given back what its last run grew.
const (
	maxSpareJobs    = 128
	spareWindow     = 2 * time.Minute
	jobWaitForChild = 5 * time.Millisecond
	// Replacements start once runs stop arriving for spareQuiet (at most
	// spareMaxDelay after the first): the runs of a burst need the CPU first.
	spareQuiet    = 20 * time.Millisecond
	spareMaxDelay = 250 * time.Millisecond
)

// jobStarting is how many children may be starting at once: on a small
// machine more only slow each other down.
func jobStarting() int { return max(2, 2*goruntime.NumCPU()) }

// spares are the idle children of a jobProcess. Its zero value keeps none
// (a child is ended after its run); max > 0 turns it on. Methods are safe
// for concurrent use.
type spares struct {
	max   int
	spawn func() (*jobChild, error)

	slotsOnce sync.Once
	starting  chan struct{} // start slots: children starting, at most jobStarting

	mu        sync.Mutex    // guards the fields below
	idle      []*jobChild   // oldest first
	change    chan struct{} // closed when a child is put back
	lastStart time.Time
	wake      chan struct{}
	stop      chan struct{}
	running   bool // the fill loop
	closed    bool
	loop      sync.WaitGroup
}

// slots returns the start slots.
func (s *spares) slots() chan struct{} {
	s.slotsOnce.Do(func() { s.starting = make(chan struct{}, jobStarting()) })
	return s.starting
}

// note records a run start, and has the fill loop keep a child ready.
func (s *spares) note() {
	if s.max <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.lastStart = time.Now()
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

// changed returns a channel closed when a child is next put back.
func (s *spares) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.change == nil {
		s.change = make(chan struct{})
	}
	return s.change
}

// addLocked makes c idle and wakes the runs waiting for a child. s.mu is held.
func (s *spares) addLocked(c *jobChild) {
	c.idleSince = time.Now()
	s.idle = append(s.idle, c)
	if s.change != nil {
		close(s.change)
		s.change = nil
	}
}

// put takes back a child whose run ended cleanly, to serve the next; with
// spares off, or enough idle, it is retired.
func (s *spares) put(c *jobChild) {
	s.mu.Lock()
	keep := s.max > 0 && !s.closed && len(s.idle) < s.max
	if keep {
		s.addLocked(c)
	}
	s.mu.Unlock()
	if !keep {
		go c.discard()
	}
}

// want is how many children to keep ready: one while runs keep coming.
// s.mu is held.
func (s *spares) want() int {
	if time.Since(s.lastStart) < spareWindow {
		return 1
	}
	return 0
}

// fill keeps a child ready while runs keep coming, and ends children idle
// for spareWindow beyond that one; it looks after each burst of runs and
// every second.
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
		var retire []*jobChild
		s.mu.Lock()
		for len(s.idle) > s.want() && time.Since(s.idle[0].idleSince) > spareWindow {
			retire, s.idle = append(retire, s.idle[0]), s.idle[1:]
		}
		closed, short := s.closed, len(s.idle) < s.want()
		s.mu.Unlock()
		for _, c := range retire {
			go c.discard()
		}
		if closed {
			return
		}
		if !short {
			continue
		}
		c, err := s.spawn()
		if err != nil {
			continue // the next run starts its own, and reports the error
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.discard()
			return
		}
		s.addLocked(c)
		s.mu.Unlock()
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

// close stops the fill loop and ends the idle children.
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
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Go(c.discard)
	}
	wg.Wait()
}
