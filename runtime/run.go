package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja_nodejs/eventloop"
	"github.com/dop251/goja_nodejs/require"
	"github.com/dop251/goja_nodejs/url"

	"github.com/scriptrun/scriptrun/bindings"
	"github.com/scriptrun/scriptrun/internal/js"
	"github.com/scriptrun/scriptrun/webapi"
)

// Options configures a run (Script.Run) or a session (NewSession).
type Options struct {
	// Stdout receives console.log, info and debug; nil discards them.
	Stdout io.Writer
	// Stderr receives console.warn and error; nil discards them.
	Stderr io.Writer
	// Args is the script's args global.
	Args []string
	// Timeout limits a run (for a session: each evaluation); 0 means none.
	Timeout time.Duration
	// Signer signs requests that call apiTokenAuth(name).
	Signer bindings.Signer
	// Client sends HTTP requests; nil means http.DefaultClient.
	Client *http.Client
	// MaxResponseBytes limits response bodies; 0 means bindings.DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// MaxMemory stops the run with a *MemoryError when the process's memory
	// (Go heap objects and goroutine stacks) grows past it (sampled from outside the JavaScript goroutine, every
	// 2 ms near the cap, up to 50 ms far from it); 0 means no limit. The heap is the whole process's, so in a
	// process running several scripts it bounds them together. For a
	// session it is checked while an evaluation runs.
	MaxMemory int64
	// Stuck, when set, is called when a stop has not taken effect in time
	// because JavaScript is inside a native call that goja cannot interrupt
	// (a built-in such as Array.prototype.fill, JSON.stringify or a regexp
	// match): a timeout or cancellation after StopGrace; a memory or stack
	// stop after 100 ms, or sooner if memory keeps growing. It receives the
	// stop's reason (*TimeoutError, *MemoryError, *StackError, or an error
	// satisfying errors.Is(err, context.Canceled)) on a goroutine other than
	// the event loop's. A process that runs one script exits from it; if it
	// returns, the run ends when the native call does. Setting it also
	// turns on the stack watch (*StackError), which only a host that can
	// end the process can act on.
	Stuck func(reason error)
	// StopGrace is how long a stop for a timeout or a cancellation may take
	// before Stuck is called; 0 means DefaultStopGrace.
	StopGrace time.Duration
	// Folder is a Session's folder: require() and Session.Load read .js and
	// .json files inside it, as a script's folder. Empty means none.
	// Script.Run ignores it: a script's folder is the one it was compiled from.
	Folder string
}

// maxCallStackSize turns runaway recursion into a RangeError-like failure
// instead of unbounded memory use.
const maxCallStackSize = 10000

// keepAliveMS is the delay of the timer that keeps the event loop running
// while asynchronous work registered through Enqueue is pending (~31 years).
const keepAliveMS = 1e12

var errRunFinished = errors.New("script run finished")

// env is one JavaScript runtime with its event loop: the globals, the
// bindings.Host, and the bookkeeping that decides when and how a run ends.
// Fields below loop are used on the event-loop goroutine only, except where
// noted (vm.Interrupt may be called from any goroutine).
type env struct {
	opts     Options
	folder   *folder
	registry *require.Registry
	failFast bool // Run: the first uncaught error ends the run; Session: it is printed
	stdout   io.Writer
	stderr   io.Writer

	loop *eventloop.EventLoop

	vm        *goja.Runtime
	modules   *require.RequireModule
	console   *goja.Object
	format    *formatter
	errorCtor *goja.Object
	then      goja.Callable // Promise.prototype.then, kept before session code runs
	requests  *bindings.Installed

	// ctx is the bindings.Host context: cancelled when the run stops.
	ctx    context.Context
	cancel context.CancelCauseFunc

	setTimeout   goja.Callable // the event loop's own, kept for Enqueue
	clearTimeout goja.Callable
	noop         goja.Value
	pending      int        // Enqueue registrations not yet called back
	keepAlive    goja.Value // timer that keeps the loop alive while pending > 0
	// settle holds the Enqueue callbacks that are ready to run (any
	// goroutine posts to it); runSettlements is e.settleAll, made once.
	settle         settleQueue
	runSettlements func(*goja.Runtime)

	rejected    []*goja.Promise // rejected promises without a handler, oldest first
	checkQueued bool

	stopped       bool  // no more JavaScript may run
	failure       error // the first uncaught error (failFast)
	interruptedAt string

	mu     sync.Mutex // guards reason, which the watcher goroutine sets
	reason error
}

