package runtime

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/require"
)

// Enqueue callbacks that become ready while the loop is busy are taken in
// one job, and still run as separate callbacks would: in the order they
// became ready, each once, each with its own host context, and each
// followed by the promise jobs it started before the next one runs. The run
// ends once the last has run (the keep-alive timer is cleared).
func TestSettlementsBatchInOrder(t *testing.T) {
	e := newEnv(Options{}, nil, require.NewRegistry(), true)
	e.ctx = context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var log []string
	var batched int
	e.loop.Run(func(vm *goja.Runtime) {
		e.setup(vm)
		_ = vm.Set("log", func(s string) { log = append(log, s) })
		dones := make([]func(func() error), 4)
		for i := range dones {
			if i == 2 {
				e.ctx = cancelled // registered by code whose context is gone
			}
			dones[i] = e.Enqueue()
			e.ctx = context.Background()
		}
		posted := make(chan struct{})
		go func() {
			defer close(posted)
			for _, i := range []int{1, 0, 2, 3} { // the order they finish in
				cb := func() error {
					_, err := vm.RunString(fmt.Sprintf(`log('callback %d'); Promise.resolve().then(() => log('microtask %d'))`, i, i))
					return err
				}
				dones[i](cb)
				dones[i](cb) // a second call is ignored
			}
		}()
		<-posted // the loop is busy here until all four are ready
		batched = len(e.settle.ready)
	})
	if batched != 4 {
		t.Errorf("%d callbacks waiting when the loop was free again, want 4 (one job)", batched)
	}
	want := []string{"callback 1", "microtask 1", "callback 0", "microtask 0", "callback 3", "microtask 3"}
	if !slices.Equal(log, want) {
		t.Errorf("ran %q, want %q", log, want)
	}
	if e.pending != 0 || e.keepAlive != nil {
		t.Errorf("pending %d, keep-alive timer %v after the last callback", e.pending, e.keepAlive)
	}
}

// A callback that becomes ready while the loop runs earlier ones is run
// by a later job: none is lost between taking the queue and running it.
func TestSettlementsPostedWhileRunning(t *testing.T) {
	e := newEnv(Options{}, nil, require.NewRegistry(), true)
	e.ctx = context.Background()
	var ran []int
	e.loop.Run(func(vm *goja.Runtime) {
		e.setup(vm)
		const n = 50
		dones := make([]func(func() error), n)
		for i := range dones {
			dones[i] = e.Enqueue()
		}
		go func() {
			for i := range dones {
				dones[i](func() error { ran = append(ran, i); return nil })
			}
		}()
	})
	if len(ran) != 50 || !slices.IsSorted(ran) {
		t.Errorf("ran %v, want 0…49 in order", ran)
	}
}
