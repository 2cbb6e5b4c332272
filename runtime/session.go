package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/require"
)

// ErrSessionClosed is returned by Eval after Close.
var ErrSessionClosed = errors.New("runtime: session is closed")

// Session is a long-lived runtime for a REPL: evaluations share globals, and
// timers and requests started by one evaluation keep running after it
// returns. Uncaught errors in such background work are printed to
// Options.Stderr instead of ending the session. Sessions have no script
// folder, so require() only offers "url" and "console".
type Session struct {
	e        *env
	ctx      context.Context // cancelled by Close
	cancel   context.CancelCauseFunc
	loopDone chan struct{} // closed when the loop goroutine exits
	crash    error         // set before loopDone is closed, if the loop panicked

	mu      sync.Mutex // one evaluation at a time
	closed  bool
	cancels []context.CancelCauseFunc // of evaluations, whose background work may still run
}

// NewSession starts a runtime and its event loop on a goroutine of its own.
// Close it when done.
func NewSession(opts Options) (*Session, error) {
	e := newEnv(opts, nil, require.NewRegistry(require.WithLoader(noFiles)), false)
	ctx, cancel := context.WithCancelCause(context.Background())
	e.ctx, e.cancel = ctx, cancel
	s := &Session{e: e, ctx: ctx, cancel: cancel, loopDone: make(chan struct{})}
	ready := make(chan struct{})
	e.loop.RunOnLoop(func(vm *goja.Runtime) {
		e.setup(vm)
		if promise, ok := vm.Get("Promise").(*goja.Object); ok {
			if proto, ok := promise.Get("prototype").(*goja.Object); ok {
				e.then, _ = goja.AssertFunction(proto.Get("then"))
			}
		}
		close(ready)
	})
	go func() {
		defer close(s.loopDone)
		defer func() {
			if x := recover(); x != nil {
				s.crash = fmt.Errorf("runtime: the session's event loop crashed: %v", x)
			}
		}()
		e.loop.StartInForeground()
	}()
	select {
	case <-ready:
		return s, nil
	case <-s.loopDone:
		cancel(s.crash)
		return nil, s.crash
	}
}

type evalResult struct {
	text string
	err  error
}

// Eval evaluates src as a script in the session and returns its value
// formatted for display (strings quoted, objects as JSON-like text). When the
// value is a promise, Eval waits for it. The value is also stored in the
// global _. Errors are a *CompileError, a *ScriptError, a *TimeoutError
// (Options.Timeout per evaluation), or the cancellation of ctx, which
// interrupts the evaluation and aborts its HTTP requests.
func (s *Session) Eval(ctx context.Context, src string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrSessionClosed
	}
	prg, err := compileProgram("<repl>", src)
	if err != nil {
		return "", err
	}
	evalCtx, cancelEval := context.WithCancelCause(s.ctx)
	s.cancels = append(s.cancels, cancelEval)

	out := make(chan evalResult, 1)
	deliver := func(r evalResult) {
		select {
		case out <- r:
		default:
		}
	}
	// started and finished bracket the synchronous part of the evaluation:
	// only then may a cancellation interrupt the runtime.
	var syncMu sync.Mutex
	var started, finished bool
	var reason error
	e := s.e
	e.loop.RunOnLoop(func(vm *goja.Runtime) {
		syncMu.Lock()
		if evalCtx.Err() != nil {
			finished = true
			syncMu.Unlock()
			return
		}
		started = true
		syncMu.Unlock()
		e.ctx = evalCtx
		v, err := vm.RunProgram(prg)
		syncMu.Lock()
		finished = true
		syncMu.Unlock()
		vm.ClearInterrupt() // one that arrived after the last instruction
		var ie *goja.InterruptedError
		switch {
		case errors.As(err, &ie):
			deliver(evalResult{err: context.Cause(evalCtx)})
		case err != nil:
			deliver(evalResult{err: e.toError(err)})
		default:
			s.await(v, deliver)
		}
	})

	var expired <-chan time.Time
	if t := e.opts.Timeout; t > 0 {
		timer := time.NewTimer(t)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case r := <-out:
		return r.text, r.err
	case <-ctx.Done():
		reason = stopError(ctx)
	case <-expired:
		reason = &TimeoutError{Timeout: e.opts.Timeout}
	case <-s.ctx.Done():
		reason = ErrSessionClosed
	case <-s.loopDone:
		reason = s.crash
	}
	cancelEval(reason)
	syncMu.Lock()
	if started && !finished {
		e.vm.Interrupt(reason)
	}
	syncMu.Unlock()
	// Background work that runs before the next evaluation must not inherit
	// the cancelled context.
	e.loop.RunOnLoop(func(*goja.Runtime) {
		if e.ctx == evalCtx {
			e.ctx = s.ctx
		}
	})
	return "", reason
}

// await delivers v, or the outcome of v when it is a promise.
func (s *Session) await(v goja.Value, deliver func(evalResult)) {
	e := s.e
	settle := func(v goja.Value) {
		_ = e.vm.GlobalObject().Set("_", v)
		deliver(evalResult{text: e.format.value(v, false)})
	}
	if o, ok := v.(*goja.Object); ok && e.then != nil {
		if _, ok := o.Export().(*goja.Promise); ok {
			onFulfilled := e.vm.ToValue(func(call goja.FunctionCall) goja.Value {
				settle(call.Argument(0))
				return goja.Undefined()
			})
			onRejected := e.vm.ToValue(func(call goja.FunctionCall) goja.Value {
				deliver(evalResult{err: e.scriptError(call.Argument(0), nil)})
				return goja.Undefined()
			})
			if _, err := e.then(o, onFulfilled, onRejected); err != nil {
				deliver(evalResult{err: e.toError(err)})
			}
			return
		}
	}
	settle(v)
}

// Close stops the session: it cancels evaluations and requests still
// running, stops the event loop and clears its timers.
func (s *Session) Close() error {
	s.cancel(ErrSessionClosed)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for _, c := range s.cancels {
		c(ErrSessionClosed)
	}
	select {
	case <-s.loopDone: // crashed: nothing left to stop
		return s.crash
	default:
	}
	s.e.vm.Interrupt(ErrSessionClosed) // a busy background callback must not block Stop
	s.e.loop.Stop()
	s.e.stopped = true
	s.e.loop.Terminate()
	<-s.loopDone
	return nil
}
