package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/require"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/runtime/internal/replsrc"
)

// ErrSessionClosed is returned by Eval after Close.
var ErrSessionClosed = errors.New("runtime: session is closed")

// ErrNoContinuation is returned by Continue when the last input cannot be
// continued.
var ErrNoContinuation = errors.New("runtime: nothing to continue: a line starting with a dot continues the last input if it ran without error and ended, without a semicolon, with an expression or with a declaration of or assignment to one variable")

// prevName is the global through which the code a continuation runs reads
// the value it continues.
const prevName = "__scriptrun_prev"

// maxFiles is how many evaluations a session remembers the rewriting of, to
// report positions in the input as it was typed.
const maxFiles = 200

// Session is a long-lived runtime for a REPL, built from the same runtime,
// bindings and token handling as Script.Run: evaluations share globals, and
// timers and requests started by one evaluation keep running after it
// returns. Uncaught errors in such background work are printed to
// Options.Stderr instead of ending the session.
//
// Input follows Node's REPL rather than script rules: top-level await works
// (`const r = await fetch(u)` leaves r defined for later input), top-level
// let, const and class may be declared again by later input, an input
// starting with { is an object literal, promises are awaited, and the
// globals _ and _error hold the last value and the last error.
//
// require() and Load read .js and .json files inside Options.Folder (the
// REPL's working folder), with the same rules as a script's folder; without
// a folder only "url", "buffer" and "console" can be required.
type Session struct {
	e        *env
	ctx      context.Context // cancelled by Close
	cancel   context.CancelCauseFunc
	loopDone chan struct{} // closed when the loop goroutine exits
	crash    error         // set before loopDone is closed, if the loop panicked

	mu      sync.Mutex // one evaluation at a time
	closed  bool
	n       int                       // evaluations so far, to name them REPL1, REPL2, …
	cancels []context.CancelCauseFunc // of evaluations, whose background work may still run
	cont    *replsrc.Continuation     // how Continue continues the last input; nil: it cannot
	broken  atomic.Bool               // promise jobs no longer run (see stop)

	// Used on the event loop only.
	bindings     map[string]*binding       // top-level let, const and class
	files        map[string]*replsrc.Input // recent inputs by name, to map positions back
	fixed        map[*goja.Object]bool     // errors whose stack positions were mapped
	fileOrder    []string
	last, errVal goja.Value // _ and _error
	value        goja.Value // the last input's value, for Continue (whatever _ is)
	prev         goja.Value // what the running continuation continues (__scriptrun_prev)
	userLast     bool       // the user assigned _ (Node then stops updating it)
	userErr      bool       // … or _error
	gopd         goja.Callable
	names        *namer
}

// binding is a top-level let, const or class declared by REPL input: an
// accessor property of the global object, so that later input may declare
// the name again.
type binding struct {
	kind   replsrc.Kind
	ready  bool // initialised: before that, reading it throws (the temporal dead zone)
	value  goja.Value
	getter *goja.Object
}

