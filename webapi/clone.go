package webapi

import (
	"github.com/dop251/goja"
)

// structuredCloneJS is the HTML structured clone
// (https://html.spec.whatwg.org/#structured-cloning) of the values a script
// can make: primitives, wrappers of primitives, Date, RegExp, ArrayBuffer,
// typed arrays, DataView, Map, Set, Error, arrays and other ordinary
// objects, cycles and shared references kept. Anything else (functions,
// symbols, promises, proxies, WeakMap, the objects of this package) throws
// DataCloneError. kind tells what JavaScript cannot: "error", "promise",
// "proxy" or "platform".
const structuredCloneJS = `(function (DOMException, kind) {
  const brand = (f, v) => { try { f.call(v); return true; } catch (e) { return false; } };
  const getter = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
  const typedArrayTag = getter(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag);
  const abLength = getter(ArrayBuffer.prototype, 'byteLength');
  const dvLength = getter(DataView.prototype, 'byteLength');
  const mapSize = getter(Map.prototype, 'size'), setSize = getter(Set.prototype, 'size');
  const reSource = getter(RegExp.prototype, 'source');
  const errorNames = ['Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError'];
  const fail = (what) => { throw new DOMException(what + ' could not be cloned.', 'DataCloneError'); };
  return function structuredClone(value, options) {
    if (arguments.length === 0) throw new TypeError('structuredClone: 1 argument required, but only 0 present');
    if (options != null && options.transfer != null && [...options.transfer].length > 0) {
      throw new DOMException('structuredClone: transfer is not supported', 'DataCloneError');
    }
    const memory = new Map();
    const clone = (v) => {
      if (typeof v === 'symbol') fail(String(v));
      if (typeof v === 'function') fail(String(v).slice(0, 60));
      if (v === null || typeof v !== 'object') return v;
      if (memory.has(v)) return memory.get(v);
      const k = kind(v);
      if (k === 'promise' || k === 'proxy' || k === 'platform') fail(Object.prototype.toString.call(v));
      let out;
      if (brand(Boolean.prototype.valueOf, v)) out = Object(Boolean.prototype.valueOf.call(v));
      else if (brand(Number.prototype.valueOf, v)) out = Object(Number.prototype.valueOf.call(v));
      else if (brand(String.prototype.valueOf, v)) out = Object(String.prototype.valueOf.call(v));
      else if (brand(BigInt.prototype.valueOf, v)) out = Object(BigInt.prototype.valueOf.call(v));
      else if (brand(Symbol.prototype.valueOf, v)) fail('Symbol object');
      else if (brand(Date.prototype.getTime, v)) out = new Date(Date.prototype.getTime.call(v));
      else if (v !== RegExp.prototype && brand(reSource, v)) out = new RegExp(reSource.call(v), v.flags);
      else if (brand(abLength, v)) out = v.slice(0);
      else if (typedArrayTag.call(v) !== undefined) {
        const buffer = clone(v.buffer);
        out = new globalThis[typedArrayTag.call(v)](buffer, v.byteOffset, v.length);
      } else if (brand(dvLength, v)) out = new DataView(clone(v.buffer), v.byteOffset, v.byteLength);
      else if (brand(mapSize, v)) {
        out = new Map();
        memory.set(v, out);
        const entries = [...Map.prototype.entries.call(v)];
        for (const [key, val] of entries) out.set(clone(key), clone(val));
        return out;
      } else if (brand(setSize, v)) {
        out = new Set();
        memory.set(v, out);
        const values = [...Set.prototype.values.call(v)];
        for (const val of values) out.add(clone(val));
        return out;
      } else if (v instanceof DOMException) {
        out = new DOMException(v.message, v.name);
        if (typeof v.stack === 'string') Object.defineProperty(out, 'stack', { value: v.stack, writable: true, configurable: true });
      } else if (k === 'error') {
        const name = errorNames.includes(v.name) ? v.name : 'Error';
        out = new globalThis[name]();
        memory.set(v, out);
        const msg = Object.getOwnPropertyDescriptor(v, 'message');
        if (msg && 'value' in msg) out.message = String(msg.value);
        else delete out.message;
        if (typeof v.stack === 'string') Object.defineProperty(out, 'stack', { value: v.stack, writable: true, configurable: true });
        if ('cause' in v) out.cause = clone(v.cause);
        return out;
      } else if (brand(WeakMap.prototype.has, v) || brand(WeakSet.prototype.has, v) || (typeof WeakRef === 'function' && brand(WeakRef.prototype.deref, v))) {
        fail(Object.prototype.toString.call(v));
      } else if (Array.isArray(v)) {
        out = new Array(v.length);
        memory.set(v, out);
        for (const key of Object.keys(v)) out[key] = clone(v[key]);
        return out;
      } else {
        out = {};
        memory.set(v, out);
        for (const key of Object.keys(v)) out[key] = clone(v[key]);
        return out;
      }
      memory.set(v, out);
      return out;
    };
    return clone(value);
  };
})`

// structuredClone is the global structuredClone(value, options); the
// algorithm is in JavaScript, compiled on first use.
func (a *api) structuredClone(call goja.FunctionCall) goja.Value {
	if a.clone == nil {
		mk, _ := goja.AssertFunction(a.run("webapi:structuredClone", structuredCloneJS))
		kind := a.vm.ToValue(func(call goja.FunctionCall) goja.Value {
			o, ok := call.Argument(0).(*goja.Object)
			if !ok {
				return goja.Undefined()
			}
			if _, ok := a.objects[o]; ok {
				return a.vm.ToValue("platform")
			}
			switch o.Export().(type) {
			case *goja.Promise:
				return a.vm.ToValue("promise")
			case goja.Proxy:
				return a.vm.ToValue("proxy")
			}
			if o.ClassName() == "Error" {
				return a.vm.ToValue("error")
			}
			return goja.Undefined()
		})
		v, err := mk(goja.Undefined(), a.domExceptionCtor(), kind)
		if err != nil {
			panic(err)
		}
		a.clone, _ = goja.AssertFunction(v)
	}
	v, err := a.clone(goja.Undefined(), call.Arguments...)
	if err != nil {
		panic(err)
	}
	return v
}
