package runtime

import (
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

// newConsole creates the console object: log, info and debug write to
// stdout; warn and error to stderr. Arguments are formatted like Node's:
// strings as they are, other values as JSON-like text, separated by spaces,
// with printf-style directives (%s %d %i %f %j %o %O %%) in a leading string.
func (e *env) newConsole() *goja.Object {
	c := e.vm.NewObject()
	write := func(name string, w io.Writer) {
		_ = c.Set(name, e.fn(name, func(call goja.FunctionCall) goja.Value {
			line := e.format.args(call.Arguments)
			_, _ = io.WriteString(w, line+"\n")
			return goja.Undefined()
		}))
	}
	write("log", e.stdout)
	write("info", e.stdout)
	write("debug", e.stdout)
	write("warn", e.stderr)
	write("error", e.stderr)
	return c
}

// formatter renders JavaScript values for people (console output, REPL
// results, uncaught errors). It runs on the event loop.
type formatter struct {
	vm        *goja.Runtime
	json      *goja.Object
	stringify goja.Callable
	arrayFrom goja.Callable
	// Constructors of Map, Set and Promise (whose class goja reports as
	// "Object"), looked up on first use: goja builds them lazily, and doing
	// so for every runtime would cost a sixth of its creation.
	ctorsLoaded                   bool
	mapCtor, setCtor, promiseCtor *goja.Object
}

func newFormatter(vm *goja.Runtime) *formatter {
	f := &formatter{vm: vm}
	f.json, _ = vm.Get("JSON").(*goja.Object)
	f.stringify, _ = goja.AssertFunction(f.json.Get("stringify"))
	if array, ok := vm.Get("Array").(*goja.Object); ok {
		f.arrayFrom, _ = goja.AssertFunction(array.Get("from"))
	}
	return f
}

// is reports whether o is an instance of *ctor.
func (f *formatter) is(o *goja.Object, ctor **goja.Object) (ok bool) {
	if !f.ctorsLoaded {
		f.ctorsLoaded = true
		f.mapCtor, _ = f.vm.Get("Map").(*goja.Object)
		f.setCtor, _ = f.vm.Get("Set").(*goja.Object)
		f.promiseCtor, _ = f.vm.Get("Promise").(*goja.Object)
	}
	if *ctor == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return f.vm.InstanceOf(o, *ctor)
}

// args formats console arguments.
func (f *formatter) args(args []goja.Value) string {
	var b strings.Builder
	if len(args) > 0 && goja.IsString(args[0]) && strings.Contains(args[0].String(), "%") {
		args = f.printf(&b, args[0].String(), args[1:])
	}
	for _, a := range args {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.value(a, true))
	}
	return b.String()
}

// printf applies Node's format directives and returns the unused arguments.
func (f *formatter) printf(b *strings.Builder, format string, args []goja.Value) []goja.Value {
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		d := format[i+1]
		if d == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		if !strings.ContainsRune("sdifjoOc", rune(d)) || len(args) == 0 {
			b.WriteByte(c)
			continue
		}
		a := args[0]
		args = args[1:]
		i++
		switch d {
		case 's':
			b.WriteString(f.value(a, true))
		case 'd', 'i':
			n := a.ToFloat()
			if d == 'i' && !math.IsNaN(n) && !math.IsInf(n, 0) {
				n = math.Trunc(n)
			}
			b.WriteString(f.vm.ToValue(n).String())
		case 'f':
			b.WriteString(f.vm.ToValue(a.ToFloat()).String())
		case 'j', 'o', 'O':
			b.WriteString(f.value(a, false))
		case 'c': // CSS: ignored, as in Node
		}
	}
	return args
}