func newEnv(opts Options, f *folder, registry *require.Registry, failFast bool) *env {
	e := &env{opts: opts, folder: f, registry: registry, failFast: failFast, stdout: opts.Stdout, stderr: opts.Stderr}
	if e.stdout == nil {
		e.stdout = io.Discard
	}
	if e.stderr == nil {
		e.stderr = io.Discard
	}
	// The loop's own console is replaced by ours, and the registry by one
	// that only reads the script's folder.
	e.loop = eventloop.NewEventLoop(eventloop.WithRegistry(registry), eventloop.EnableConsole(false))
	e.runSettlements = e.settleAll
	return e
}

// setup installs the globals. It runs on the event loop before any script code.
func (e *env) setup(vm *goja.Runtime) {
	e.vm = vm
	vm.SetParserOptions(parser.WithDisableSourceMaps)
	vm.SetMaxCallStackSize(maxCallStackSize)
	vm.SetPromiseRejectionTracker(e.trackRejection)
	e.errorCtor, _ = vm.Get("Error").(*goja.Object)
	e.format = newFormatter(vm)
	g := vm.GlobalObject()

	// Timers: wrap the loop's functions so that an exception in a callback
	// fails the run (goja_nodejs ignores it) and no callback runs once the
	// run is over.
	e.setTimeout, _ = goja.AssertFunction(g.Get("setTimeout"))
	e.clearTimeout, _ = goja.AssertFunction(g.Get("clearTimeout"))
	setInterval, _ := goja.AssertFunction(g.Get("setInterval"))
	setImmediate, _ := goja.AssertFunction(g.Get("setImmediate"))
	clearInterval, _ := goja.AssertFunction(g.Get("clearInterval"))
	clearImmediate, _ := goja.AssertFunction(g.Get("clearImmediate"))
	e.noop = vm.ToValue(func(goja.FunctionCall) goja.Value { return goja.Undefined() })
	_ = g.Set("setTimeout", e.fn("setTimeout", e.timer("setTimeout", e.setTimeout, true)))
	_ = g.Set("setInterval", e.fn("setInterval", e.timer("setInterval", setInterval, true)))
	_ = g.Set("setImmediate", e.fn("setImmediate", e.timer("setImmediate", setImmediate, false)))
	_ = g.Set("clearTimeout", e.fn("clearTimeout", e.clear(e.clearTimeout)))
	_ = g.Set("clearInterval", e.fn("clearInterval", e.clear(clearInterval)))
	_ = g.Set("clearImmediate", e.fn("clearImmediate", e.clear(clearImmediate)))

	e.console = e.newConsole()
	_ = g.Set("console", e.console)
	js.LazyGlobal(vm, "gs", e.newGlideSystem) // ServiceNow-style logging (gs.go)

	e.modules = e.registry.Enable(vm)
	_ = g.Set("require", e.fn("require", e.require))
	// URL and URLSearchParams are built on first use; most scripts never
	// touch them, and building them is a fifth of the cost of a runtime.
	e.lazyURLGlobal("URL")
	e.lazyURLGlobal("URLSearchParams")
	// atob, TextEncoder, crypto, AbortController, …: built on first use too.
	web := webapi.Enable(vm, e)

	args := make([]any, len(e.opts.Args))
	for i, a := range e.opts.Args {
		args[i] = a
	}
	_ = g.Set("args", vm.NewArray(args...))

	e.requests = bindings.Enable(vm, e, bindings.Options{
		Signer:           e.opts.Signer,
		Client:           e.opts.Client,
		MaxResponseBytes: e.opts.MaxResponseBytes,
		Signal: func(v goja.Value) (bindings.Signal, bool) {
			if s, ok := web.Signal(v); ok {
				return s, true
			}
			return nil, false
		},
	})
}

