package bindings

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

// requestObj is the Go side of a Request made with new Request(input,
// init). It holds the same request a builder does, so fetch(request) sends
// exactly what was built. The token named by init.apiTokenAuth is kept but
// never shown: the Request says nothing of how it will be signed.
type requestObj struct {
	props
	r       *request
	headers goja.Value // built on first use, live over r.header
	signal  goja.Value // what init.signal was, or null
}

var requestObjKeys = []string{"method", "url", "headers", "signal"}

func (ro *requestObj) builtin(key string) bool {
	for _, k := range requestObjKeys {
		if k == key {
			return true
		}
	}
	return false
}

// Get returns the Request's fields.
func (ro *requestObj) Get(key string) goja.Value {
	a := ro.r.a
	switch key {
	case "method":
		return a.vm.ToValue(ro.r.method)
	case "url":
		return a.vm.ToValue(ro.r.targetURL())
	case "headers":
		if ro.headers == nil {
			if ro.r.header == nil {
				ro.r.header = make(http.Header)
			}
			ro.headers = a.newHeaders(ro.r.header, false)
		}
		return ro.headers
	case "signal":
		if ro.signal == nil {
			return goja.Null()
		}
		return ro.signal
	}
	return ro.props.Get(key)
}

// Set keeps the Request's fields read-only.
func (ro *requestObj) Set(key string, val goja.Value) bool {
	if ro.builtin(key) {
		return false
	}
	return ro.props.Set(key, val)
}

// Has reports the Request's fields and any property the script added.
func (ro *requestObj) Has(key string) bool { return ro.builtin(key) || ro.props.Has(key) }

// Delete removes a property the script added.
func (ro *requestObj) Delete(key string) bool {
	if ro.builtin(key) {
		return false
	}
	return ro.props.Delete(key)
}

// Keys lists the Request's fields, then the properties the script added.
func (ro *requestObj) Keys() []string {
	return append(append([]string(nil), requestObjKeys...), ro.props.Keys()...)
}

