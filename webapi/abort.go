package webapi

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// abortJS defines AbortController and AbortSignal
// (https://dom.spec.whatwg.org/#aborting-ongoing-activities) with the
// subset of EventTarget they need: addEventListener (with once and signal),
// removeEventListener, dispatchEvent and onabort. hooks connects them to Go:
// aborted(signal) when a signal aborts, timeout(signal, ms) to start the
// timer of AbortSignal.timeout, report(error) for an exception in a
// listener, which the DOM reports instead of throwing.
const abortJS = `(function (DOMException, hooks) {
  const states = new WeakMap();
  let constructing = false;
  const state = (s, what) => {
    const st = states.get(s);
    if (!st) throw new TypeError("Illegal invocation: " + what + " called on an object that is not an AbortSignal");
    return st;
  };
  class Event {
    constructor(type) { this.type = String(type); this.target = null; this.currentTarget = null; this.defaultPrevented = false; this.timeStamp = performance.now(); }
    preventDefault() { this.defaultPrevented = true; }
    stopImmediatePropagation() { this.stopped = true; }
  }
  class AbortSignal {
    constructor() {
      if (!constructing) throw new TypeError('Illegal constructor');
      states.set(this, { aborted: false, reason: undefined, listeners: [], onabort: null, handlerEntry: null });
    }
    get aborted() { return state(this, 'aborted').aborted; }
    get reason() { return state(this, 'reason').reason; }
    throwIfAborted() { const st = state(this, 'throwIfAborted'); if (st.aborted) throw st.reason; }
    get onabort() { return state(this, 'onabort').onabort; }
    set onabort(f) {
      const st = state(this, 'onabort');
      st.onabort = typeof f === 'function' ? f : null;
      if (st.onabort && !st.handlerEntry) {
        st.handlerEntry = { type: 'abort', callback: (e) => st.onabort && st.onabort.call(this, e), once: false };
        st.listeners.push(st.handlerEntry);
      }
    }
    addEventListener(type, callback, options) {
      const st = state(this, 'addEventListener');
      if (callback == null) return;
      const once = typeof options === 'object' && options !== null && !!options.once;
      const signal = typeof options === 'object' && options !== null ? options.signal : undefined;
      if (signal !== undefined && signal.aborted) return;
      if (st.listeners.some((l) => l.type === String(type) && l.callback === callback)) return;
      const entry = { type: String(type), callback, once };
      st.listeners.push(entry);
      if (signal !== undefined) signal.addEventListener('abort', () => this.removeEventListener(type, callback));
    }
    removeEventListener(type, callback) {
      const st = state(this, 'removeEventListener');
      const i = st.listeners.findIndex((l) => l.type === String(type) && l.callback === callback);
      if (i >= 0) { st.listeners[i].removed = true; st.listeners.splice(i, 1); }
    }
    dispatchEvent(event) {
      const st = state(this, 'dispatchEvent');
      event.target = event.currentTarget = this;
      for (const l of [...st.listeners]) {
        if (l.removed || l.type !== event.type) continue;
        if (l.once) this.removeEventListener(l.type, l.callback);
        try {
          if (typeof l.callback === 'function') l.callback.call(this, event);
          else if (l.callback && typeof l.callback.handleEvent === 'function') l.callback.handleEvent(event);
        } catch (e) {
          hooks.report(e);
        }
        if (event.stopped) break;
      }
      event.currentTarget = null;
      return !event.defaultPrevented;
    }
    static abort(reason) {
      const s = newSignal();
      signalAbort(s, reason);
      return s;
    }
    static timeout(ms) {
      ms = Number(ms);
      if (!Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER) throw new TypeError('AbortSignal.timeout(ms): ms must be a non-negative number, got ' + ms);
      const s = newSignal();
      hooks.timeout(s, Math.trunc(ms));
      return s;
    }
    static any(signals) {
      const list = [...signals];
      for (const s of list) state(s, 'AbortSignal.any');
      const done = list.find((s) => s.aborted);
      if (done) return AbortSignal.abort(done.reason);
      const s = newSignal();
      for (const source of list) source.addEventListener('abort', () => signalAbort(s, source.reason), { once: true });
      return s;
    }
  }
  Object.defineProperty(AbortSignal.prototype, Symbol.toStringTag, { value: 'AbortSignal', configurable: true });
  const newSignal = () => { constructing = true; try { return new AbortSignal(); } finally { constructing = false; } };
  const signalAbort = (s, reason) => {
    const st = states.get(s);
    if (st.aborted) return;
    st.aborted = true;
    st.reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    hooks.aborted(s);
    s.dispatchEvent(new Event('abort'));
  };
  const controllers = new WeakMap();
  class AbortController {
    constructor() { controllers.set(this, newSignal()); }
    get signal() {
      const s = controllers.get(this);
      if (!s) throw new TypeError('Illegal invocation: signal read from an object that is not an AbortController');
      return s;
    }
    abort(reason) { signalAbort(this.signal, reason); }
  }
  Object.defineProperty(AbortController.prototype, Symbol.toStringTag, { value: 'AbortController', configurable: true });
  const timedOut = (s) => signalAbort(s, new DOMException('The operation timed out.', 'TimeoutError'));
  const isSignal = (s) => states.has(s);
  const isAborted = (s) => states.get(s).aborted;
  return { AbortController, AbortSignal, timedOut, isSignal, isAborted };
})`

