package bindings

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

// CodeNotSupported: a ServiceNow method that cannot apply in scriptrun (a MID
// Server, attachments, REST message records); the message names the
// alternative.
const CodeNotSupported = "NOT_SUPPORTED"

// restMessage is the Go side of new sn_ws.RESTMessageV2(). It holds a
// request builder, so execute() goes through the same do() as .send():
// same signing, binding and Host checks, timeouts, limits and error codes.
// It is only touched on the event loop.
type restMessage struct {
	props
	req      request
	endpoint string // as the script set it, for getEndpoint()
	// basic is the "Basic …" credential of setBasicAuth; it is added to the
	// request only when it is sent, so getRequestHeader never shows it.
	basic string
}

// restResponse is the Go side of a RESTResponseV2. For executeAsync the
// outcome is written by the request's goroutine before done is closed;
// everything else is touched only on the event loop.
type restResponse struct {
	props
	a    *api
	req  *request // the copy that was sent
	done chan struct{}

	res *result // the answer, or nil after a transport failure
	// failure is a failure of the HTTP transaction (NETWORK, TIMEOUT) that
	// ServiceNow reports through haveError(); thrown is any other error,
	// thrown from waitForResponse and from every getter.
	failure, thrown error
	observed        bool // the script asked for the outcome (executeAsync)
}

// snAuthTypes are the types setAuthenticationProfile accepts: ServiceNow's
// two and scriptrun's token types. The token's stored type decides how it
// signs; the argument only has to be one of these.
var snAuthTypes = []string{"oauth2", "basic", "api-key", "bearer", "hmac-body"}

// snUnsupported lists the RESTMessageV2 methods that cannot apply, with what
// to do instead. A slice, not a map: a map literal is built at every start.
var snUnsupported = []struct{ name, instead string }{
	{"setMIDServer", "scriptrun sends the request itself, from where it runs; there is no MID Server: remove the call"},
	{"setEccParameter", "it applies only to requests sent through a MID Server, which scriptrun does not use: set the endpoint with setEndpoint(url)"},
	{"setEccTopic", "it applies only to requests sent through a MID Server, which scriptrun does not use: remove the call"},
	{"setEccCorrelator", "it applies only to requests sent through a MID Server, which scriptrun does not use: remove the call"},
	{"saveResponseBodyAsAttachment", "scriptrun has no attachment table: read the body with response.getBody()"},
	{"setRequestBodyFromAttachment", "scriptrun has no attachment table: pass the body to setRequestBody(text)"},
	{"setMutualAuth", "client certificates (mutual TLS) are not supported"},
	{"setRequestorProfile", "an outbound token holds one credential: store another token and name it in setAuthenticationProfile(type, name)"},
	{"setStringParameter", "there are no REST message records and so no ${variables}: build the endpoint and body in JavaScript (template literals)"},
	{"setStringParameterNoEscape", "there are no REST message records and so no ${variables}: build the endpoint and body in JavaScript (template literals)"},
	{"disableForcedVariableSubstitution", "there are no REST message records and so no ${variables}: remove the call"},
}

