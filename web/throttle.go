package web

import (
	"sync"
	"time"
)

// Failed sign-ins are slowed down per client address, never locked out:
// after freeFailures wrong passwords in a row, each further attempt must
// wait a delay that doubles from base up to max. Attempts made while
// waiting are refused without checking the password and without counting,
// so an attacker cannot push the wait beyond max, and the admin is never
// kept out longer than max (or at all, from another address).
const (
	freeFailures = 3
	// forgetAfter clears an address's record once it has been quiet this long.
	forgetAfter = 30 * time.Minute
	// maxClients bounds the addresses remembered.
	maxClients = 4096
)

type throttle struct {
	now       func() time.Time
	base, max time.Duration

	mu      sync.Mutex
	clients map[string]*attempts
	epoch   time.Time // the admin password's Set these records belong to
}

type attempts struct {
	failures int
	last     time.Time // last failure
	until    time.Time // no attempt before this
}

func newThrottle(now func() time.Time, base, max time.Duration) *throttle {
	return &throttle{now: now, base: base, max: max, clients: make(map[string]*attempts)}
}

// wait returns how long the client must still wait before its next attempt
// (0: it may try now). A new admin password (epoch) clears every record.
func (t *throttle) wait(client string, epoch time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !epoch.Equal(t.epoch) {
		t.epoch = epoch
		clear(t.clients)
	}
	a := t.clients[client]
	if a == nil {
		return 0
	}
	now := t.now()
	if now.Sub(a.last) >= forgetAfter {
		delete(t.clients, client)
		return 0
	}
	if now.Before(a.until) {
		return a.until.Sub(now)
	}
	return 0
}

// failed records a wrong password and returns the delay now imposed.
func (t *throttle) failed(client string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	a := t.clients[client]
	if a == nil {
		if len(t.clients) >= maxClients {
			t.prune(now)
		}
		a = &attempts{}
		t.clients[client] = a
	}
	a.failures++
	a.last = now
	d := t.delay(a.failures)
	a.until = now.Add(d)
	return d
}

// succeeded forgets the client's failures.
func (t *throttle) succeeded(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.clients, client)
}

// delay is 0 for the first freeFailures failures, then base, 2·base, 4·base
// ... up to max.
func (t *throttle) delay(failures int) time.Duration {
	n := failures - freeFailures
	if n <= 0 {
		return 0
	}
	d := t.base
	for i := 1; i < n && d < t.max; i++ {
		d *= 2
	}
	return min(d, t.max)
}

// prune drops quiet records, then the oldest, to make room.
func (t *throttle) prune(now time.Time) {
	var oldest string
	for k, a := range t.clients {
		if now.Sub(a.last) >= forgetAfter {
			delete(t.clients, k)
		} else if oldest == "" || a.last.Before(t.clients[oldest].last) {
			oldest = k
		}
	}
	if len(t.clients) >= maxClients {
		delete(t.clients, oldest)
	}
}
