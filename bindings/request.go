package bindings

import (
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

// request is the Go side of a request builder (http.get(url) and friends, and
// the request behind fetch). Builders are only touched on the event loop;
// sendAsync and fetch hand a clone to their goroutine.
type request struct {
	props
	a *api

	method string
	url    *url.URL // absolute http(s) URL without fragment; never written to, only replaced
	query  []byte   // parameters added with .query(), encoded, appended to url's own
	header http.Header
	host   string // Host header override
	body   []byte
	// ctFromBody is true while Content-Type was set by .json/.form/.body rather
	// than by the script, so a later body method may replace it.
	ctFromBody bool
	token      string
	listed     bool // in api.unsent: it got a token and was not sent (unsent.go)
	timeout    time.Duration
	signal     Signal       // cancels the request when it aborts; nil for none
	retry      *retryPolicy // from .retry(options) or init.retry; nil for none (retry.go)
}

// Get exposes method and url read-only, so printing a builder says what it is.
// The headers are deliberately not exposed.
func (r *request) Get(key string) goja.Value {
	switch key {
	case "method":
		return r.a.vm.ToValue(r.method)
	case "url":
		return r.a.vm.ToValue(r.targetURL())
	}
	return r.props.Get(key)
}

// Set refuses to overwrite method and url; other properties are kept as-is.
func (r *request) Set(key string, val goja.Value) bool {
	if key == "method" || key == "url" {
		return false
	}
	return r.props.Set(key, val)
}

// Has reports method, url and any property the script added.
func (r *request) Has(key string) bool {
	return key == "method" || key == "url" || r.props.Has(key)
}

// Delete removes a property the script added.
func (r *request) Delete(key string) bool {
	if key == "method" || key == "url" {
		return false
	}
	return r.props.Delete(key)
}

// Keys lists method, url and the properties the script added.
func (r *request) Keys() []string {
	return append([]string{"method", "url"}, r.props.Keys()...)
}

// clone returns a copy that the builder's later changes do not affect. It
// shares the builder's URL, which nobody writes to (a builder given
// another URL gets a new one).
func (r *request) clone() *request {
	c := *r
	c.props = props{}
	c.listed = false
	c.header = r.header.Clone()
	return &c
}

// targetURL is the URL the request goes to, with the parameters added by .query().
func (r *request) targetURL() string { return targetOf(r.url, r.query) }

// target is the URL the request goes to, as targetURL, unrendered: r.url
// itself when .query() added nothing. Nobody writes to it.
func (r *request) target() *url.URL {
	if len(r.query) == 0 {
		return r.url
	}
	u := withQuery(*r.url, r.query)
	return &u
}

// targetOf renders u with the parameters query adds to it.
func targetOf(u *url.URL, query []byte) string {
	if len(query) == 0 {
		return u.String()
	}
	t := withQuery(*u, query)
	return t.String()
}

// withQuery returns u with query appended to its own parameters.
func withQuery(u url.URL, query []byte) url.URL {
	if u.RawQuery == "" {
		u.RawQuery = string(query)
	} else {
		u.RawQuery += "&" + string(query)
	}
	return u
}

// where names the request in messages without its query or user info, which
// may hold secrets.
func (r *request) where() string { return whereOf(r.method, r.url) }

func whereOf(method string, u *url.URL) string {
	return method + " " + u.Scheme + "://" + u.Host + u.EscapedPath() + droppedQuery(u) // one allocation
}

// safeURL renders u as scheme://host/path, marking a dropped query with "?…".
func safeURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath() + droppedQuery(u)
}

// droppedQuery is "?…" when u has a query that messages leave out.
func droppedQuery(u *url.URL) string {
	if u.RawQuery != "" || u.ForceQuery {
		return "?…"
	}
	return ""
}

// httpMethod upper-cases the standard method names (as fetch does) and keeps
// any other method as given, since methods are case-sensitive.
func httpMethod(m string) string {
	switch u := strings.ToUpper(m); u {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return u
	}
	return m
}

