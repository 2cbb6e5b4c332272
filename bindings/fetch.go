package bindings

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

// fetch implements fetch(url, init), the web-standard subset described in the
// package documentation. Like the standard, it never throws: invalid arguments
// reject the returned promise.
func (a *api) fetch(call goja.FunctionCall) goja.Value {
	var r *request
	if ex := a.vm.Try(func() { r = a.fetchRequest(call) }); ex != nil {
		return a.settled(nil, ex.Value())
	}
	return a.start(r, true)
}

// fetchRequest converts fetch's arguments into a request; it throws on bad input.
func (a *api) fetchRequest(call goja.FunctionCall) *request {
	const what = "fetch(url, init)"
	r, _ := a.requestInput(call.Argument(0), what)
	a.applyInit(r, call.Argument(1), what)
	if r.signal != nil {
		if reason := r.signal.Reason(); reason != nil {
			panic(reason) // aborted already: fetch rejects with the reason and sends nothing
		}
	}
	return r
}

// requestInput starts a request from fetch's or new Request's first
// argument: a URL, or a Request, which is copied with its signal.
func (a *api) requestInput(input goja.Value, what string) (*request, goja.Value) {
	if o, ok := input.(*goja.Object); ok {
		if ro, ok := o.Export().(*requestObj); ok {
			a.sent(ro.r) // fetched, or copied into a new Request (which warns instead)
			c := ro.r.clone()
			c.body = append([]byte(nil), ro.r.body...)
			return c, ro.signal
		}
	}
	u, err := a.parseURL(input, what)
	if err != nil {
		a.throw(err)
	}
	return &request{a: a, method: http.MethodGet, url: u}, nil
}

// applyInit applies fetch's init (or new Request's) to r; it throws on bad
// input.
func (a *api) applyInit(r *request, init goja.Value, what string) {
	var err error
	if isNullish(init) {
		return
	}
	if !isPlainObject(init) {
		a.badRequest("%s: init must be an object such as {method: \"POST\", headers: {...}, body: \"...\"}, got %s", what, js.TypeOf(init))
	}
	o := init.(*goja.Object)
	if v := o.Get("method"); !isNullish(v) {
		if !goja.IsString(v) || !validToken(v.String()) {
			a.badRequest("%s: init.method must be an HTTP method name such as \"POST\", got %s", what, describe(v))
		}
		r.method = httpMethod(v.String())
	}
	if v := o.Get("headers"); !isNullish(v) {
		r.header = make(http.Header)
		a.fillHeaders(r.header, v, "fetch(url, init): init.headers")
		r.host = r.header.Get("Host")
	}
	if v := o.Get("body"); !isNullish(v) {
		if r.method == http.MethodGet || r.method == http.MethodHead {
			a.badRequest("%s: a %s request cannot have a body; set init.method (for example \"POST\")", what, r.method)
		}
		ct := "text/plain;charset=UTF-8"
		b, binary, ok := bodyBytes(v)
		switch {
		case a.isSearchParams(v):
			b, ct = []byte(v.String()), "application/x-www-form-urlencoded;charset=UTF-8"
		case !ok:
			a.badRequest("%s: init.body must be a string, ArrayBuffer, Uint8Array or URLSearchParams, got %s; to send JSON use body: JSON.stringify(value) with headers: {\"content-type\": \"application/json\"}", what, js.TypeOf(v))
		case binary:
			ct = ""
		}
		r.body = b
		if ct != "" && r.header.Get("Content-Type") == "" {
			if r.header == nil {
				r.header = make(http.Header)
			}
			r.header.Set("Content-Type", ct)
		}
	}
	if v := o.Get("apiTokenAuth"); !isNullish(v) {
		if !goja.IsString(v) || v.String() == "" {
			a.badRequest("%s: init.apiTokenAuth must be the non-empty name of an outbound token, got %s", what, describe(v))
		}
		r.token = v.String()
	}
	if v := o.Get("timeout"); !isNullish(v) {
		if r.timeout, err = timeoutArg(v, "fetch(url, init): init.timeout"); err != nil {
			a.throw(err)
		}
	}
	if v := o.Get("retry"); v != nil && !goja.IsUndefined(v) {
		r.retry = a.retryArg(v, what+": init.retry")
	}
	if v := o.Get("signal"); v != nil && !goja.IsUndefined(v) {
		r.signal = a.signalArg(v, what+": init.signal")
	}
}

