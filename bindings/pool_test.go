package bindings

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dop251/goja"
)

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSenderPool(t *testing.T) {
	tests := []struct {
		name     string
		max      int
		inFlight int // tasks that block until all of them run
		closeIt  bool
	}{
		{"fewer tasks than senders", 8, 3, true},
		{"as many tasks as senders", 4, 4, true},
		{"more tasks than senders run at once anyway", 4, 40, true},
		{"idle senders exit on their own", 4, 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			p := newSenderPool(tt.max, 20*time.Millisecond)
			if !tt.closeIt {
				p.idle = 50 * time.Millisecond
			}
			var started sync.WaitGroup
			started.Add(tt.inFlight)
			release := make(chan struct{})
			var done sync.WaitGroup
			done.Add(tt.inFlight)
			for range tt.inFlight {
				p.Go(func() {
					defer done.Done()
					started.Done()
					<-release
				})
			}
			// Every task starts although at most max senders exist: the
			// pool never queues work behind a busy sender.
			started.Wait()
			if got := p.Len(); got > tt.max {
				t.Errorf("%d senders with %d tasks in flight, want at most %d", got, tt.inFlight, tt.max)
			}
			close(release)
			done.Wait()
			if tt.closeIt {
				p.Close()
			}
			waitFor(t, "every sender has exited", func() bool { return p.Len() == 0 })
			waitFor(t, "the goroutines are back to where they were", func() bool { return runtime.NumGoroutine() <= before })
		})
	}
}

// TestSenderPoolReuses checks that requests one after the other run on
// the same sender rather than on a new goroutine each.
func TestSenderPoolReuses(t *testing.T) {
	p := newSenderPool(4, time.Minute)
	defer p.Close()
	var senders sync.Map
	var ran atomic.Int64
	for range 50 {
		done := make(chan struct{})
		p.Go(func() {
			senders.Store(goroutineKey(), true)
			ran.Add(1)
			close(done)
		})
		<-done
	}
	n := 0
	senders.Range(func(any, any) bool { n++; return true })
	// A sender finishing one task may not be waiting for the next yet, so
	// a second one may start; never more than the pool's size.
	if n > 4 || p.Len() > 4 {
		t.Errorf("50 tasks in a row ran on %d goroutines (pool has %d senders), want at most 4", n, p.Len())
	}
	if ran.Load() != 50 {
		t.Errorf("%d tasks ran, want 50", ran.Load())
	}
}

// TestSenderPoolAfterClose checks that work sent after Close still runs.
func TestSenderPoolAfterClose(t *testing.T) {
	before := runtime.NumGoroutine()
	p := newSenderPool(2, time.Minute)
	p.Close()
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	if p.Len() != 0 {
		t.Errorf("a closed pool started %d senders", p.Len())
	}
	waitFor(t, "the goroutines are back to where they were", func() bool { return runtime.NumGoroutine() <= before })
}

// goroutineKey identifies the calling goroutine: "goroutine 42 ", the
// start of the header runtime.Stack writes.
func goroutineKey() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	for i, c := range buf {
		if c == '[' {
			return string(buf[:i])
		}
	}
	return string(buf)
}

// loopHost is a bindings Host for the tests of this package: callbacks
// arrive on a channel and run on the goroutine that owns the runtime.
type loopHost struct {
	ctx     context.Context
	pending int
	ch      chan func() error
}

func (h *loopHost) Context() context.Context { return h.ctx }

func (h *loopHost) Enqueue() func(func() error) {
	h.pending++
	var once sync.Once
	return func(cb func() error) { once.Do(func() { h.ch <- cb }) }
}

// TestAsyncRequestsDoNotWaitForSenders sends more requests at once, with
// sendAsync and fetch, than the pool has senders, to a server that answers
// none of them before it has all of them: they are all in flight together.
// Afterwards every sender exits.
func TestAsyncRequestsDoNotWaitForSenders(t *testing.T) {
	const requests, poolSize = 8, 2
	before := runtime.NumGoroutine()
	var arrived atomic.Int32
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == requests {
			close(all)
		}
		select {
		case <-all:
			io.WriteString(w, "ok")
		case <-time.After(10 * time.Second):
			w.WriteHeader(http.StatusGatewayTimeout) // the pool made some wait
		}
	}))
	client := &http.Client{Transport: &http.Transport{}}

	vm := goja.New()
	h := &loopHost{ctx: context.Background(), ch: make(chan func() error)}
	in := Enable(vm, h, Options{Client: client})
	pool := newSenderPool(poolSize, 20*time.Millisecond)
	in.a.senders = pool
	_ = vm.Set("U", srv.URL)
	_, err := vm.RunString(`
		var statuses = null;
		Promise.all(Array.from({ length: 8 }, (_, i) => i % 2
			? fetch(U).then((r) => r.status)
			: http.get(U).sendAsync().then((r) => r.status))).then((s) => { statuses = s; });`)
	if err != nil {
		t.Fatal(err)
	}
	for ; h.pending > 0; h.pending-- {
		if err := (<-h.ch)(); err != nil {
			t.Fatal(err)
		}
		if n := pool.Len(); n > poolSize {
			t.Errorf("%d senders, want at most %d", n, poolSize)
		}
	}
	if got := vm.Get("statuses").Export(); fmt.Sprint(got) != "[200 200 200 200 200 200 200 200]" {
		t.Errorf("statuses %v, want 8 × 200", got)
	}
	srv.Close()
	client.CloseIdleConnections()
	waitFor(t, "every sender has exited", func() bool { return pool.Len() == 0 })
	waitFor(t, "the goroutines are back to where they were", func() bool { return runtime.NumGoroutine() <= before })
}