// validToken reports whether s is an HTTP token (RFC 9110), as required for
// methods and header names.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c <= ' ' || strings.IndexByte("\"(),/:;<=>?@[\\]{}\x7f", c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s may be sent as a header value: no control
// characters other than tab (so no CR/LF header injection).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// parseURL validates the URL argument of a request: an absolute http or https
// URL. what names the argument in messages, e.g. "http.get(url)".
func (a *api) parseURL(v goja.Value, what string) (*url.URL, error) {
	var s string
	switch {
	case goja.IsString(v):
		s = v.String()
	case isObject(v) && !isFunction(v):
		// URL objects (and anything with a meaningful toString) are accepted.
		s = v.String()
		if strings.HasPrefix(s, "[object ") {
			return nil, errorf(CodeBadRequest, "%s: url must be a string or a URL object, got %s", what, js.TypeOf(v))
		}
	default:
		return nil, errorf(CodeBadRequest, "%s: url must be a string or a URL object, got %s", what, js.TypeOf(v))
	}
	text := strings.TrimSpace(s)
	if u, ok := a.urls[text]; ok {
		return u, nil
	}
	u, err := url.Parse(text)
	if err != nil {
		inner := err
		if ue, ok := err.(*url.Error); ok {
			inner = ue.Err
		}
		return nil, errorf(CodeBadRequest, "%s: %s is not a valid URL (%v); expected an absolute http:// or https:// URL", what, quoteShort(s), inner)
	}
	switch {
	case u.Scheme == "":
		return nil, errorf(CodeBadRequest, "%s: %s is not an absolute URL; expected an absolute http:// or https:// URL such as https://api.example.com/v1/items", what, quoteShort(s))
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errorf(CodeBadRequest, "%s: unsupported scheme %q in %s; only http and https URLs can be requested", what, u.Scheme, safeURL(u))
	case u.Host == "":
		return nil, errorf(CodeBadRequest, "%s: %s has no host; expected a URL such as https://api.example.com/v1/items", what, quoteShort(s))
	}
	u.Fragment, u.RawFragment = "", ""
	a.keepURL(text, u)
	return u, nil
}

// maxURLs bounds the parsed URLs parseURL keeps, and maxURLText the
// length of one.
const (
	maxURLs    = 64
	maxURLText = 2048
)

// keepURL remembers that s parses to u, so that the next builder for the
// same URL (a script calls one endpoint in a loop) shares u instead of
// parsing s again: nobody writes to a request's URL. Past maxURLs the
// cache starts over. It runs on the event loop.
func (a *api) keepURL(s string, u *url.URL) {
	if len(s) > maxURLText {
		return
	}
	if a.urls == nil || len(a.urls) >= maxURLs {
		a.urls = make(map[string]*url.URL, maxURLs)
	}
	a.urls[s] = u
}

// quoteShort quotes s for a message, cut to a length that cannot flood a log.
func quoteShort(s string) string {
	const max = 80
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return strconv.Quote(s)
}

// newRequest creates a builder; it throws BAD_REQUEST for an invalid URL.
func (a *api) newRequest(method string, urlArg goja.Value, what string) goja.Value {
	u, err := a.parseURL(urlArg, what)
	if err != nil {
		a.throw(err)
	}
	r := &request{a: a, method: method, url: u}
	if a.requestProto == nil {
		a.requestProto = a.newRequestProto()
	}
	o := a.vm.NewDynamicObject(r)
	_ = o.SetPrototype(a.requestProto)
	a.lastBuilder, a.lastRequest = o, r
	return o
}

// httpRequest implements http.request(method, url).
func (a *api) httpRequest(call goja.FunctionCall) goja.Value {
	m := call.Argument(0)
	if !goja.IsString(m) || !validToken(m.String()) {
		a.badRequest("http.request(method, url): method must be an HTTP method name such as \"GET\" or \"PROPPATCH\", got %s", describe(m))
	}
	return a.newRequest(httpMethod(m.String()), call.Argument(1), "http.request(method, url)")
}

// newRequestProto creates the prototype shared by all builders of a runtime;
// its methods find their builder through this.
func (a *api) newRequestProto() *goja.Object {
	p := a.vm.NewObject()
	methods := []struct {
		name string
		fn   func(*request, goja.FunctionCall)
	}{
		{"header", a.reqHeader},
		{"query", a.reqQuery},
		{"json", a.reqJSON},
		{"form", a.reqForm},
		{"body", a.reqBody},
		{"apiTokenAuth", a.reqToken},
		{"timeout", a.reqTimeout},
		{"signal", a.reqSignal},
		{"retry", a.reqRetry},
	}
	for _, m := range methods {
		name, fn := m.name, m.fn
		_ = p.Set(name, a.fn(name, func(call goja.FunctionCall) goja.Value {
			fn(a.thisRequest(call, name), call)
			return call.This
		}))
	}
	_ = p.Set("send", a.fn("send", a.reqSend))
	_ = p.Set("sendAsync", a.fn("sendAsync", a.reqSendAsync))
	return p
}