// lazyURLGlobal defines a global from the url module that loads the module
// on first access.
func (e *env) lazyURLGlobal(name string) {
	js.LazyGlobal(e.vm, name, func() goja.Value {
		m, err := e.modules.Require(url.ModuleName)
		if err != nil {
			panic(err)
		}
		return m.(*goja.Object).Get(name)
	})
}

// fn wraps f as a JavaScript function with a readable name.
func (e *env) fn(name string, f func(goja.FunctionCall) goja.Value) *goja.Object {
	o := e.vm.ToValue(f).(*goja.Object)
	_ = o.DefineDataProperty("name", e.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return o
}

// newError creates a JavaScript Error.
func (e *env) newError(msg string) *goja.Object {
	o, err := e.vm.New(e.errorCtor, e.vm.ToValue(msg))
	if err != nil {
		return e.vm.NewGoError(errors.New(msg))
	}
	return o
}

// timer wraps one of the loop's scheduling functions.
func (e *env) timer(name string, orig goja.Callable, hasDelay bool) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(call.Argument(0))
		if !ok {
			panic(e.vm.NewTypeError("%s(callback, …): callback must be a function, got %s", name, js.TypeOf(call.Argument(0))))
		}
		first := 1
		if hasDelay {
			first = 2
		}
		var extra []goja.Value
		if len(call.Arguments) > first {
			extra = append([]goja.Value(nil), call.Arguments[first:]...)
		}
		ctx := e.ctx
		cb := e.vm.ToValue(func(goja.FunctionCall) goja.Value {
			e.callback(ctx, func() error {
				_, err := fn(goja.Undefined(), extra...)
				return err
			})
			return goja.Undefined()
		})
		args := []goja.Value{cb}
		if hasDelay {
			args = append(args, e.vm.ToValue(delayMS(call.Argument(1))))
		}
		v, err := orig(goja.Undefined(), args...)
		if err != nil {
			panic(err)
		}
		return v
	}
}

// clear wraps one of the loop's clear functions, ignoring values that are not
// timers, as Node does.
func (e *env) clear(orig goja.Callable) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		if o, ok := call.Argument(0).(*goja.Object); ok {
			switch o.Export().(type) {
			case *eventloop.Timer, *eventloop.Interval, *eventloop.Immediate:
				if _, err := orig(goja.Undefined(), o); err != nil {
					panic(err)
				}
			}
		}
		return goja.Undefined()
	}
}

// delayMS converts a timer delay as Node does: invalid or negative delays
// are 0 and delays beyond 2^31-1 ms become 1 ms.
func delayMS(v goja.Value) int64 {
	d := v.ToFloat()
	switch {
	case math.IsNaN(d) || d < 0:
		return 0
	case d > math.MaxInt32:
		return 1
	}
	return int64(d)
}

// callback runs JavaScript scheduled by a timer or an Enqueue registration.
//
// ctx is the host context of the code that scheduled it: the callback runs
// with it (so what it starts is cancelled with it), and not at all once it
// is cancelled — a session's cancelled evaluation does not resume from its
// timers or requests.
func (e *env) callback(ctx context.Context, f func() error) {
	if e.stopped || ctx.Err() != nil {
		return
	}
	prev := e.ctx
	e.ctx = ctx
	defer func() { e.ctx = prev }()
	if err := f(); err != nil {
		e.fail(err)
	}
}