// NewSession starts a runtime and its event loop on a goroutine of its own.
// Close it when done.
func NewSession(opts Options) (*Session, error) {
	registry := require.NewRegistry(require.WithLoader(noFiles))
	var f *folder
	if opts.Folder != "" {
		var err error
		if f, err = newFolder(opts.Folder); err != nil {
			return nil, err
		}
		registry = require.NewRegistry(require.WithLoader(f.load), require.WithPathResolver(f.resolve))
	}
	e := newEnv(opts, f, registry, false)
	ctx, cancel := context.WithCancelCause(context.Background())
	e.ctx, e.cancel = ctx, cancel
	s := &Session{e: e, ctx: ctx, cancel: cancel, loopDone: make(chan struct{}),
		bindings: map[string]*binding{}, files: map[string]*replsrc.Input{}, fixed: map[*goja.Object]bool{}}
	// Uncaught errors of background work and console.error name positions
	// in the input as typed.
	e.stderr = &positionWriter{s: s, w: e.stderr}
	ready := make(chan struct{})
	e.loop.RunOnLoop(func(vm *goja.Runtime) {
		e.setup(vm)
		if promise, ok := vm.Get("Promise").(*goja.Object); ok {
			if proto, ok := promise.Get("prototype").(*goja.Object); ok {
				e.then, _ = goja.AssertFunction(proto.Get("then"))
			}
		}
		if object, ok := vm.Get("Object").(*goja.Object); ok {
			s.gopd, _ = goja.AssertFunction(object.Get("getOwnPropertyDescriptor"))
		}
		s.names = newNamer(s)
		s.defineLast()
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

// newFolder is the folder of a session, as Compile makes a script's.
func newFolder(dir string) (*folder, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("runtime: folder %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("runtime: folder %s: %w", dir, unwrapPathError(err))
	}
	return &folder{dir: real, alt: abs}, nil
}

// Incomplete reports whether src is the beginning of valid REPL input that
// needs more lines: an unclosed bracket, template literal or comment, an
// expression that ends in an operator, and so on. Top-level await is taken
// into account. A REPL keeps reading lines while Incomplete is true.
func Incomplete(src string) bool { return replsrc.Incomplete(src) }

type evalResult struct {
	value *Value
	err   error
}

// Eval evaluates src, one input of a REPL, and returns its value described
// for display. When the value is a promise, Eval waits for it. The value
// becomes the global _; a thrown value becomes _error.
//
// Errors are a *CompileError (Incomplete(src) tells whether more input could
// complete it), a *ScriptError, a *TimeoutError (Options.Timeout per
// evaluation), or the cancellation of ctx. Cancelling ctx interrupts the
// JavaScript that is running and aborts the evaluation's HTTP requests; the
// session stays usable.
func (s *Session) Eval(ctx context.Context, src string) (*Value, error) {
	return s.eval(ctx, "", src, false)
}

// Continue evaluates line, which starts with a dot (`.send()`), as the
// continuation of the last input: it is applied to the value that input
// produced, or, when that input ended by declaring or assigning one
// variable, to the variable, which takes the result (`const res =
// http.get(u)` then `.send()` leaves the response in res). The last input
// is not run again, so what it did happens once. The input must have run
// without error and must not end with a semicolon; otherwise Continue
// returns ErrNoContinuation. A continuation that fails leaves the last
// input as it was, to be continued by a corrected line; one that succeeds
// is the last input for the next.
func (s *Session) Continue(ctx context.Context, line string) (*Value, error) {
	return s.eval(ctx, "", line, true)
}

// Load evaluates the file at path in the session, like input typed at the
// prompt: its top-level declarations become globals. The file must be a .js
// or .json file inside the session's folder, the rule require() follows;
// stack traces name it relative to the folder.
func (s *Session) Load(ctx context.Context, path string) (*Value, error) {
	f := s.e.folder
	if f == nil {
		return nil, fmt.Errorf("runtime: load %s: this session has no folder to load files from", path)
	}
	rel := f.resolve(".", path)
	if !inside(rel) {
		return nil, fmt.Errorf("load %s: outside the folder %s; only files inside the folder the REPL started in can be loaded, as with require()", path, f.dir)
	}
	var src []byte
	var err error
	switch strings.ToLower(filepath.Ext(rel)) {
	case ".ts", ".mts", ".cts", ".mjs":
		src, err = f.read(rel)
		if errors.Is(err, fs.ErrNotExist) {
			err = require.ModuleFileDoesNotExistError
		}
	default:
		src, err = f.load(rel)
	}
	var outside *errOutside
	switch {
	case errors.As(err, &outside):
		return nil, fmt.Errorf("load %s: %v, outside the folder %s; only files inside the folder the REPL started in can be loaded, as with require()", path, outside, f.dir)
	case errors.Is(err, require.ModuleFileDoesNotExistError):
		return nil, fmt.Errorf("load %s: no such file in %s", path, f.dir)
	case err != nil:
		return nil, fmt.Errorf("load %s: %w", path, unwrapPathError(err))
	}
	if NeedsBundle(rel, string(src)) {
		// TypeScript or a module: its bundle runs as one async input, so
		// its declarations stay its own, as a module's do.
		b, err := f.bundle(rel, "")
		if err != nil {
			return nil, err
		}
		return s.evalBundle(ctx, filepath.ToSlash(rel), b.Source)
	}
	return s.eval(ctx, filepath.ToSlash(rel), string(src), false)
}

// evalBundle runs a bundle (Bundle.Source) as one input: it evaluates to an
// async function, which eval calls and awaits as it does input with
// top-level await.
func (s *Session) evalBundle(ctx context.Context, name, src string) (*Value, error) {
	return s.evalInput(ctx, name, src, false, true)
}

// eval runs one input; name is "" for typed input (named REPL1, REPL2, …).
// cont makes it a continuation of the last input (Continue).
func (s *Session) eval(ctx context.Context, name, src string, cont bool) (v *Value, err error) {
	return s.evalInput(ctx, name, src, cont, false)
}

// evalInput is eval; bundle says src is a bundle, compiled as it is with
// its inline source map instead of rewritten by replsrc.
func (s *Session) evalInput(ctx context.Context, name, src string, cont, bundle bool) (v *Value, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrSessionClosed
	}
	var c replsrc.Continuation
	if cont {
		if s.cont == nil {
			return nil, ErrNoContinuation
		}
		c = *s.cont
	}
	if name == "" {
		s.n++
		name = "REPL" + strconv.Itoa(s.n)
	}
	var in *replsrc.Input
	switch {
	case bundle:
		in = &replsrc.Input{Name: name, Source: src, Code: src, Async: true}
	case cont:
		in, err = replsrc.PrepareContinued(name, c.Head+prevName, src)
	default:
		in, err = replsrc.Prepare(name, src)
	}
	defer func() {
		switch {
		case err == nil:
			s.cont = in.Continue
		case !cont:
			s.cont = nil
		case c.Target != "":
			s.e.loop.RunOnLoop(func(*goja.Runtime) { s.restore(c.Target) })
		}
	}()
	if err != nil {
		var re *replsrc.Error
		if errors.As(err, &re) {
			return nil, &CompileError{File: re.File, Line: re.Line, Column: re.Column, Message: re.Message, Source: re.Source}
		}
		return nil, fmt.Errorf("runtime: preparing %s: %w", name, err)
	}
	var prg *goja.Program
	if bundle {
		var bs *Script
		if bs, err = compileBundleSource(name, in.Code); err == nil {
			prg = bs.prg
		}
	} else {
		prg, err = compileProgram(name, in.Code)
	}
	if err != nil {
		var ce *CompileError
		if errors.As(err, &ce) {
			ce.Line, ce.Column, ce.Source = in.Position(ce.Line, ce.Column)
		}
		return nil, err
	}
	evalCtx, cancelEval := context.WithCancelCause(s.ctx)
	evalCtx = withDeadlineHint(evalCtx, s.e.opts.Timeout) // the timer below enforces it
	s.cancels = append(s.cancels, cancelEval)

	out := make(chan evalResult, 1)
	deliver := func(r evalResult) {
		select {
		case out <- r:
		default:
		}
	}
	e := s.e
	e.loop.RunOnLoop(func(vm *goja.Runtime) {
		if evalCtx.Err() != nil {
			return
		}
		defer func() {
			// A bug here must not take the session down.
			if x := recover(); x != nil {
				deliver(evalResult{err: fmt.Errorf("runtime: internal error while evaluating %s: %v", name, x)})
			}
		}()
		e.ctx = evalCtx
		s.remember(in)
		if cont {
			s.prev = s.value
			if c.Target != "" {
				// Read before declare puts a declared name back in its
				// temporal dead zone.
				s.prev = goja.Undefined()
				if ex := vm.Try(func() { s.prev = vm.GlobalObject().Get(c.Target) }); ex != nil {
					deliver(evalResult{err: s.failed(evalCtx, ex)})
					return
				}
			}
		}
		if err := s.declare(in); err != nil {
			deliver(evalResult{err: err})
			return
		}
		if in.Async && s.broken.Load() {
			deliver(evalResult{err: ErrPromisesBroken})
			return
		}
		v, err := vm.RunProgram(prg)
		switch {
		case err == nil && in.Async:
			v, err = s.start(v)
		case err == nil && in.Void:
			v = goja.Undefined()
		}
		if err != nil {
			deliver(evalResult{err: s.failed(evalCtx, err)})
			return
		}
		s.await(v, deliver)
	})

	var expired <-chan time.Time
	if t := e.opts.Timeout; t > 0 {
		timer := time.NewTimer(t)
		defer timer.Stop()
		expired = timer.C
	}
	memory := newMemoryWatch(e.opts.MaxMemory, e.opts.Stuck != nil)
	defer memory.stop()
	var reason error
wait:
	for {
		select {
		case r := <-out:
			return r.value, r.err
		case <-ctx.Done():
			reason = stopError(ctx)
			break wait
		case <-expired:
			reason = &TimeoutError{Timeout: e.opts.Timeout}
			break wait
		case <-memory.C():
			if reason = memory.check(); reason != nil {
				break wait
			}
		case <-s.ctx.Done():
			return nil, ErrSessionClosed
		case <-s.loopDone:
			return nil, s.crash
		}
	}
	e.awaitStop(reason, s.stop(evalCtx, cancelEval, reason))
	return nil, reason
}

// restore gives the variable a failed continuation declared again the
// value it continued, so that it is not left in its temporal dead zone.
// It runs on the event loop.
func (s *Session) restore(name string) {
	if b := s.bindings[name]; b != nil && !b.ready {
		b.value, b.ready = s.prev, true
	}
}

// stop ends an evaluation early: it cancels its context (aborting its HTTP
// requests and dropping its timers) and, if JavaScript still keeps the loop
// busy after interruptGrace — the evaluation, a continuation of it after an
// await, or background work — interrupts it, so that the loop is free for
// the next input. A memory or stack stop interrupts at once. The interrupt
// is cleared by a job queued behind it; JavaScript queued in between
// (timers of earlier input that are due) is interrupted too.
//
// The grace matters: goja leaves its VM unable to run promise jobs when an
// interrupt lands inside an async function resumed by a promise job (its
// generator's frames are not unwound; later await and then never settle).
// An evaluation waiting on a timer or a request is idle, so cancelling its
// context is enough and no interrupt can land in a continuation by chance.
// When one does land there (busy code after an await), the clear job sees
// it (promisesWork) and the session says so instead of hanging later.
//
// The returned channel is closed when the clear job has run: the loop is
// free again. It stays open while the loop is inside a native call.
func (s *Session) stop(evalCtx context.Context, cancelEval context.CancelCauseFunc, reason error) (stopped <-chan struct{}) {
	cancelEval(reason)
	if !stopAtOnce(reason) {
		free := s.clearJob(evalCtx)
		timer := time.NewTimer(interruptGrace)
		defer timer.Stop()
		select {
		case <-free:
			return free
		case <-timer.C:
		}
	}
	s.e.vm.Interrupt(reason)
	return s.clearJob(evalCtx)
}

// interruptGrace is how long a stopped evaluation may keep the loop busy
// before it is interrupted.
const interruptGrace = 100 * time.Millisecond

// stopAtOnce reports whether a stop must interrupt without a grace: memory
// and stack stops, where waiting lets the script grow.
func stopAtOnce(reason error) bool {
	var me *MemoryError
	var se *StackError
	return errors.As(reason, &me) || errors.As(reason, &se)
}

// clearJob queues the job that clears an interrupt and checks that promise
// jobs still run; the channel closes when it has run (or at once when the
// loop has ended).
func (s *Session) clearJob(evalCtx context.Context) <-chan struct{} {
	e := s.e
	cleared := make(chan struct{})
	queued := e.loop.RunOnLoop(func(vm *goja.Runtime) {
		defer close(cleared)
		vm.ClearInterrupt()
		// Background work that runs before the next evaluation must not
		// inherit the cancelled context.
		if e.ctx == evalCtx {
			e.ctx = s.ctx
		}
		if !s.broken.Load() && !s.promisesWork(vm) {
			s.broken.Store(true)
			fmt.Fprintln(e.stderr, ErrPromisesBroken.Error()+".")
		}
	})
	if !queued { // the loop has ended: nothing is running
		close(cleared)
	}
	return cleared
}

// ErrPromisesBroken is the error of an evaluation that needs promise jobs
// (await, a returned promise) in a session where an interrupt left goja
// unable to run them.
var ErrPromisesBroken = errors.New("runtime: interrupting that async code left this session's JavaScript engine unable to settle promises (a goja limitation): await and then no longer work here; keep your work with .save and start a new session")

// promisesWork reports whether a promise job queued now runs before control
// returns here, as it does in a healthy runtime. It runs on the loop.
func (s *Session) promisesWork(vm *goja.Runtime) bool {
	if s.e.then == nil {
		return true
	}
	p, resolve, _ := vm.NewPromise()
	if err := resolve(nil); err != nil {
		return false
	}
	ran := false
	onFulfilled := vm.ToValue(func(goja.FunctionCall) goja.Value {
		ran = true
		return goja.Undefined()
	})
	if _, err := s.e.then(vm.ToValue(p), onFulfilled); err != nil {
		return false
	}
	return ran
}

// failed converts an error of RunProgram (or of starting the async wrapper)
// into the evaluation's error, recording a thrown value as _error.
func (s *Session) failed(evalCtx context.Context, err error) error {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		if cause := context.Cause(evalCtx); cause != nil {
			return cause
		}
		return fmt.Errorf("runtime: evaluation interrupted: %v", ie.Value())
	}
	// The error is built from the thrown value before setError rewrites the
	// positions in its stack, so they are mapped exactly once.
	out := s.fixError(s.e.toError(err))
	var ex *goja.Exception
	if errors.As(err, &ex) {
		s.setError(ex.Value())
	}
	return out
}

// start calls the async wrapper of input that uses top-level await.
func (s *Session) start(fn goja.Value) (goja.Value, error) {
	call, ok := goja.AssertFunction(fn)
	if !ok {
		return nil, errors.New("runtime: internal error: the async wrapper is not a function")
	}
	hoist := s.e.vm.ToValue(func(c goja.FunctionCall) goja.Value {
		s.defineVar(c.Argument(0).String(), c.Argument(1))
		return goja.Undefined()
	})
	return call(goja.Undefined(), hoist)
}

// await delivers v, or the outcome of v when it is a promise.
func (s *Session) await(v goja.Value, deliver func(evalResult)) {
	e := s.e
	settle := func(v goja.Value) {
		s.setLast(v)
		s.value = v
		deliver(evalResult{value: s.describe(v)})
	}
	if o, ok := v.(*goja.Object); ok && e.then != nil && o.ExportType() == reflect.TypeFor[*goja.Promise]() {
		if s.broken.Load() {
			deliver(evalResult{err: ErrPromisesBroken})
			return
		}
		{
			onFulfilled := e.vm.ToValue(func(call goja.FunctionCall) goja.Value {
				settle(call.Argument(0))
				return goja.Undefined()
			})
			onRejected := e.vm.ToValue(func(call goja.FunctionCall) goja.Value {
				err := s.fixError(e.scriptError(call.Argument(0), nil))
				s.setError(call.Argument(0))
				deliver(evalResult{err: err})
				return goja.Undefined()
			})
			if _, err := e.then(o, onFulfilled, onRejected); err != nil {
				deliver(evalResult{err: s.fixError(e.toError(err))})
			}
			return
		}
	}
	settle(v)
}

// declare defines the top-level declarations of an input before it runs:
// var names of async input as undefined globals (unless they exist), and
// let, const and class as bindings in their temporal dead zone. Like a
// script, it refuses to shadow a global that cannot be redefined, such as
// undefined or a var.
func (s *Session) declare(in *replsrc.Input) error {
	g := s.e.vm.GlobalObject()
	for _, d := range in.Decls {
		if _, ours := s.bindings[d.Name]; ours || d.Name == "_" || d.Name == "_error" {
			continue
		}
		if desc := s.descriptor(g, d.Name); desc != nil && !desc.Get("configurable").ToBoolean() {
			return &ScriptError{Message: fmt.Sprintf("SyntaxError: Identifier '%s' has already been declared", d.Name)}
		}
	}
	for _, name := range in.Vars {
		if s.descriptor(g, name) == nil {
			_ = g.DefineDataProperty(name, goja.Undefined(), goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
		}
	}
	for _, d := range in.Decls {
		s.bind(d)
	}
	return nil
}

// bind defines one let, const or class binding as a global accessor.
func (s *Session) bind(d replsrc.Decl) {
	vm := s.e.vm
	switch d.Name {
	case "_":
		s.userLast = true
		fmt.Fprintln(s.e.stderr, "Expression assignment to _ now disabled.")
	case "_error":
		s.userErr = true
		fmt.Fprintln(s.e.stderr, "Expression assignment to _error now disabled.")
	}
	b := &binding{kind: d.Kind, ready: d.Ready, value: goja.Undefined()}
	name := d.Name
	b.getter = vm.ToValue(func(goja.FunctionCall) goja.Value {
		if !b.ready {
			panic(s.newError("ReferenceError", fmt.Sprintf("Cannot access '%s' before initialization", name)))
		}
		return b.value
	}).(*goja.Object)
	setter := vm.ToValue(func(call goja.FunctionCall) goja.Value {
		if b.kind == replsrc.Const && b.ready {
			panic(s.newError("TypeError", "Assignment to constant variable."))
		}
		b.value, b.ready = call.Argument(0), true
		return goja.Undefined()
	})
	s.bindings[name] = b
	_ = vm.GlobalObject().DefineAccessorProperty(name, b.getter, setter, goja.FLAG_TRUE, goja.FLAG_TRUE)
}

// defineVar is the hoisting helper of the async wrapper: it makes a
// function declared at the top level of the input a global.
func (s *Session) defineVar(name string, v goja.Value) {
	g := s.e.vm.GlobalObject()
	delete(s.bindings, name)
	if err := g.DefineDataProperty(name, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
		_ = g.Set(name, v)
	}
}

// descriptor returns Object.getOwnPropertyDescriptor(o, name), or nil.
func (s *Session) descriptor(o *goja.Object, name string) (desc *goja.Object) {
	if s.gopd == nil {
		return nil
	}
	if ex := s.e.vm.Try(func() {
		v, err := s.gopd(goja.Undefined(), o, s.e.vm.ToValue(name))
		if err == nil {
			desc, _ = v.(*goja.Object)
		}
	}); ex != nil {
		return nil
	}
	return desc
}

// newError creates an error of the named built-in class (ReferenceError,
// TypeError), or a plain Error if input replaced that global.
func (s *Session) newError(class, msg string) goja.Value {
	if ctor, ok := s.e.vm.Get(class).(*goja.Object); ok {
		if o, err := s.e.vm.New(ctor, s.e.vm.ToValue(msg)); err == nil {
			return o
		}
	}
	return s.e.newError(msg)
}

// defineLast defines _ and _error: accessors that follow the last value and
// error until the user assigns them, as in Node.
func (s *Session) defineLast() {
	vm := s.e.vm
	g := vm.GlobalObject()
	define := func(name string, get func() goja.Value, user *bool) {
		getter := vm.ToValue(func(goja.FunctionCall) goja.Value {
			if v := get(); v != nil {
				return v
			}
			return goja.Undefined()
		})
		setter := vm.ToValue(func(call goja.FunctionCall) goja.Value {
			*user = true
			_ = g.DefineDataProperty(name, call.Argument(0), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
			fmt.Fprintf(s.e.stderr, "Expression assignment to %s now disabled.\n", name)
			return goja.Undefined()
		})
		_ = g.DefineAccessorProperty(name, getter, setter, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	define("_", func() goja.Value { return s.last }, &s.userLast)
	define("_error", func() goja.Value { return s.errVal }, &s.userErr)
	prev := vm.ToValue(func(goja.FunctionCall) goja.Value {
		if s.prev == nil {
			return goja.Undefined()
		}
		return s.prev
	})
	_ = g.DefineAccessorProperty(prevName, prev, nil, goja.FLAG_FALSE, goja.FLAG_FALSE)
}

func (s *Session) setLast(v goja.Value) {
	if !s.userLast {
		s.last = v
	}
}

func (s *Session) setError(v goja.Value) {
	if !s.userErr {
		s.errVal = v
	}
	// The error object's own stack names positions in the input as typed
	// (once: the same error may be thrown again).
	if o, ok := v.(*goja.Object); ok && o.ClassName() == "Error" && !s.fixed[o] {
		if len(s.fixed) >= maxFiles {
			clear(s.fixed)
		}
		s.fixed[o] = true
		if stack := safeGet(s.e.vm, o, "stack"); stack != "" {
			if fixed := s.fixPositions(stack); fixed != stack {
				_ = s.e.vm.Try(func() { _ = o.Set("stack", fixed) })
			}
		}
	}
}

// remember keeps the rewriting of recent inputs, to map positions back.
func (s *Session) remember(in *replsrc.Input) {
	if !in.Rewritten() {
		return
	}
	if _, ok := s.files[in.Name]; !ok {
		s.fileOrder = append(s.fileOrder, in.Name)
	}
	s.files[in.Name] = in
	if len(s.fileOrder) > maxFiles {
		delete(s.files, s.fileOrder[0])
		s.fileOrder = s.fileOrder[1:]
	}
}

// locationPattern matches file:line:column in messages and stacks.
var locationPattern = lazy.Regexp{Expr: `([^\s():]+):(\d+):(\d+)`}

// fixPositions rewrites file:line:column of rewritten inputs into positions
// in the input as typed.
func (s *Session) fixPositions(text string) string {
	if len(s.files) == 0 || !strings.Contains(text, ":") {
		return text
	}
	return locationPattern.Get().ReplaceAllStringFunc(text, func(m string) string {
		sub := locationPattern.Get().FindStringSubmatch(m)
		in, ok := s.files[sub[1]]
		if !ok {
			return m
		}
		line, _ := strconv.Atoi(sub[2])
		col, _ := strconv.Atoi(sub[3])
		line, col, _ = in.Position(line, col)
		return sub[1] + ":" + strconv.Itoa(line) + ":" + strconv.Itoa(col)
	})
}

// fixError maps the positions in an evaluation's error.
func (s *Session) fixError(err error) error {
	var se *ScriptError
	if errors.As(err, &se) {
		se.Message = s.fixPositions(se.Message)
		se.Stack = s.fixPositions(se.Stack)
	}
	return err
}

// positionWriter maps positions in what the session writes to stderr. It is
// used on the event loop only.
type positionWriter struct {
	s *Session
	w io.Writer
}

func (p *positionWriter) Write(b []byte) (int, error) {
	fixed := p.s.fixPositions(string(b))
	if _, err := io.WriteString(p.w, fixed); err != nil {
		return 0, err
	}
	return len(b), nil
}

// warnUnsent warns, as a run does at its end, about requests built with
// apiTokenAuth and never sent, while the loop still runs. In a REPL a
// builder is often sent by a later input, so the session warns only when it
// ends. The wait is bounded: background work may keep the loop busy, and the
// warning is not worth hanging for.
func (s *Session) warnUnsent() {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	done := make(chan struct{})
	if !s.e.loop.RunOnLoop(func(*goja.Runtime) { defer close(done); s.e.warnUnsent() }) {
		return
	}
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	select {
	case <-done:
	case <-s.loopDone:
	case <-timer.C:
	}
}

// Close stops the session: it warns on Options.Stderr about requests built
// with apiTokenAuth and never sent (as a run does when it ends), cancels
// evaluations and requests still running, stops the event loop and clears
// its timers.
func (s *Session) Close() error {
	s.warnUnsent()
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