// thisRequest finds the builder a method was called on. The builder made
// last is known without asking goja (its Export allocates): a chain such as
// http.get(u).apiTokenAuth(t).send() calls its methods on it.
func (a *api) thisRequest(call goja.FunctionCall, method string) *request {
	if o, ok := call.This.(*goja.Object); ok {
		if o == a.lastBuilder {
			return a.lastRequest
		}
		if r, ok := o.Export().(*request); ok {
			return r
		}
	}
	a.badRequest(".%s() must be called on a request created by http.get(url), http.post(url), … or http.request(method, url)", method)
	return nil
}

// reqHeader implements .header(name, value) and .header({name: value, …}).
// A value of undefined or null removes the header; an array sends it several times.
func (a *api) reqHeader(r *request, call goja.FunctionCall) {
	const what = ".header(name, value)"
	first := call.Argument(0)
	if len(call.Arguments) == 1 && isPlainObject(first) {
		obj := first.(*goja.Object)
		for _, k := range obj.Keys() {
			a.setHeader(r, k, obj.Get(k), ".header({...})")
		}
		return
	}
	if !goja.IsString(first) {
		a.badRequest("%s: name must be a string (or pass one object of headers), got %s", what, describe(first))
	}
	if len(call.Arguments) < 2 {
		a.badRequest("%s: missing the value for header %q", what, first.String())
	}
	a.setHeader(r, first.String(), call.Argument(1), what)
}

// setHeader validates and stores one header of a builder.
func (a *api) setHeader(r *request, name string, v goja.Value, what string) {
	if !validToken(name) {
		a.badRequest("%s: %s is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~ only)", what, quoteShort(name))
	}
	key := http.CanonicalHeaderKey(name)
	if isNullish(v) {
		r.header.Del(key)
		if key == "Host" {
			r.host = ""
		}
		return
	}
	values := a.headerValues(v, name, what)
	if r.header == nil {
		r.header = make(http.Header, 4)
	}
	r.header[key] = values
	switch key {
	case "Content-Type":
		r.ctFromBody = false
	case "Host":
		r.host = values[0]
	}
}

// headerValues converts a header value (a primitive or an array of them).
func (a *api) headerValues(v goja.Value, name, what string) []string {
	if isArray(v) {
		arr := v.(*goja.Object)
		n := arrayLen(arr)
		if n == 0 {
			a.badRequest("%s: header %q got an empty array; pass at least one value", what, name)
		}
		out := make([]string, 0, n)
		for i := 0; i < n; i++ {
			out = append(out, a.headerValue(arr.Get(strconv.Itoa(i)), name, what))
		}
		return out
	}
	return []string{a.headerValue(v, name, what)}
}

func (a *api) headerValue(v goja.Value, name, what string) string {
	s, ok := primitiveString(v)
	if !ok {
		a.badRequest("%s: the value of header %q must be a string, number or boolean, got %s", what, name, js.TypeOf(v))
	}
	if !validHeaderValue(s) {
		a.badRequest("%s: the value of header %q contains a line break or another control character, which HTTP does not allow", what, name)
	}
	return s
}

// reqQuery implements .query({name: value, …}), .query(name, value) and
// .query(urlSearchParams). Values may be strings, numbers, booleans or arrays
// of them (repeated keys); undefined and null values are skipped.
func (a *api) reqQuery(r *request, call goja.FunctionCall) {
	first := call.Argument(0)
	var b []byte
	switch {
	case goja.IsString(first) && len(call.Arguments) >= 2:
		b = a.appendParams(r.query, first.String(), call.Argument(1), queryEscape, ".query(name, value)")
	case isPlainObject(first):
		if keys := first.(*goja.Object).Keys(); len(keys) > 0 || !a.isSearchParams(first) {
			b = a.appendObject(r.query, first.(*goja.Object), keys, queryEscape, ".query({...})")
		} else {
			b = appendRaw(r.query, first.String())
		}
	default:
		a.badRequest(".query(params): params must be an object such as {$top: 10}, a URLSearchParams, or a name and a value, got %s", describe(first))
	}
	r.query = b
}