// Host is what the abort globals need from the runtime that runs them.
type Host interface {
	// Later is called on the runtime's goroutine and returns a function
	// that may be called from any goroutine, any number of times: it runs
	// cb on the runtime's goroutine, treating an error cb returns as an
	// uncaught one, unless the run is over. It does not keep the run
	// alive, so a pending AbortSignal.timeout does not delay the end of a
	// script, as in Node.
	Later() func(cb func() error)
}

// abort is the state shared by the abort globals of a runtime, built on
// first use.
type abort struct {
	controller, signal goja.Value
	timedOut, isSignal goja.Callable
	isAborted, rethrow goja.Callable
	signals            map[*goja.Object]*Signal
}

// Signal is an AbortSignal seen from Go, for the code that runs the work it
// may cancel (fetch, the http builders).
type Signal struct {
	a       *api
	obj     *goja.Object
	done    chan struct{}
	once    sync.Once
	expired atomic.Bool // AbortSignal.timeout's time is up
}

// Done is closed once the signal has aborted, or once the time of an
// AbortSignal.timeout is up even if the event loop, busy with a synchronous
// request, has not yet run its abort. It may be read from any goroutine.
func (s *Signal) Done() <-chan struct{} { return s.done }

// Reason returns the abort reason, or nil while the signal has not aborted.
// A timeout signal whose time is up is aborted now, so that the script sees
// signal.aborted and the TimeoutError before the work it cancelled fails.
// Call it on the runtime's goroutine.
func (s *Signal) Reason() goja.Value {
	ab := s.a.abort
	if !s.aborted() {
		if !s.expired.Load() {
			return nil
		}
		if _, err := ab.timedOut(goja.Undefined(), s.obj); err != nil {
			panic(err)
		}
	}
	return s.obj.Get("reason")
}

func (s *Signal) aborted() bool {
	v, err := s.a.abort.isAborted(goja.Undefined(), s.obj)
	if err != nil {
		panic(err)
	}
	return v.ToBoolean()
}

func (s *Signal) close() { s.once.Do(func() { close(s.done) }) }

// signalOf returns the Go side of an AbortSignal object, creating it on first
// use.
func (a *api) signalOf(o *goja.Object) *Signal {
	ab := a.abortGlobals()
	if s, ok := ab.signals[o]; ok {
		return s
	}
	s := &Signal{a: a, obj: o, done: make(chan struct{})}
	ab.signals[o] = s
	if s.aborted() {
		s.close()
	}
	return s
}

// Signal returns the Go side of v when v is an AbortSignal of this runtime.
// Call it on the runtime's goroutine.
func (g *Globals) Signal(v goja.Value) (*Signal, bool) {
	a := g.a
	o, ok := v.(*goja.Object)
	if !ok {
		return nil, false
	}
	ab := a.abortGlobals()
	if is, err := ab.isSignal(goja.Undefined(), o); err != nil || !is.ToBoolean() {
		return nil, false
	}
	return a.signalOf(o), true
}

// abortGlobals builds AbortController and AbortSignal once.
func (a *api) abortGlobals() *abort {
	if a.abort != nil {
		return a.abort
	}
	ab := &abort{signals: map[*goja.Object]*Signal{}}
	a.abort = ab
	mk, _ := goja.AssertFunction(a.run("webapi:abort", abortJS))
	rethrow, _ := goja.AssertFunction(a.run("webapi:rethrow", `(function (e) { throw e; })`))
	ab.rethrow = rethrow
	hooks := a.vm.NewObject()
	_ = hooks.Set("aborted", func(call goja.FunctionCall) goja.Value {
		o := call.Argument(0).(*goja.Object)
		if s, ok := ab.signals[o]; ok {
			s.close()
			// Requests hold their *Signal; one asked for later is made
			// again, already closed.
			delete(ab.signals, o)
		}
		return goja.Undefined()
	})
	_ = hooks.Set("timeout", func(call goja.FunctionCall) goja.Value {
		s := a.signalOf(call.Argument(0).(*goja.Object))
		d := time.Duration(call.Argument(1).ToInteger()) * time.Millisecond
		var later func(func() error)
		if a.host != nil {
			later = a.host.Later()
		}
		time.AfterFunc(d, func() {
			s.expired.Store(true)
			s.close()
			if later != nil {
				later(func() error {
					_, err := ab.timedOut(goja.Undefined(), s.obj)
					return err
				})
			}
		})
		return goja.Undefined()
	})
	_ = hooks.Set("report", func(call goja.FunctionCall) goja.Value {
		e := call.Argument(0)
		if a.host != nil {
			a.host.Later()(func() error {
				_, err := ab.rethrow(goja.Undefined(), e)
				return err
			})
		}
		return goja.Undefined()
	})
	v, err := mk(goja.Undefined(), a.domExceptionCtor(), hooks)
	if err != nil {
		panic(err)
	}
	o := v.(*goja.Object)
	ab.controller, ab.signal = o.Get("AbortController"), o.Get("AbortSignal")
	ab.timedOut, _ = goja.AssertFunction(o.Get("timedOut"))
	ab.isSignal, _ = goja.AssertFunction(o.Get("isSignal"))
	ab.isAborted, _ = goja.AssertFunction(o.Get("isAborted"))
	return ab
}