// Later implements webapi.Host: the callbacks run on the loop like a timer's,
// but nothing keeps the run alive for them.
func (e *env) Later() func(cb func() error) {
	ctx := e.ctx
	return func(cb func() error) {
		e.loop.RunOnLoop(func(*goja.Runtime) { e.callback(ctx, cb) })
	}
}

// Context implements bindings.Host.
func (e *env) Context() context.Context { return e.ctx }

// Enqueue implements bindings.Host. While registrations are pending, a
// long timer keeps the goja_nodejs loop (which ends when it has no jobs)
// running; it is cleared when the last callback has run.
func (e *env) Enqueue() func(func() error) {
	e.pending++
	if e.pending == 1 {
		v, err := e.setTimeout(goja.Undefined(), e.noop, e.vm.ToValue(int64(keepAliveMS)))
		if err == nil {
			e.keepAlive = v
		}
	}
	ctx := e.ctx
	var called atomic.Bool
	return func(cb func() error) {
		if !called.Swap(true) {
			e.settle.post(e, settlement{ctx, cb})
		}
	}
}

// settlement is a callback of an Enqueue registration, ready to run with
// the host context of the code that registered it.
type settlement struct {
	ctx context.Context
	cb  func() error
}

// settleQueue holds the Enqueue callbacks that are ready, in the order they
// became ready, until the loop runs them. Many requests in flight finish
// close together: the loop takes every callback ready by then in one job
// (one RunOnLoop for all of them instead of one each). Each still runs on
// its own, its promise jobs (microtasks) drained before the next, as
// separate jobs would.
type settleQueue struct {
	mu     sync.Mutex
	ready  []settlement
	posted bool // a job to run them is on the loop's queue
	spare  []settlement
}

// post adds s to the queue; the first callback after the loop has taken
// the previous ones queues the job that runs them.
func (q *settleQueue) post(e *env, s settlement) {
	q.mu.Lock()
	q.ready = append(q.ready, s)
	first := !q.posted
	q.posted = true
	q.mu.Unlock()
	if first {
		e.loop.RunOnLoop(e.runSettlements)
	}
}

// take returns the ready callbacks and empties the queue; done gives the
// slice back for reuse once they have run. Both run on the event loop.
func (q *settleQueue) take() []settlement {
	q.mu.Lock()
	defer q.mu.Unlock()
	ready := q.ready
	q.ready, q.spare = q.spare, nil
	q.posted = false
	return ready
}

func (q *settleQueue) done(ready []settlement) {
	clear(ready)
	q.spare = ready[:0]
}

// settleAll runs the ready Enqueue callbacks, in order, each as its own
// callback. It is the job post queues (e.runSettlements).
func (e *env) settleAll(*goja.Runtime) {
	ready := e.settle.take()
	for _, s := range ready {
		e.callback(s.ctx, s.cb)
		e.pending--
		if e.pending == 0 && e.keepAlive != nil {
			_, _ = e.clearTimeout(goja.Undefined(), e.keepAlive)
			e.keepAlive = nil
		}
	}
	e.settle.done(ready)
}

// trackRejection is goja's promise rejection tracker. A rejection that still
// has no handler once the current task and its microtasks are done is an
// uncaught error; the check runs as the loop's next job.
func (e *env) trackRejection(p *goja.Promise, op goja.PromiseRejectionOperation) {
	switch op {
	case goja.PromiseRejectionReject:
		e.rejected = append(e.rejected, p)
		if !e.checkQueued && e.loop.RunOnLoop(func(*goja.Runtime) {
			e.checkQueued = false
			e.checkRejections()
		}) {
			e.checkQueued = true
		}
	case goja.PromiseRejectionHandle:
		for i, q := range e.rejected {
			if q == p {
				e.rejected = append(e.rejected[:i], e.rejected[i+1:]...)
				break
			}
		}
	}
}