// fillHeaders adds headers from a Headers object, an array of [name, value]
// pairs, or a plain object.
func (a *api) fillHeaders(h http.Header, v goja.Value, what string) {
	o, ok := v.(*goja.Object)
	if !ok {
		a.badRequest("%s must be an object, a Headers or an array of [name, value] pairs, got %s", what, js.TypeOf(v))
	}
	if src, ok := o.Export().(*headersObj); ok {
		for k, vs := range src.h {
			h[k] = append([]string(nil), vs...)
		}
		return
	}
	if isArray(o) {
		for i, n := 0, arrayLen(o); i < n; i++ {
			pair, ok := o.Get(strconv.Itoa(i)).(*goja.Object)
			if !ok || !isArray(pair) || arrayLen(pair) != 2 {
				a.badRequest("%s: element %d must be a [name, value] pair", what, i)
			}
			a.addHeader(h, pair.Get("0"), pair.Get("1"), what)
		}
		return
	}
	for _, k := range o.Keys() {
		a.addHeader(h, a.vm.ToValue(k), o.Get(k), what)
	}
}

// addHeader validates and appends one header value.
func (a *api) addHeader(h http.Header, name, value goja.Value, what string) {
	if !goja.IsString(name) || !validToken(name.String()) {
		a.badRequest("%s: %s is not a valid header name", what, describe(name))
	}
	s, ok := primitiveString(value)
	if !ok {
		a.badRequest("%s: the value of header %q must be a string, number or boolean, got %s", what, name.String(), js.TypeOf(value))
	}
	if !validHeaderValue(s) {
		a.badRequest("%s: the value of header %q contains a line break or another control character, which HTTP does not allow", what, name.String())
	}
	h.Add(name.String(), s)
}

// settled returns a promise that is already fulfilled with v or, when reason
// is not nil, rejected with reason.
func (a *api) settled(v, reason goja.Value) goja.Value {
	p, resolve, reject := a.vm.NewPromise()
	var err error
	if reason != nil {
		err = reject(reason)
	} else {
		err = resolve(v)
	}
	if err != nil {
		panic(err) // uncatchable (interrupt): let it propagate
	}
	return a.vm.ToValue(p)
}

func (a *api) newFetchResponseProto() *goja.Object {
	p := a.vm.NewObject()
	_ = p.Set("text", a.fn("text", func(call goja.FunctionCall) goja.Value {
		return a.settled(a.thisResponse(call, "text").bodyString(), nil)
	}))
	_ = p.Set("json", a.fn("json", func(call goja.FunctionCall) goja.Value {
		v, err := a.parseJSON(a.thisResponse(call, "json"), "r.json()")
		if err != nil {
			return a.settled(nil, a.toJS(err))
		}
		return a.settled(v, nil)
	}))
	_ = p.Set("clone", a.fn("clone", func(call goja.FunctionCall) goja.Value {
		rs := a.thisResponse(call, "clone")
		c := *rs.r
		c.header = rs.r.header.Clone()
		o := a.newResponse(&c, true)
		o.Export().(*response).ownHeaders = rs.ownHeaders
		return o
	}))
	_ = p.Set("arrayBuffer", a.fn("arrayBuffer", func(call goja.FunctionCall) goja.Value {
		rs := a.thisResponse(call, "arrayBuffer")
		return a.settled(a.vm.ToValue(a.vm.NewArrayBuffer(append([]byte(nil), rs.r.body...))), nil)
	}))
	return p
}

// headersObj is the Go side of a Headers object. Response headers are
// immutable, as in the standard.
type headersObj struct {
	props
	h         http.Header
	immutable bool
}

func (a *api) newHeaders(h http.Header, immutable bool) *goja.Object {
	a.headers()
	o := a.vm.NewDynamicObject(&headersObj{h: h, immutable: immutable})
	_ = o.SetPrototype(a.headersProto)
	return o
}

// headers returns the Headers constructor, creating it on first use.
func (a *api) headers() *goja.Object {
	if a.headersCtor == nil {
		a.headersCtor = a.newHeadersConstructor()
	}
	return a.headersCtor
}