// serviceNow creates the sn_ws global: { RESTMessageV2 }.
func (a *api) serviceNow() goja.Value {
	proto := a.vm.NewObject()
	ctor := a.vm.ToValue(func(call goja.ConstructorCall) *goja.Object {
		if len(call.Arguments) > 0 {
			a.throw(errorf(CodeNotSupported, "new sn_ws.RESTMessageV2(name, method): scriptrun has no REST message records; use new sn_ws.RESTMessageV2() with setEndpoint(url) and setHttpMethod(method)"))
		}
		m := &restMessage{req: request{a: a, method: http.MethodGet}}
		o := a.vm.NewDynamicObject(m)
		_ = o.SetPrototype(proto)
		return o
	}).(*goja.Object)
	_ = ctor.DefineDataProperty("name", a.vm.ToValue("RESTMessageV2"), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = ctor.Set("prototype", proto)
	_ = proto.DefineDataProperty("constructor", ctor, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)

	methods := []struct {
		name string
		fn   func(*restMessage, goja.FunctionCall) goja.Value
	}{
		{"setEndpoint", a.snSetEndpoint},
		{"getEndpoint", func(m *restMessage, _ goja.FunctionCall) goja.Value { return a.vm.ToValue(m.endpoint) }},
		{"setHttpMethod", a.snSetHttpMethod},
		{"setRequestHeader", a.snSetRequestHeader},
		{"getRequestHeader", a.snGetRequestHeader},
		{"getRequestHeaders", a.snGetRequestHeaders},
		{"setQueryParameter", a.snSetQueryParameter},
		{"setRequestBody", a.snSetRequestBody},
		{"getRequestBody", func(m *restMessage, _ goja.FunctionCall) goja.Value { return a.vm.ToValue(string(m.req.body)) }},
		{"setHttpTimeout", a.snSetHttpTimeout},
		{"setBasicAuth", a.snSetBasicAuth},
		{"setAuthenticationProfile", a.snSetAuthenticationProfile},
		{"setLogLevel", a.snSetLogLevel},
		{"execute", a.snExecute},
		{"executeAsync", a.snExecuteAsync},
	}
	for _, m := range methods {
		name, fn := m.name, m.fn
		_ = proto.Set(name, a.fn(name, func(call goja.FunctionCall) goja.Value {
			return fn(a.thisMessage(call, name), call)
		}))
	}
	for _, m := range snUnsupported {
		name, instead := m.name, m.instead
		_ = proto.Set(name, a.fn(name, func(goja.FunctionCall) goja.Value {
			a.throw(errorf(CodeNotSupported, "RESTMessageV2.%s() is not supported: %s", name, instead))
			return nil
		}))
	}
	sn := a.vm.NewObject()
	_ = sn.Set("RESTMessageV2", ctor)
	return sn
}

// thisMessage finds the RESTMessageV2 a method was called on.
func (a *api) thisMessage(call goja.FunctionCall, method string) *restMessage {
	if o, ok := call.This.(*goja.Object); ok {
		if m, ok := o.Export().(*restMessage); ok {
			return m
		}
	}
	a.snTypeError("RESTMessageV2.%s() must be called on an object created by new sn_ws.RESTMessageV2()", method)
	return nil
}

// snTypeError throws a TypeError with code BAD_REQUEST: the script passed
// an argument of the wrong kind.
func (a *api) snTypeError(format string, args ...any) {
	e := a.vm.NewTypeError(fmt.Sprintf(format, args...))
	_ = e.Set("code", CodeBadRequest)
	panic(e)
}

// snString returns argument i as a string, or throws a TypeError naming it.
func (a *api) snString(call goja.FunctionCall, i int, what, param string) string {
	v := call.Argument(i)
	s, ok := primitiveString(v)
	if !ok {
		a.snTypeError("%s: %s must be a string, got %s", what, param, describe(v))
	}
	return s
}

func (a *api) snSetEndpoint(m *restMessage, call goja.FunctionCall) goja.Value {
	const what = "RESTMessageV2.setEndpoint(url)"
	v := call.Argument(0)
	u, err := a.parseURL(v, what)
	if err != nil {
		var ce *codedError
		if errors.As(err, &ce) {
			a.snTypeError("%s", ce.msg)
		}
		a.throw(err)
	}
	m.endpoint = v.String()
	m.req.url = u
	return goja.Undefined()
}

func (a *api) snSetHttpMethod(m *restMessage, call goja.FunctionCall) goja.Value {
	s := a.snString(call, 0, "RESTMessageV2.setHttpMethod(method)", "method")
	if !validToken(s) {
		a.snTypeError("RESTMessageV2.setHttpMethod(method): %s is not an HTTP method name such as \"get\" or \"post\"", quoteShort(s))
	}
	m.req.method = httpMethod(s)
	return goja.Undefined()
}

func (a *api) snSetRequestHeader(m *restMessage, call goja.FunctionCall) goja.Value {
	const what = "RESTMessageV2.setRequestHeader(name, value)"
	name := a.snString(call, 0, what, "name")
	if !validToken(name) {
		a.snTypeError("%s: %s is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~ only)", what, quoteShort(name))
	}
	value := a.snString(call, 1, what, "value of header "+quoteShort(name))
	if !validHeaderValue(value) {
		a.snTypeError("%s: the value of header %q contains a line break or another control character, which HTTP does not allow", what, name)
	}
	key := http.CanonicalHeaderKey(name)
	if m.req.header == nil {
		m.req.header = make(http.Header, 4)
	}
	m.req.header[key] = []string{value}
	if key == "Host" {
		m.req.host = value
	}
	return goja.Undefined()
}

func (a *api) snGetRequestHeader(m *restMessage, call goja.FunctionCall) goja.Value {
	name := a.snString(call, 0, "RESTMessageV2.getRequestHeader(name)", "name")
	vs := m.req.header.Values(name)
	if len(vs) == 0 {
		return goja.Null()
	}
	return a.vm.ToValue(vs[len(vs)-1])
}

func (a *api) snGetRequestHeaders(m *restMessage, _ goja.FunctionCall) goja.Value {
	o := a.vm.NewObject()
	for _, k := range sortedKeys(m.req.header) {
		vs := m.req.header[k]
		_ = o.Set(k, vs[len(vs)-1])
	}
	return o
}

func (a *api) snSetQueryParameter(m *restMessage, call goja.FunctionCall) goja.Value {
	const what = "RESTMessageV2.setQueryParameter(name, value)"
	name := a.snString(call, 0, what, "name")
	value := a.snString(call, 1, what, "value of "+quoteShort(name))
	m.req.query = appendPair(m.req.query, name, value, queryEscape)
	return goja.Undefined()
}

func (a *api) snSetRequestBody(m *restMessage, call goja.FunctionCall) goja.Value {
	v := call.Argument(0)
	if !goja.IsString(v) {
		a.snTypeError("RESTMessageV2.setRequestBody(body): body must be a string, got %s; to send an object as JSON, pass JSON.stringify(obj) and set the Content-Type header", describe(v))
	}
	m.req.body = []byte(v.String())
	return goja.Undefined()
}

func (a *api) snSetHttpTimeout(m *restMessage, call goja.FunctionCall) goja.Value {
	d, err := timeoutArg(call.Argument(0), "RESTMessageV2.setHttpTimeout(ms)")
	if err != nil {
		a.snTypeError("%s", err.(*codedError).msg)
	}
	m.req.timeout = d
	return goja.Undefined()
}

func (a *api) snSetBasicAuth(m *restMessage, call goja.FunctionCall) goja.Value {
	const what = "RESTMessageV2.setBasicAuth(userName, userPass)"
	user := a.snString(call, 0, what, "userName")
	pass, ok := primitiveString(call.Argument(1))
	if !ok {
		// The value is not shown: it may be the password, passed wrongly.
		a.snTypeError("%s: userPass must be a string, got %s", what, js.TypeOf(call.Argument(1)))
	}
	if strings.Contains(user, ":") {
		a.snTypeError("%s: userName may not contain \":\" (Basic authentication separates the user name from the password with it)", what)
	}
	m.basic = basicCredential(user, pass)
	a.sent(&m.req)   // no token to warn about any more
	m.req.token = "" // the last credential set is the one sent
	return goja.Undefined()
}

func basicCredential(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func (a *api) snSetAuthenticationProfile(m *restMessage, call goja.FunctionCall) goja.Value {
	const what = "RESTMessageV2.setAuthenticationProfile(type, name)"
	typ := strings.ToLower(a.snString(call, 0, what, "type"))
	known := false
	for _, t := range snAuthTypes {
		known = known || t == typ
	}
	if !known {
		a.snTypeError("%s: type must be one of %s, got %s", what, strings.Join(snAuthTypes, ", "), describe(call.Argument(0)))
	}
	v := call.Argument(1)
	if !goja.IsString(v) || v.String() == "" {
		a.snTypeError("%s: name must be the non-empty name of an outbound token (see `scriptrun token list`), got %s", what, describe(v))
	}
	m.req.token = v.String()
	m.basic = "" // the last credential set is the one sent
	a.built(&m.req, sendSNMsg)
	return goja.Undefined()
}

// snSetLogLevel accepts ServiceNow's levels and ignores them: scriptrun keeps
// no outbound HTTP log of its own.
func (a *api) snSetLogLevel(m *restMessage, call goja.FunctionCall) goja.Value {
	switch a.snString(call, 0, "RESTMessageV2.setLogLevel(level)", "level") {
	case "basic", "elevated", "all":
		return goja.Undefined()
	}
	a.snTypeError("RESTMessageV2.setLogLevel(level): level must be \"basic\", \"elevated\" or \"all\", got %s", describe(call.Argument(0)))
	return nil
}

// prepared returns the copy of the request to send, or throws when it
// cannot be sent.
func (a *api) prepared(m *restMessage, method string) *request {
	if m.req.url == nil {
		a.throw(errorf(CodeBadRequest, "RESTMessageV2.%s(): no endpoint: call setEndpoint(url) first", method))
	}
	a.sent(&m.req)
	r := m.req.clone()
	if m.basic != "" {
		if r.header == nil {
			r.header = make(http.Header, 2)
		}
		r.header.Set("Authorization", m.basic)
	}
	return r
}

// snExecute implements execute(): the request runs synchronously on the
// event loop, like .send().
func (a *api) snExecute(m *restMessage, _ goja.FunctionCall) goja.Value {
	r := a.prepared(m, "execute")
	ctx := a.host.Context()
	rs := &restResponse{a: a, req: r, observed: true}
	res, err := a.do(ctx, r)
	rs.settle(ctx, res, err)
	if rs.thrown != nil {
		a.throw(rs.thrown)
	}
	return a.newRESTResponse(rs)
}

// snExecuteAsync implements executeAsync(): the request runs on a sender
// goroutine; the response's getters and waitForResponse wait for it. A
// failure that execute() would throw and that the script never looks at is
// reported as an unhandled rejection once the request ends, so a missing
// token cannot go unnoticed.
func (a *api) snExecuteAsync(m *restMessage, _ goja.FunctionCall) goja.Value {
	r := a.prepared(m, "executeAsync")
	ctx := a.host.Context()
	rs := &restResponse{a: a, req: r, done: make(chan struct{})}
	enqueued := a.host.Enqueue()
	a.senders.Go(func() {
		res, err := a.doSafe(ctx, r)
		rs.settle(ctx, res, err)
		close(rs.done)
		enqueued(func() error {
			if !rs.observed && rs.thrown != nil {
				_, _, reject := a.vm.NewPromise()
				return reject(a.toJS(rs.thrown))
			}
			return nil
		})
	})
	return a.newRESTResponse(rs)
}

// settle records the outcome of sending the request.
func (rs *restResponse) settle(ctx context.Context, res *result, err error) {
	switch {
	case err == nil:
		rs.res = res
	case snTransactionFailure(ctx, err):
		rs.failure = err
	default:
		rs.thrown = err
	}
}

// snTransactionFailure reports whether err, the failure of sending a
// RESTMessageV2, is one ServiceNow reports through haveError() (status 0):
// the connection failed or the request's own timeout elapsed. Everything else
// is thrown, as .send() throws it: a credential problem (TOKEN_NOT_FOUND,
// REAUTH_REQUIRED, TOKEN_HOST_MISMATCH, …) is not an HTTP error, a
// response over the size limit cannot be shown, and a script that is being
// stopped (ctx done) must not carry on as if one request had failed.
func snTransactionFailure(ctx context.Context, err error) bool {
	var ce *codedError
	if ctx.Err() != nil || !errors.As(err, &ce) {
		return false
	}
	return ce.code == CodeNetwork || ce.code == CodeTimeout
}

// wait blocks the event loop until the asynchronous request ends, the script
// is stopped, or limit (when positive) passes. Like .send(), it holds the
// loop: ServiceNow scripts are synchronous.
func (rs *restResponse) wait(limit time.Duration, what string) {
	rs.observed = true
	if rs.done == nil {
		return
	}
	ctx := rs.a.host.Context()
	var expired <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-rs.done:
	case <-ctx.Done():
		rs.a.throw(rs.a.transportError(ctx, rs.req, context.Cause(ctx)))
	case <-expired:
		rs.a.throw(errorf(CodeTimeout, "%s: %s: no response within %s; the request goes on, and a later waitForResponse() or getter waits again",
			what, rs.req.where(), limit))
	}
}

// outcome waits for the request and throws what execute() would have thrown.
func (rs *restResponse) outcome(what string) {
	rs.wait(0, what)
	if rs.thrown != nil {
		rs.a.throw(rs.thrown)
	}
}

func (a *api) newRESTResponse(rs *restResponse) *goja.Object {
	if a.restResponseProto == nil {
		a.restResponseProto = a.newRESTResponseProto()
	}
	o := a.vm.NewDynamicObject(rs)
	_ = o.SetPrototype(a.restResponseProto)
	return o
}

// newRESTResponseProto creates the prototype of RESTResponseV2 objects.
func (a *api) newRESTResponseProto() *goja.Object {
	p := a.vm.NewObject()
	getters := []struct {
		name string
		fn   func(*restResponse, goja.FunctionCall) goja.Value
	}{
		{"getStatusCode", func(rs *restResponse, _ goja.FunctionCall) goja.Value {
			if rs.res == nil {
				return a.vm.ToValue(0)
			}
			return a.vm.ToValue(rs.res.status)
		}},
		{"getBody", func(rs *restResponse, _ goja.FunctionCall) goja.Value {
			if rs.res == nil {
				return a.vm.ToValue("")
			}
			return a.vm.ToValue(string(rs.res.body))
		}},
		{"haveError", func(rs *restResponse, _ goja.FunctionCall) goja.Value {
			return a.vm.ToValue(rs.failure != nil || !statusOK(rs.res.status))
		}},
		{"getErrorCode", func(rs *restResponse, _ goja.FunctionCall) goja.Value { return a.vm.ToValue(rs.errorCode()) }},
		{"getErrorMessage", func(rs *restResponse, _ goja.FunctionCall) goja.Value { return a.vm.ToValue(rs.errorMessage()) }},
		{"getHeader", a.snGetHeader},
		{"getHeaders", a.snGetHeaders},
		{"getAllHeaders", a.snGetAllHeaders},
		{"getCookies", func(rs *restResponse, _ goja.FunctionCall) goja.Value {
			var cookies []string
			if rs.res != nil {
				cookies = rs.res.header.Values("Set-Cookie")
			}
			return a.javaList(cookies)
		}},
		{"getQueryString", func(rs *restResponse, _ goja.FunctionCall) goja.Value { return a.vm.ToValue(rs.queryString()) }},
	}
	for _, g := range getters {
		name, fn := g.name, g.fn
		_ = p.Set(name, a.fn(name, func(call goja.FunctionCall) goja.Value {
			rs := a.thisRESTResponse(call, name)
			rs.outcome("RESTResponseV2." + name + "()")
			return fn(rs, call)
		}))
	}
	_ = p.Set("waitForResponse", a.fn("waitForResponse", func(call goja.FunctionCall) goja.Value {
		rs := a.thisRESTResponse(call, "waitForResponse")
		const what = "RESTResponseV2.waitForResponse(timeoutSecs)"
		v := call.Argument(0)
		secs := v.ToFloat()
		if !goja.IsNumber(v) || math.IsNaN(secs) || secs <= 0 {
			a.snTypeError("%s: timeoutSecs must be a positive number of seconds, got %s", what, describe(v))
		}
		rs.wait(time.Duration(min(secs, 1e9)*float64(time.Second)), what)
		if rs.thrown != nil {
			a.throw(rs.thrown)
		}
		return goja.Undefined()
	}))
	_ = p.Set("getResponseAttachmentSysid", a.fn("getResponseAttachmentSysid", func(goja.FunctionCall) goja.Value {
		a.throw(errorf(CodeNotSupported, "RESTResponseV2.getResponseAttachmentSysid() is not supported: scriptrun has no attachment table: read the body with getBody()"))
		return nil
	}))
	return p
}

// thisRESTResponse finds the RESTResponseV2 a method was called on.
func (a *api) thisRESTResponse(call goja.FunctionCall, method string) *restResponse {
	if o, ok := call.This.(*goja.Object); ok {
		if rs, ok := o.Export().(*restResponse); ok {
			return rs
		}
	}
	a.snTypeError("RESTResponseV2.%s() must be called on a response returned by execute() or executeAsync()", method)
	return nil
}

// queryString is getQueryString(): the URL as the script built it, with its
// query, without user info and without anything the Signer added.
func (rs *restResponse) queryString() string {
	u, err := url.Parse(rs.req.targetURL())
	if err != nil {
		return safeURL(rs.req.url)
	}
	u.User = nil
	return u.String()
}

// inspectRESTResponse is InspectResponse for a RESTResponseV2: what it holds
// once an answer came. It never waits: an executeAsync still in flight, or a
// transport failure, is not shown as a response.
func inspectRESTResponse(o *goja.Object) (ResponseInfo, bool) {
	rs, ok := o.Export().(*restResponse)
	if !ok {
		return ResponseInfo{}, false
	}
	if rs.done != nil {
		select {
		case <-rs.done:
		default:
			return ResponseInfo{}, false
		}
	}
	if rs.res == nil {
		return ResponseInfo{}, false
	}
	r := rs.res
	return ResponseInfo{Status: r.status, StatusText: r.statusText, URL: r.finalURL(), Header: r.header, Body: r.body}, true
}

func statusOK(status int) bool { return status >= 200 && status <= 299 }

// errorCode is getErrorCode(): 0 without an error; 1 when no answer came
// (ServiceNow documents 1 for a socket timeout; we use it for every
// transport failure); the status for an answer outside 2xx.
func (rs *restResponse) errorCode() int {
	switch {
	case rs.failure != nil:
		return 1
	case !statusOK(rs.res.status):
		return rs.res.status
	}
	return 0
}

// errorMessage is getErrorMessage(): our coded message for a transport
// failure; for an answer outside 2xx, the wording ServiceNow instances use.
func (rs *restResponse) errorMessage() string {
	switch {
	case rs.failure != nil:
		return rs.failure.Error()
	case !statusOK(rs.res.status):
		return fmt.Sprintf("Method failed: (%s) with code: %d", rs.req.url.EscapedPath(), rs.res.status)
	}
	return ""
}

func (a *api) snGetHeader(rs *restResponse, call goja.FunctionCall) goja.Value {
	name := a.snString(call, 0, "RESTResponseV2.getHeader(name)", "name")
	if rs.res == nil {
		return goja.Null()
	}
	vs := rs.res.header.Values(name)
	if len(vs) == 0 {
		return goja.Null()
	}
	return a.vm.ToValue(vs[len(vs)-1])
}

// snGetHeaders is getHeaders(): the last value of each header, as ServiceNow
// documents for duplicates.
func (a *api) snGetHeaders(rs *restResponse, _ goja.FunctionCall) goja.Value {
	o := a.vm.NewObject()
	if rs.res != nil {
		for _, k := range sortedKeys(rs.res.header) {
			vs := rs.res.header[k]
			_ = o.Set(k, vs[len(vs)-1])
		}
	}
	return o
}

// snGetAllHeaders is getAllHeaders(): one {name, value} for every header
// line, names sorted (Go does not keep their order), values in order.
func (a *api) snGetAllHeaders(rs *restResponse, _ goja.FunctionCall) goja.Value {
	var out []any
	if rs.res != nil {
		for _, k := range sortedKeys(rs.res.header) {
			for _, v := range rs.res.header[k] {
				h := a.vm.NewObject()
				_ = h.Set("name", k)
				_ = h.Set("value", v)
				out = append(out, h)
			}
		}
	}
	return a.javaListOf(out)
}

// javaList returns strings as an array that also answers get(i) and
// size(), as the Java list ServiceNow returns does, so scripts written
// for it (cookies.get(i)) run unchanged.
func (a *api) javaList(ss []string) goja.Value {
	items := make([]any, len(ss))
	for i, s := range ss {
		items[i] = s
	}
	return a.javaListOf(items)
}

func (a *api) javaListOf(items []any) goja.Value {
	arr := a.vm.NewArray(items...)
	get := a.fn("get", func(call goja.FunctionCall) goja.Value {
		return arr.Get(call.Argument(0).String())
	})
	size := a.fn("size", func(goja.FunctionCall) goja.Value { return a.vm.ToValue(len(items)) })
	_ = arr.DefineDataProperty("get", get, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = arr.DefineDataProperty("size", size, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return arr
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k, vs := range h {
		if len(vs) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
