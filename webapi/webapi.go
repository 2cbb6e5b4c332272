package webapi

import (
	"time"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

// api is the state the globals of one runtime share. It is used on the
// runtime's goroutine only.
type api struct {
	vm     *goja.Runtime
	host   Host
	origin time.Time // performance.timeOrigin; performance.now counts from it

	domException *goja.Object         // built on first use
	keyProto     *goja.Object         // CryptoKey.prototype, built on first use
	microtask    goja.Callable        // queues a function as a promise reaction
	clone        goja.Callable        // structuredClone, compiled on first use
	abort        *abort               // AbortController and AbortSignal, built on first use
	makeClass    goja.Callable        // builds the classes of ctor
	objects      map[*goja.Object]any // native state of TextDecoder and CryptoKey objects
}

// Globals are the globals Enable defined on one runtime.
type Globals struct{ a *api }

// Enable defines atob, btoa, TextEncoder, TextDecoder, crypto, DOMException,
// AbortController, AbortSignal, performance, queueMicrotask and
// structuredClone on vm as globals built on first use. host runs
// AbortSignal.timeout's abort on the runtime's goroutine; with a nil host
// such a signal aborts only when Signal.Reason is asked. Call Enable on the
// runtime's goroutine, before any script runs.
func Enable(vm *goja.Runtime, host Host) *Globals {
	a := &api{vm: vm, host: host, origin: time.Now(), objects: map[*goja.Object]any{}}
	lazyFunc := func(name string, length int, f func(goja.FunctionCall) goja.Value) {
		js.LazyGlobal(vm, name, func() goja.Value { return a.fn(name, length, f) })
	}
	lazyFunc("atob", 1, a.atob)
	lazyFunc("btoa", 1, a.btoa)
	lazyFunc("queueMicrotask", 1, a.queueMicrotask)
	lazyFunc("structuredClone", 1, a.structuredClone)
	js.LazyGlobal(vm, "DOMException", func() goja.Value { return a.domExceptionCtor() })
	js.LazyGlobal(vm, "TextEncoder", func() goja.Value { return a.textEncoderCtor() })
	js.LazyGlobal(vm, "TextDecoder", func() goja.Value { return a.textDecoderCtor() })
	js.LazyGlobal(vm, "crypto", func() goja.Value { return a.newCrypto() })
	js.LazyGlobal(vm, "performance", func() goja.Value { return a.newPerformance() })
	js.LazyGlobal(vm, "AbortController", func() goja.Value { return a.abortGlobals().controller })
	js.LazyGlobal(vm, "AbortSignal", func() goja.Value { return a.abortGlobals().signal })
	return &Globals{a: a}
}

// fn wraps f as a JavaScript function with the given name and length.
func (a *api) fn(name string, length int, f func(goja.FunctionCall) goja.Value) *goja.Object {
	o := a.vm.ToValue(f).(*goja.Object)
	_ = o.DefineDataProperty("name", a.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = o.DefineDataProperty("length", a.vm.ToValue(length), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	return o
}

// method defines f as a non-enumerable method of o, as Web IDL operations are.
func (a *api) method(o *goja.Object, name string, length int, f func(goja.FunctionCall) goja.Value) {
	_ = o.DefineDataProperty(name, a.fn(name, length, f), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
}

// run compiles and runs JavaScript that is part of this package and returns
// its value; the source is ours, so a failure is a bug.
func (a *api) run(name, src string) goja.Value {
	v, err := a.vm.RunScript(name, src)
	if err != nil {
		panic(err)
	}
	return v
}

// ctor builds a constructor whose instances get their native state from
// init, and whose prototype carries the methods and getters the caller adds.
// It is a JavaScript class around init, so that calling it without new
// throws a TypeError and subclasses work, as for Web IDL interfaces.
func (a *api) ctor(name string, length int, init func(this *goja.Object, args []goja.Value) any) (ctor, proto *goja.Object) {
	if a.makeClass == nil {
		a.makeClass, _ = goja.AssertFunction(a.run("webapi:class", `(function (name, length, init) {
  const C = ({ [name]: class { constructor(...args) { init(this, ...args); } } })[name];
  Object.defineProperty(C, 'length', { value: length });
  Object.defineProperty(C.prototype, Symbol.toStringTag, { value: name, configurable: true });
  return C;
})`))
	}
	initFn := a.vm.ToValue(func(call goja.FunctionCall) goja.Value {
		this := call.Argument(0).(*goja.Object)
		if state := init(this, call.Arguments[1:]); state != nil {
			a.objects[this] = state
		}
		return goja.Undefined()
	})
	v, err := a.makeClass(goja.Undefined(), a.vm.ToValue(name), a.vm.ToValue(length), initFn)
	if err != nil {
		panic(err)
	}
	ctor = v.(*goja.Object)
	return ctor, ctor.Get("prototype").(*goja.Object)
}

// getter defines a read-only accessor on proto.
func (a *api) getter(proto *goja.Object, name string, f func(this goja.Value) goja.Value) {
	get := a.fn("get "+name, 0, func(call goja.FunctionCall) goja.Value { return f(call.This) })
	_ = proto.DefineAccessorProperty(name, get, nil, goja.FLAG_TRUE, goja.FLAG_TRUE)
}

// state returns this's native state when it is a T, and otherwise throws
// the TypeError Web IDL prescribes for a method called on the wrong object.
func state[T any](a *api, this goja.Value, what string) T {
	if o, ok := this.(*goja.Object); ok {
		if s, ok := a.objects[o].(T); ok {
			return s
		}
	}
	panic(a.vm.NewTypeError("Illegal invocation: %s called on an object that is not one", what))
}

// bufferSource returns the bytes an ArrayBuffer, typed array or DataView
// views, sharing its memory; ok is false for anything else.
func (a *api) bufferSource(v goja.Value) (b []byte, ok bool) {
	o, isObj := v.(*goja.Object)
	if !isObj {
		return nil, false
	}
	if ab, isAB := o.Export().(goja.ArrayBuffer); isAB {
		return ab.Bytes(), true
	}
	if !isView(o) {
		return nil, false
	}
	ab, isAB := o.Get("buffer").Export().(goja.ArrayBuffer)
	if !isAB {
		return nil, false
	}
	off, n := o.Get("byteOffset").ToInteger(), o.Get("byteLength").ToInteger()
	all := ab.Bytes()
	if off < 0 || n < 0 || off+n > int64(len(all)) {
		return nil, false
	}
	return all[off : off+n], true
}

// viewKind names a typed array's or DataView's type ("Uint8Array", …), or
// returns "" for other values.
func viewKind(o *goja.Object) string {
	tag := o.GetSymbol(goja.SymToStringTag)
	if tag == nil || !goja.IsString(tag) {
		return ""
	}
	switch s := tag.String(); s {
	case "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
		"Int32Array", "Uint32Array", "Float32Array", "Float64Array",
		"BigInt64Array", "BigUint64Array", "DataView":
		return s
	}
	return ""
}

func isView(o *goja.Object) bool { return viewKind(o) != "" }

// uint8Array returns a new Uint8Array holding b.
func (a *api) uint8Array(b []byte) *goja.Object {
	ctor := a.vm.GlobalObject().Get("Uint8Array").(*goja.Object)
	o, err := a.vm.New(ctor, a.vm.ToValue(a.vm.NewArrayBuffer(b)))
	if err != nil {
		panic(err)
	}
	return o
}