// checkRejections reports rejections that nothing handled.
func (e *env) checkRejections() {
	for len(e.rejected) > 0 && !e.stopped {
		p := e.rejected[0]
		e.rejected = e.rejected[1:]
		se := e.scriptError(p.Result(), nil)
		if rest, ok := strings.CutPrefix(se.Message, "Uncaught "); ok {
			se.Message = rest
		}
		se.Message = "Uncaught (in promise) " + se.Message
		e.fail(se)
	}
}

// fail handles an uncaught error: a run records the first and stops; a
// session prints it and carries on.
func (e *env) fail(err error) {
	if ie := (*goja.InterruptedError)(nil); !e.failFast && errors.As(err, &ie) {
		return // a session stopping an evaluation (Ctrl-C, timeout): not the script's fault
	}
	if _, ok := err.(*ScriptError); !ok {
		err = e.toError(err)
	}
	if e.failFast {
		if e.failure == nil {
			e.failure = err
		}
		e.stopped = true
		e.loop.StopNoWait()
		return
	}
	var ie *goja.InterruptedError
	if e.stopReason() != nil || errors.As(err, &ie) {
		return // a cancelled evaluation, not the script's fault
	}
	fmt.Fprintf(e.stderr, "Uncaught %v\n", strings.TrimPrefix(err.Error(), "Uncaught "))
}

func (e *env) stopReason() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reason
}

// watch stops the run when ctx is done, timeout passes, memory grows past
// maxMemory or stacks past maxGoStacks: it records why, cancels the host context (aborting HTTP
// calls in flight), interrupts running JavaScript (even while(true){}) and
// stops the loop. If the run has not ended soon after, it calls
// Options.Stuck (awaitStop).
func (e *env) watch(ctx context.Context, timeout time.Duration, maxMemory int64) (stop func()) {
	var expired <-chan time.Time
	var timer *time.Timer
	if timeout > 0 {
		timer = time.NewTimer(timeout)
		expired = timer.C
	}
	memory := newMemoryWatch(maxMemory, e.opts.Stuck != nil)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		var reason error
	wait:
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				reason = stopError(ctx)
				break wait
			case <-expired:
				reason = &TimeoutError{Timeout: timeout}
				break wait
			case <-memory.C():
				if reason = memory.check(); reason != nil {
					break wait
				}
			}
		}
		e.mu.Lock()
		e.reason = reason
		e.mu.Unlock()
		e.cancel(reason)
		e.vm.Interrupt(reason)
		e.loop.StopNoWait()
		e.awaitStop(reason, done)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-exited
			if timer != nil {
				timer.Stop()
			}
			memory.stop()
		})
	}
}