// requestConstructor returns the Request constructor, creating it on first
// use.
func (a *api) requestConstructor() *goja.Object {
	if a.requestCtor != nil {
		return a.requestCtor
	}
	proto := a.vm.NewObject()
	ctor := a.vm.ToValue(func(call goja.ConstructorCall) *goja.Object {
		const what = "new Request(input, init)"
		r, signal := a.requestInput(call.Argument(0), what)
		init := call.Argument(1)
		a.applyInit(r, init, what)
		if o, ok := init.(*goja.Object); ok {
			if v := o.Get("signal"); v != nil && !goja.IsUndefined(v) {
				signal = v
			}
		}
		if r.signal == nil {
			signal = nil
		}
		if r.token != "" {
			a.built(r, sendRequest)
		}
		return a.newRequestObj(r, signal, proto)
	}).(*goja.Object)
	_ = ctor.DefineDataProperty("name", a.vm.ToValue("Request"), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = ctor.DefineDataProperty("prototype", proto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = proto.DefineDataProperty("constructor", ctor, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	this := func(call goja.FunctionCall, method string) *requestObj {
		if o, ok := call.This.(*goja.Object); ok {
			if ro, ok := o.Export().(*requestObj); ok {
				return ro
			}
		}
		a.badRequest("request.%s() must be called on a Request", method)
		return nil
	}
	_ = proto.Set("clone", a.fn("clone", func(call goja.FunctionCall) goja.Value {
		ro := this(call, "clone")
		a.sent(ro.r) // cloned to be sent: warning for either would be noise
		c := ro.r.clone()
		c.body = append([]byte(nil), ro.r.body...)
		return a.newRequestObj(c, ro.signal, proto)
	}))
	_ = proto.Set("text", a.fn("text", func(call goja.FunctionCall) goja.Value {
		return a.settled(a.vm.ToValue(strings.ToValidUTF8(string(this(call, "text").r.body), "\uFFFD")), nil)
	}))
	_ = proto.Set("arrayBuffer", a.fn("arrayBuffer", func(call goja.FunctionCall) goja.Value {
		return a.settled(a.vm.ToValue(a.vm.NewArrayBuffer(append([]byte(nil), this(call, "arrayBuffer").r.body...))), nil)
	}))
	_ = proto.Set("json", a.fn("json", func(call goja.FunctionCall) goja.Value {
		ro := this(call, "json")
		v, err := a.jsonParse(goja.Undefined(), a.vm.ToValue(string(ro.r.body)))
		if err != nil {
			if ex, ok := err.(*goja.Exception); ok {
				return a.settled(nil, ex.Value())
			}
			panic(err)
		}
		return a.settled(v, nil)
	}))
	_ = proto.DefineDataPropertySymbol(goja.SymToStringTag, a.vm.ToValue("Request"), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	a.requestCtor = ctor
	return ctor
}

func (a *api) newRequestObj(r *request, signal goja.Value, proto *goja.Object) *goja.Object {
	o := a.vm.NewDynamicObject(&requestObj{r: r, signal: signal})
	_ = o.SetPrototype(proto)
	return o
}

// nullBodyStatus are the statuses whose responses cannot have a body.
func nullBodyStatus(s int) bool {
	return s == 101 || s == 103 || s == 204 || s == 205 || s == 304
}

// responseConstructor returns the Response constructor, creating it on
// first use. Its prototype is the one fetch's responses have, so they are
// instances of Response too.
func (a *api) responseConstructor() *goja.Object {
	if a.responseCtor != nil {
		return a.responseCtor
	}
	if a.fetchResponseProto == nil {
		a.fetchResponseProto = a.newFetchResponseProto()
	}
	proto := a.fetchResponseProto
	build := func(body goja.Value, init goja.Value, what string, defaultType string) *goja.Object {
		res := &result{named: what, status: http.StatusOK, statusText: "", header: make(http.Header)}
		if !isNullish(init) {
			o, ok := init.(*goja.Object)
			if !ok {
				panic(a.vm.NewTypeError("%s: init must be an object such as {status: 201, headers: {...}}, got %s", what, js.TypeOf(init)))
			}
			if v := o.Get("status"); v != nil && !goja.IsUndefined(v) {
				n := v.ToFloat()
				if n != float64(int(n)) || n < 200 || n > 599 {
					panic(a.rangeError("%s: init.status must be an integer from 200 to 599, got %s", what, v.String()))
				}
				res.status = int(n)
			}
			if v := o.Get("statusText"); v != nil && !goja.IsUndefined(v) {
				s := v.String()
				if !validHeaderValue(s) {
					panic(a.vm.NewTypeError("%s: init.statusText must not contain line breaks or control characters", what))
				}
				res.statusText = s
			}
			if v := o.Get("headers"); !isNullish(v) {
				a.fillHeaders(res.header, v, what+": init.headers")
			}
		}
		if !isNullish(body) {
			if nullBodyStatus(res.status) {
				panic(a.vm.NewTypeError("%s: a response with status %d cannot have a body", what, res.status))
			}
			ct := defaultType
			b, binary, ok := bodyBytes(body)
			switch {
			case a.isSearchParams(body):
				b, ct = []byte(body.String()), "application/x-www-form-urlencoded;charset=UTF-8"
			case !ok:
				panic(a.vm.NewTypeError("%s: body must be a string, ArrayBuffer, typed array or URLSearchParams, got %s", what, js.TypeOf(body)))
			case binary && defaultType == "text/plain;charset=UTF-8":
				ct = ""
			}
			res.body = append([]byte(nil), b...)
			if ct != "" && res.header.Get("Content-Type") == "" {
				res.header.Set("Content-Type", ct)
			}
		}
		o := a.newResponse(res, true)
		o.Export().(*response).ownHeaders = true
		return o
	}
	ctor := a.vm.ToValue(func(call goja.ConstructorCall) *goja.Object {
		return build(call.Argument(0), call.Argument(1), "new Response(body, init)", "text/plain;charset=UTF-8")
	}).(*goja.Object)
	_ = ctor.DefineDataProperty("name", a.vm.ToValue("Response"), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = ctor.DefineDataProperty("prototype", proto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = proto.DefineDataProperty("constructor", ctor, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = ctor.Set("json", a.fn("json", func(call goja.FunctionCall) goja.Value {
		s, err := a.jsonStringify(goja.Undefined(), call.Argument(0))
		if err != nil {
			panic(err)
		}
		if goja.IsUndefined(s) {
			panic(a.vm.NewTypeError("Response.json(data): data cannot be converted to JSON"))
		}
		return build(s, call.Argument(1), "Response.json(data, init)", "application/json")
	}))
	a.responseCtor = ctor
	return ctor
}

// rangeError returns a RangeError to throw.
func (a *api) rangeError(format string, args ...any) *goja.Object {
	ctor, _ := a.vm.Get("RangeError").(*goja.Object)
	o, err := a.vm.New(ctor, a.vm.ToValue(fmt.Sprintf(format, args...)))
	if err != nil {
		panic(err)
	}
	return o
}