// reqForm implements .form({name: value, …}) and .form(urlSearchParams): the
// body becomes application/x-www-form-urlencoded.
func (a *api) reqForm(r *request, call goja.FunctionCall) {
	first := call.Argument(0)
	var b []byte
	switch {
	case isPlainObject(first):
		if keys := first.(*goja.Object).Keys(); len(keys) > 0 || !a.isSearchParams(first) {
			b = a.appendObject(make([]byte, 0, 64), first.(*goja.Object), keys, url.QueryEscape, ".form(fields)")
		} else {
			b = []byte(first.String())
		}
	default:
		a.badRequest(".form(fields): fields must be an object such as {grant_type: \"x\"} or a URLSearchParams, got %s", describe(first))
	}
	a.setBody(r, b, "application/x-www-form-urlencoded")
}

func appendRaw(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	if len(b) > 0 {
		b = append(b, '&')
	}
	return append(b, s...)
}

// appendObject appends the properties of obj named by keys, encoded, in order.
// (A URLSearchParams is an object without own keys, so callers ask about it
// only for objects without keys, sparing the lookup of its constructor.)
func (a *api) appendObject(b []byte, obj *goja.Object, keys []string, escape func(string) string, what string) []byte {
	for _, k := range keys {
		b = a.appendParams(b, k, obj.Get(k), escape, what)
	}
	return b
}

// appendParams appends name=value pairs for one parameter.
func (a *api) appendParams(b []byte, name string, v goja.Value, escape func(string) string, what string) []byte {
	if isNullish(v) {
		return b
	}
	if isArray(v) {
		arr := v.(*goja.Object)
		for i, n := 0, arrayLen(arr); i < n; i++ {
			el := arr.Get(strconv.Itoa(i))
			if isNullish(el) {
				continue
			}
			s, ok := primitiveString(el)
			if !ok {
				a.badRequest("%s: element %d of %q must be a string, number or boolean, got %s", what, i, name, js.TypeOf(el))
			}
			b = appendPair(b, name, s, escape)
		}
		return b
	}
	s, ok := primitiveString(v)
	if !ok {
		a.badRequest("%s: the value of %q must be a string, number, boolean or an array of them, got %s", what, name, js.TypeOf(v))
	}
	return appendPair(b, name, s, escape)
}

func appendPair(b []byte, name, value string, escape func(string) string) []byte {
	if len(b) > 0 {
		b = append(b, '&')
	}
	b = append(b, escape(name)...)
	b = append(b, '=')
	return append(b, escape(value)...)
}

