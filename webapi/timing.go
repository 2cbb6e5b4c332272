package webapi

import (
	"time"

	"github.com/dop251/goja"
)

// newPerformance builds the performance global: now() and timeOrigin
// (https://w3c.github.io/hr-time/). now() reads Go's monotonic clock, so it
// never goes back when the wall clock is set.
func (a *api) newPerformance() goja.Value {
	p := a.vm.NewObject()
	a.method(p, "now", 0, func(goja.FunctionCall) goja.Value {
		return a.vm.ToValue(float64(time.Since(a.origin).Nanoseconds()) / 1e6)
	})
	_ = p.DefineDataProperty("timeOrigin", a.vm.ToValue(float64(a.origin.UnixNano())/1e6), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_TRUE)
	a.method(p, "toJSON", 0, func(goja.FunctionCall) goja.Value {
		o := a.vm.NewObject()
		_ = o.Set("timeOrigin", p.Get("timeOrigin"))
		return o
	})
	_ = p.DefineDataPropertySymbol(goja.SymToStringTag, a.vm.ToValue("Performance"), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	return p
}

// queueMicrotask runs callback as a microtask, after the current task and
// before any timer, by way of a resolved promise.
func (a *api) queueMicrotask(call goja.FunctionCall) goja.Value {
	cb, ok := goja.AssertFunction(call.Argument(0))
	if !ok {
		panic(a.vm.NewTypeError("queueMicrotask: argument 1 must be a function"))
	}
	if a.microtask == nil {
		f, _ := goja.AssertFunction(a.run("webapi:queueMicrotask", `(function (resolved) {
  return (cb) => { resolved.then(() => cb()); };
})(Promise.resolve())`))
		a.microtask = f
	}
	fn := a.vm.ToValue(func(goja.FunctionCall) goja.Value {
		if _, err := cb(goja.Undefined()); err != nil {
			panic(err)
		}
		return goja.Undefined()
	})
	if _, err := a.microtask(goja.Undefined(), fn); err != nil {
		panic(err)
	}
	return goja.Undefined()
}
