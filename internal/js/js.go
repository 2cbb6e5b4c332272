// Package js holds the goja helpers that both the runtime and the bindings
// package need, so that each is written once: naming a value's type for
// messages, defining a global that is built on first use, and letting the
// errors that JavaScript must not catch through.
//
// It imports nothing of scriptrun, so any package may use it.
package js

import (
	"errors"

	"github.com/dop251/goja"
)

// TypeOf names the JavaScript type of v for messages: "undefined", "null",
// "string", "number", "bigint", "symbol", "boolean", "function", "array" or
// "object". Unlike typeof, it tells arrays and null from objects.
func TypeOf(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	case goja.IsString(v):
		return "string"
	case goja.IsNumber(v):
		return "number"
	case goja.IsBigInt(v):
		return "bigint"
	}
	if _, ok := v.(*goja.Symbol); ok {
		return "symbol"
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return "boolean"
	}
	if _, ok := goja.AssertFunction(v); ok {
		return "function"
	}
	if o.ClassName() == "Array" {
		return "array"
	}
	return "object"
}

// LazyGlobal defines the global name as an accessor that calls create on
// first access and then becomes an ordinary (writable, configurable,
// non-enumerable) property holding its result; assigning it first skips
// create. Globals that most scripts never touch cost nothing this way.
// create may panic with a goja value or error to throw in JavaScript.
// Call it on the runtime's goroutine.
func LazyGlobal(vm *goja.Runtime, name string, create func() goja.Value) {
	g := vm.GlobalObject()
	define := func(v goja.Value) {
		_ = g.DefineDataProperty(name, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	get := vm.ToValue(func(goja.FunctionCall) goja.Value {
		v := create()
		define(v)
		return v
	})
	set := vm.ToValue(func(call goja.FunctionCall) goja.Value {
		define(call.Argument(0))
		return goja.Undefined()
	})
	_ = g.DefineAccessorProperty(name, get, set, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// RethrowUncatchable panics with err when it is an interrupt (a timeout, a
// cancellation, a memory stop) or a stack overflow returned by a call into
// JavaScript, so that native code that catches errors to report them never
// turns those into ordinary, catchable ones. Other errors are left to the
// caller.
func RethrowUncatchable(err error) {
	var ie *goja.InterruptedError
	var so *goja.StackOverflowError
	if errors.As(err, &ie) || errors.As(err, &so) {
		panic(err)
	}
}