// queryEscape percent-encodes s for a query component. Unlike
// url.QueryEscape it keeps characters that are safe in a query and common in
// API parameters readable ($top, $filter=a eq 'b', fields=a,b), and encodes
// spaces as %20, which every server decodes.
func queryEscape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !keepInQuery(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keepInQuery(c) {
			out = append(out, c)
		} else {
			out = append(out, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(out)
}

func keepInQuery(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-._~$!'()*,:@/", c) >= 0
}

// reqJSON implements .json(value): the body is JSON.stringify(value).
func (a *api) reqJSON(r *request, call goja.FunctionCall) {
	if len(call.Arguments) == 0 {
		a.badRequest(".json(value): missing the value to send as JSON")
	}
	v := call.Argument(0)
	res, err := a.jsonStringify(a.jsonObj, v)
	if err != nil {
		js.RethrowUncatchable(err)
		a.badRequest(".json(value): the value cannot be converted to JSON: %s", exceptionText(err))
	}
	if goja.IsUndefined(res) {
		a.badRequest(".json(value): a value of type %s has no JSON form; pass an object, array, string, number, boolean or null", js.TypeOf(v))
	}
	a.setBody(r, []byte(res.String()), "application/json")
}

// reqBody implements .body(text, contentType). text may also be an
// ArrayBuffer or a typed array. Without contentType, text/plain (or
// application/octet-stream for binary data) is used unless the script set a
// Content-Type header.
func (a *api) reqBody(r *request, call goja.FunctionCall) {
	const what = ".body(text, contentType)"
	b, binary, ok := bodyBytes(call.Argument(0))
	if !ok {
		a.badRequest("%s: text must be a string, an ArrayBuffer or a Uint8Array, got %s; use .json(value) to send an object as JSON or .form(fields) for a form", what, js.TypeOf(call.Argument(0)))
	}
	ct := "text/plain; charset=utf-8"
	if binary {
		ct = "application/octet-stream"
	}
	if ctArg := call.Argument(1); !isNullish(ctArg) {
		if !goja.IsString(ctArg) {
			a.badRequest("%s: contentType must be a string such as \"text/csv\", got %s", what, js.TypeOf(ctArg))
		}
		if !validHeaderValue(ctArg.String()) {
			a.badRequest("%s: contentType contains a line break or another control character", what)
		}
		r.body = b
		if r.header == nil {
			r.header = make(http.Header, 4)
		}
		r.header.Set("Content-Type", ctArg.String())
		r.ctFromBody = true // it goes with this body: a later body method replaces it
		return
	}
	a.setBody(r, b, ct)
}

// bodyBytes converts a string, ArrayBuffer or typed array into a body.
func bodyBytes(v goja.Value) (b []byte, binary, ok bool) {
	if goja.IsString(v) {
		return []byte(v.String()), false, true
	}
	if !isObject(v) {
		return nil, false, false
	}
	switch x := v.Export().(type) {
	case goja.ArrayBuffer:
		return append([]byte(nil), x.Bytes()...), true, true
	case []byte:
		return append([]byte(nil), x...), true, true
	}
	return nil, false, false
}

// setBody sets the body and, unless the script chose a Content-Type itself,
// the Content-Type that goes with it.
func (a *api) setBody(r *request, b []byte, contentType string) {
	r.body = b
	if r.header.Get("Content-Type") == "" || r.ctFromBody {
		if r.header == nil {
			r.header = make(http.Header, 4)
		}
		r.header.Set("Content-Type", contentType)
		r.ctFromBody = true
	}
}

// reqToken implements .apiTokenAuth(name).
func (a *api) reqToken(r *request, call goja.FunctionCall) {
	v := call.Argument(0)
	if !goja.IsString(v) || v.String() == "" {
		a.badRequest(".apiTokenAuth(name): name must be the non-empty name of an outbound token (see `scriptrun token list`), got %s", describe(v))
	}
	r.token = v.String()
	a.built(r, sendBuilder)
}

// reqTimeout implements .timeout(ms); 0 removes the timeout.
func (a *api) reqTimeout(r *request, call goja.FunctionCall) {
	d, err := timeoutArg(call.Argument(0), ".timeout(ms)")
	if err != nil {
		a.throw(err)
	}
	r.timeout = d
}

// reqSignal implements .signal(s): an AbortSignal that cancels the request;
// null or undefined removes it.
func (a *api) reqSignal(r *request, call goja.FunctionCall) {
	r.signal = a.signalArg(call.Argument(0), ".signal(s): s")
}

// timeoutArg converts a number of milliseconds into a duration.
func timeoutArg(v goja.Value, what string) (time.Duration, error) {
	if !goja.IsNumber(v) {
		return 0, errorf(CodeBadRequest, "%s: ms must be a number of milliseconds, got %s", what, describe(v))
	}
	ms := v.ToFloat()
	if math.IsNaN(ms) || ms < 0 {
		return 0, errorf(CodeBadRequest, "%s: ms must be zero (no timeout) or a positive number of milliseconds, got %s", what, v.String())
	}
	const maxMS = 1e12 // about 31 years; keeps the conversion from overflowing
	if ms > maxMS {
		ms = maxMS
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// reqSend implements .send(): the request runs synchronously on the event loop.
func (a *api) reqSend(call goja.FunctionCall) goja.Value {
	r := a.thisRequest(call, "send")
	a.sent(r)
	if reason := abortReason(r.signal); reason != nil {
		panic(reason) // aborted before it was sent: nothing is sent
	}
	res, err := a.do(a.host.Context(), r)
	if err != nil {
		if reason := abortReason(r.signal); reason != nil {
			panic(reason)
		}
		a.throw(err)
	}
	return a.newResponse(res, false)
}

// reqSendAsync implements .sendAsync(): a Promise of the response; the request
// runs on a sender goroutine (pool.go).
func (a *api) reqSendAsync(call goja.FunctionCall) goja.Value {
	r := a.thisRequest(call, "sendAsync")
	a.sent(r)
	if reason := abortReason(r.signal); reason != nil {
		return a.settled(nil, reason)
	}
	return a.start(r.clone(), false)
}

// start runs r on a sender goroutine (pool.go) and returns a promise
// settled on the event loop.
func (a *api) start(r *request, fetch bool) goja.Value {
	p, resolve, reject := a.vm.NewPromise()
	ctx := a.host.Context()
	// The error is created later, outside the script's code; give it the
	// stack of this call so an unhandled rejection says where it started.
	site := a.vm.CaptureCallStack(maxAsyncFrames, a.frameBuffer())
	done := a.host.Enqueue()
	a.senders.Go(func() {
		res, err := a.doSafe(ctx, r)
		done(func() error {
			defer a.reuseFrames(site)
			if err != nil {
				if reason := abortReason(r.signal); reason != nil {
					return reject(reason)
				}
				e := a.toJS(err)
				setStack(a.vm, e, site)
				return reject(e)
			}
			return resolve(a.newResponse(res, fetch))
		})
	})
	return a.vm.ToValue(p)
}

// maxFreeFrames bounds the stack buffers kept for reuse.
const maxFreeFrames = 256

// frameBuffer returns an empty buffer for the stack start records: one
// a settled call gave back (reuseFrames), or nil for a new one. Both run
// on the event loop.
func (a *api) frameBuffer() []goja.StackFrame {
	n := len(a.freeFrames)
	if n == 0 {
		return nil
	}
	f := a.freeFrames[n-1]
	a.freeFrames = a.freeFrames[:n-1]
	return f[:0]
}

// reuseFrames gives the stack of a settled call back to frameBuffer.
func (a *api) reuseFrames(f []goja.StackFrame) {
	if cap(f) > 0 && len(a.freeFrames) < maxFreeFrames {
		clear(f)
		a.freeFrames = append(a.freeFrames, f)
	}
}

// maxAsyncFrames bounds the stack recorded for sendAsync and fetch.
const maxAsyncFrames = 10

// setStack replaces the stack of error e with frames, in the same form as
// goja's own stacks.
func setStack(vm *goja.Runtime, e *goja.Object, frames []goja.StackFrame) {
	var b strings.Builder
	b.WriteString("Error: ")
	b.WriteString(e.Get("message").String())
	for _, f := range frames {
		b.WriteString("\n\tat ")
		pos := f.Position()
		loc := "native"
		if pos.Line > 0 {
			loc = pos.Filename + ":" + strconv.Itoa(pos.Line) + ":" + strconv.Itoa(pos.Column)
		}
		if name := f.FuncName(); name != "" && name != "<anonymous>" {
			b.WriteString(name + " (" + loc + ")")
		} else {
			b.WriteString(loc)
		}
	}
	_ = e.DefineDataProperty("stack", vm.ToValue(b.String()), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// Helpers on goja values.

func isNullish(v goja.Value) bool {
	return v == nil || goja.IsUndefined(v) || goja.IsNull(v)
}

func isObject(v goja.Value) bool {
	_, ok := v.(*goja.Object)
	return ok
}

func isFunction(v goja.Value) bool {
	_, ok := goja.AssertFunction(v)
	return ok
}

func isArray(v goja.Value) bool {
	o, ok := v.(*goja.Object)
	return ok && o.ClassName() == "Array"
}

// isPlainObject reports whether v is an object that is not an array or a function.
func isPlainObject(v goja.Value) bool {
	o, ok := v.(*goja.Object)
	return ok && o.ClassName() == "Object" && !isFunction(v)
}

func arrayLen(o *goja.Object) int {
	n := o.Get("length").ToInteger()
	if n < 0 {
		return 0
	}
	return int(n)
}

// isSearchParams reports whether v is a URLSearchParams (when the runtime has them).
func (a *api) isSearchParams(v goja.Value) bool {
	o, ok := v.(*goja.Object)
	if !ok {
		return false
	}
	ctor, ok := a.vm.Get("URLSearchParams").(*goja.Object)
	return ok && a.vm.InstanceOf(o, ctor)
}

// primitiveString converts a string, number, boolean or bigint to its string form.
func primitiveString(v goja.Value) (string, bool) {
	if v == nil {
		return "", false
	}
	if goja.IsString(v) || goja.IsNumber(v) || goja.IsBigInt(v) {
		return v.String(), true
	}
	if t := v.ExportType(); t != nil && t.Kind() == reflect.Bool && !isObject(v) {
		return v.String(), true
	}
	return "", false
}

// describe names v for messages: the type, plus the value for short primitives.
func describe(v goja.Value) string {
	t := js.TypeOf(v)
	switch t {
	case "string":
		return "string " + quoteShort(v.String())
	case "number", "boolean":
		return t + " " + v.String()
	}
	return t
}

// exceptionText extracts a readable message from an error returned by a
// JavaScript call.
func exceptionText(err error) string {
	if ex, ok := err.(*goja.Exception); ok && ex.Value() != nil {
		return ex.Value().String()
	}
	return err.Error()
}