// value formats one value. At the top level strings are written as they are;
// nested (and in the REPL) they are quoted.
func (f *formatter) value(v goja.Value, top bool) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	case goja.IsString(v):
		if top {
			return v.String()
		}
		return quoteJSON(v.String())
	case goja.IsBigInt(v):
		return v.String() + "n"
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return v.String() // number, boolean, symbol
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		return functionName(o)
	}
	switch {
	case o.ClassName() == "Error":
		return f.errorText(o)
	case f.is(o, &f.promiseCtor):
		if p, ok := o.Export().(*goja.Promise); ok {
			switch p.State() {
			case goja.PromiseStatePending:
				return "Promise { <pending> }"
			case goja.PromiseStateRejected:
				return "Promise { <rejected> " + f.value(p.Result(), false) + " }"
			default:
				return "Promise { " + f.value(p.Result(), false) + " }"
			}
		}
	}
	return f.jsonText(o)
}

// jsonText renders an object as JSON, showing functions, cycles, errors,
// Maps and Sets instead of failing or dropping them.
func (f *formatter) jsonText(o *goja.Object) string {
	const maxDepth = 20
	var ancestors []*goja.Object
	replacer := f.vm.ToValue(func(call goja.FunctionCall) goja.Value {
		holder, _ := call.This.(*goja.Object)
		// JSON.stringify walks depth-first, so the holder is on the stack;
		// everything above it has been fully serialized.
		for len(ancestors) > 0 && ancestors[len(ancestors)-1] != holder {
			ancestors = ancestors[:len(ancestors)-1]
		}
		v := call.Argument(1)
		if goja.IsBigInt(v) {
			return f.vm.ToValue(v.String() + "n")
		}
		obj, ok := v.(*goja.Object)
		if !ok {
			return v
		}
		if _, isFn := goja.AssertFunction(obj); isFn {
			return f.vm.ToValue(functionName(obj))
		}
		for _, a := range ancestors {
			if a == obj {
				return f.vm.ToValue("[Circular]")
			}
		}
		if len(ancestors) >= maxDepth {
			return f.vm.ToValue("[Object]")
		}
		switch {
		case obj.ClassName() == "Error":
			return f.vm.ToValue(firstLine(f.errorText(obj)))
		case f.is(obj, &f.mapCtor) || f.is(obj, &f.setCtor):
			if f.arrayFrom != nil {
				if arr, err := f.arrayFrom(goja.Undefined(), obj); err == nil {
					obj = arr.(*goja.Object)
					v = obj
				}
			}
		}
		ancestors = append(ancestors, obj)
		return v
	})
	res, err := f.stringify(f.json, o, replacer)
	if err != nil {
		js.RethrowUncatchable(err)
		return safeString(f.vm, o)
	}
	if goja.IsUndefined(res) {
		return safeString(f.vm, o)
	}
	return res.String()
}

// errorText renders an Error as its stack (file:line:column, without goja's
// instruction counters), plus its code when it has one.
func (f *formatter) errorText(o *goja.Object) string {
	text := cleanStack(safeGet(f.vm, o, "stack"))
	if text == "" {
		text = safeString(f.vm, o)
	}
	if code := safeGet(f.vm, o, "code"); code != "" {
		text += " { code: " + quoteJSON(code) + " }"
	}
	return text
}

func functionName(o *goja.Object) string {
	name := ""
	if v := o.Get("name"); v != nil && goja.IsString(v) {
		name = v.String()
	}
	if name == "" {
		return "[Function (anonymous)]"
	}
	return "[Function: " + name + "]"
}

func quoteJSON(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return string(b)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// safeGet reads a string property without letting a throwing getter escape;
// it returns "" for undefined, null and failures.
func safeGet(vm *goja.Runtime, o *goja.Object, key string) (s string) {
	defer func() {
		if recover() != nil {
			s = ""
		}
	}()
	var v goja.Value
	if ex := vm.Try(func() { v = o.Get(key) }); ex != nil || v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return ""
	}
	_ = vm.Try(func() { s = v.String() })
	return s
}

// safeString converts a value to a string without letting a throwing
// toString escape.
func safeString(vm *goja.Runtime, v goja.Value) (s string) {
	defer func() {
		if recover() != nil {
			s = "[object]"
		}
	}()
	if ex := vm.Try(func() { s = v.String() }); ex != nil {
		return "[object]"
	}
	return s
}