// newHeadersConstructor creates the Headers constructor; its prototype is the
// one all Headers objects (including fetch responses') share.
func (a *api) newHeadersConstructor() *goja.Object {
	ctor := a.vm.ToValue(func(call goja.ConstructorCall) *goja.Object {
		h := make(http.Header)
		if init := call.Argument(0); !isNullish(init) {
			a.fillHeaders(h, init, "new Headers(init)")
		}
		return a.newHeaders(h, false)
	}).(*goja.Object)
	_ = ctor.DefineDataProperty("name", a.vm.ToValue("Headers"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	p := ctor.Get("prototype").(*goja.Object)
	a.headersProto = p

	name := func(call goja.FunctionCall, method string) string {
		v := call.Argument(0)
		if !goja.IsString(v) || !validToken(v.String()) {
			a.badRequest("headers.%s(name): %s is not a valid header name", method, describe(v))
		}
		return http.CanonicalHeaderKey(v.String())
	}
	this := func(call goja.FunctionCall, method string) *headersObj {
		if o, ok := call.This.(*goja.Object); ok {
			if h, ok := o.Export().(*headersObj); ok {
				return h
			}
		}
		a.badRequest("headers.%s() must be called on a Headers object", method)
		return nil
	}
	mutable := func(call goja.FunctionCall, method string) *headersObj {
		h := this(call, method)
		if h.immutable {
			a.badRequest("headers.%s(): the headers of a fetch response are read-only; copy them with new Headers(r.headers)", method)
		}
		return h
	}
	set := func(method string, add bool) func(goja.FunctionCall) goja.Value {
		return func(call goja.FunctionCall) goja.Value {
			h := mutable(call, method)
			k := name(call, method)
			if !add {
				h.h.Del(k)
			}
			a.addHeader(h.h, call.Argument(0), call.Argument(1), "headers."+method+"(name, value)")
			return goja.Undefined()
		}
	}
	_ = p.Set("get", a.fn("get", func(call goja.FunctionCall) goja.Value {
		h, k := this(call, "get"), name(call, "get")
		if vs, ok := h.h[k]; ok {
			return a.vm.ToValue(strings.Join(vs, ", "))
		}
		return goja.Null()
	}))
	_ = p.Set("has", a.fn("has", func(call goja.FunctionCall) goja.Value {
		h, k := this(call, "has"), name(call, "has")
		_, ok := h.h[k]
		return a.vm.ToValue(ok)
	}))
	_ = p.Set("getSetCookie", a.fn("getSetCookie", func(call goja.FunctionCall) goja.Value {
		vs := this(call, "getSetCookie").h["Set-Cookie"]
		items := make([]any, len(vs))
		for i, v := range vs {
			items[i] = v
		}
		return a.vm.NewArray(items...)
	}))
	_ = p.Set("set", a.fn("set", set("set", false)))
	_ = p.Set("append", a.fn("append", set("append", true)))
	_ = p.Set("delete", a.fn("delete", func(call goja.FunctionCall) goja.Value {
		h := mutable(call, "delete")
		h.h.Del(name(call, "delete"))
		return goja.Undefined()
	}))
	_ = p.Set("forEach", a.fn("forEach", func(call goja.FunctionCall) goja.Value {
		h := this(call, "forEach")
		cb, ok := goja.AssertFunction(call.Argument(0))
		if !ok {
			a.badRequest("headers.forEach(callback): callback must be a function, got %s", js.TypeOf(call.Argument(0)))
		}
		for _, kv := range h.sorted() {
			if _, err := cb(call.Argument(1), a.vm.ToValue(kv[1]), a.vm.ToValue(kv[0]), call.This); err != nil {
				panic(err)
			}
		}
		return goja.Undefined()
	}))
	iter := func(method string, pick func(kv [2]string) goja.Value) *goja.Object {
		return a.fn(method, func(call goja.FunctionCall) goja.Value {
			h := this(call, method)
			items := make([]any, 0, len(h.h))
			for _, kv := range h.sorted() {
				items = append(items, pick(kv))
			}
			arr := a.vm.NewArray(items...)
			values, _ := goja.AssertFunction(arr.GetSymbol(goja.SymIterator))
			it, err := values(arr)
			if err != nil {
				panic(err)
			}
			return it
		})
	}
	entries := iter("entries", func(kv [2]string) goja.Value { return a.vm.NewArray(kv[0], kv[1]) })
	_ = p.Set("entries", entries)
	_ = p.Set("keys", iter("keys", func(kv [2]string) goja.Value { return a.vm.ToValue(kv[0]) }))
	_ = p.Set("values", iter("values", func(kv [2]string) goja.Value { return a.vm.ToValue(kv[1]) }))
	_ = p.DefineDataPropertySymbol(goja.SymIterator, entries, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return ctor
}

// sorted returns [lower-case name, joined value] pairs in name order, as the
// standard's iteration does ("sort and combine"): Set-Cookie, which cannot
// be joined, gives one pair per value, in the order they came.
func (h *headersObj) sorted() [][2]string {
	out := make([][2]string, 0, len(h.h))
	for k, vs := range h.h {
		name := strings.ToLower(k)
		if name == "set-cookie" {
			for _, v := range vs {
				out = append(out, [2]string{name, v})
			}
			continue
		}
		out = append(out, [2]string{name, strings.Join(vs, ", ")})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