// awaitStop waits, after JavaScript was interrupted for reason, until the
// stop takes effect (stopped is closed). When it does not in time, it calls
// Options.Stuck: after the stop grace, or for a memory or stack stop after
// 100 ms or as soon as memory grows by more than a small margin, since a
// built-in that cannot be interrupted keeps allocating.
func (e *env) awaitStop(reason error, stopped <-chan struct{}) {
	if e.opts.Stuck == nil {
		return
	}
	grace := e.opts.StopGrace
	if grace <= 0 {
		grace = DefaultStopGrace
	}
	var sample <-chan time.Time
	var limit int64
	switch r := reason.(type) {
	case *MemoryError:
		limit = r.Used + heapGrowthMargin(r.Limit)
	case *StackError:
		limit = r.Used // a stack that grows again has doubled
	}
	if limit > 0 {
		grace = min(grace, memoryStopGrace)
		ticker := time.NewTicker(memoryInterval)
		defer ticker.Stop()
		sample = ticker.C
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for {
		select {
		case <-stopped:
			return
		case <-sample:
			heap, stacks := memoryUse()
			switch r := reason.(type) {
			case *MemoryError:
				if heap+stacks <= limit {
					continue
				}
				latest := *r
				latest.Used = heap + stacks
				reason = &latest
			case *StackError:
				if stacks <= limit {
					continue
				}
				reason = &StackError{Used: stacks}
			}
		case <-timer.C:
		}
		e.opts.Stuck(reason)
		return
	}
}

// Run runs the script in a fresh runtime and returns when the script and all
// the work it started (timers, promises, sendAsync, fetch) are done.
//
// It returns nil on success; a *ScriptError for an uncaught exception or an
// unhandled promise rejection; a *TimeoutError when opts.Timeout or ctx's
// deadline passes; and an error satisfying errors.Is(err, context.Canceled)
// when ctx is cancelled. Stopping a run interrupts running JavaScript and
// aborts HTTP requests in flight. A run that succeeds ends with a warning on
// opts.Stderr, naming file:line:column, for each request the script built
// with apiTokenAuth and never sent (almost always a forgotten .send()).
func (s *Script) Run(ctx context.Context, opts Options) (err error) {
	if ctx.Err() != nil {
		return stopError(ctx)
	}
	e := newEnv(opts, s.folder, s.registry, true)
	hostCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(errRunFinished)
	e.ctx, e.cancel = withDeadlineHint(hostCtx, opts.Timeout), cancel

	stopWatch := func() {}
	defer func() { stopWatch() }()
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("runtime: internal error while running %s: %v\n%s", s.name, x, debug.Stack())
		}
	}()
	e.loop.Run(func(vm *goja.Runtime) {
		e.setup(vm)
		stopWatch = e.watch(ctx, opts.Timeout, opts.MaxMemory)
		v, err := vm.RunProgram(s.prg)
		if err == nil && s.async {
			err = e.runAsync(v)
		}
		if err != nil {
			e.fail(err)
		}
	})
	if e.stopReason() == nil && e.failure == nil {
		e.checkRejections()
	}
	if e.stopReason() == nil && e.failure == nil {
		// Only a run that ended well: after an error, a request that was
		// not sent is the error's consequence, not a forgotten .send().
		e.warnUnsent()
	}
	stopWatch()
	e.stopped = true
	e.loop.Terminate() // clears leftover timers after a failure or a timeout
	return e.result()
}

// runAsync calls the async function a bundle evaluates to, and fails the
// run when its promise rejects, as an uncaught error (not "in promise"):
// for the script's author it is the script's own top level that threw.
func (e *env) runAsync(v goja.Value) error {
	fn, ok := goja.AssertFunction(v)
	if !ok {
		return fmt.Errorf("runtime: internal error: a bundle evaluated to %s, not a function", js.TypeOf(v))
	}
	p, err := fn(goja.Undefined())
	if err != nil {
		return err
	}
	o, ok := p.(*goja.Object)
	if !ok {
		return nil
	}
	then, ok := goja.AssertFunction(o.Get("then"))
	if !ok {
		return nil
	}
	onReject := e.vm.ToValue(func(call goja.FunctionCall) goja.Value {
		e.fail(e.scriptError(call.Argument(0), nil))
		return goja.Undefined()
	})
	_, err = then(o, goja.Undefined(), onReject)
	return err
}

// warnUnsent writes a warning to stderr for each request the script built
// with apiTokenAuth and never sent. It runs on the event loop, or after it.
func (e *env) warnUnsent() {
	if e.requests == nil {
		return
	}
	for _, u := range e.requests.Unsent() {
		at := ""
		if u.Position != "" {
			at = " at " + u.Position
		}
		send := u.Send
		if send == "" {
			send = ".send() or .sendAsync()"
		}
		fmt.Fprintf(e.stderr, "Warning: request built but never sent%s: %s %s with apiTokenAuth(%q); call %s to send it\n",
			at, u.Method, u.URL, u.Token, send)
	}
}

// result is the outcome of a finished run.
func (e *env) result() error {
	if r := e.stopReason(); r != nil {
		if te, ok := r.(*TimeoutError); ok && e.interruptedAt != "" {
			c := *te
			c.Location = e.interruptedAt
			return &c
		}
		return r
	}
	return e.failure
}
