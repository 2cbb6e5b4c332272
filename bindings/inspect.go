package bindings

import (
	"net/http"
	"reflect"

	"github.com/dop251/goja"
)

// ResponseInfo is what a response object holds, for a REPL to print. It
// comes from the response the server sent: the request's headers, and so
// the credential a Signer set, are not part of it.
type ResponseInfo struct {
	// Fetch is true for a fetch() response (body read with text() or json()),
	// false for one from send() or sendAsync().
	Fetch      bool
	Status     int
	StatusText string
	URL        string // final URL, without user info, the Signer's query parameters shown as Redacted
	// Header and Body are shared with the response object: do not modify them.
	Header http.Header
	Body   []byte // nil for HEAD; shared with the response: do not modify
}

// InspectResponse reports whether v is a response object (from send(),
// sendAsync(), fetch() or an sn_ws execute() that got an answer) and what it holds. It runs no JavaScript.
func InspectResponse(v goja.Value) (ResponseInfo, bool) {
	// Export copies arrays and objects into Go values, so the Inspect
	// functions check the exported type first.
	o, ok := v.(*goja.Object)
	if ok && o.ExportType() == reflect.TypeFor[*restResponse]() {
		return inspectRESTResponse(o) // sn_ws (servicenow.go)
	}
	if !ok || o.ExportType() != reflect.TypeFor[*response]() {
		return ResponseInfo{}, false
	}
	rs, ok := o.Export().(*response)
	if !ok {
		return ResponseInfo{}, false
	}
	r := rs.r
	return ResponseInfo{Fetch: rs.fetch, Status: r.status, StatusText: r.statusText, URL: r.finalURL(), Header: r.header, Body: r.body}, true
}

// InspectHeaders reports whether v is a Headers object and returns its
// headers, which are shared with it: do not modify them.
func InspectHeaders(v goja.Value) (http.Header, bool) {
	o, ok := v.(*goja.Object)
	if !ok || o.ExportType() != reflect.TypeFor[*headersObj]() {
		return nil, false
	}
	h, ok := o.Export().(*headersObj)
	if !ok {
		return nil, false
	}
	return h.h, true
}

// RequestInfo is what a request builder (http.get(url) and friends) holds
// before it is sent, for a REPL to print. Nothing in it was set by a Signer:
// builders are signed only when sent.
type RequestInfo struct {
	Method  string
	URL     string      // with the parameters added by .query()
	Header  http.Header // set by the script; a copy
	Token   string      // the name given to apiTokenAuth, if any
	BodyLen int
	Timeout int64 // ms, 0 for none
}

// InspectRequest reports whether v is a request builder and what it holds.
func InspectRequest(v goja.Value) (RequestInfo, bool) {
	o, ok := v.(*goja.Object)
	if !ok || o.ExportType() != reflect.TypeFor[*request]() {
		return RequestInfo{}, false
	}
	r, ok := o.Export().(*request)
	if !ok {
		return RequestInfo{}, false
	}
	return RequestInfo{
		Method:  r.method,
		URL:     r.targetURL(),
		Header:  r.header.Clone(),
		Token:   r.token,
		BodyLen: len(r.body),
		Timeout: r.timeout.Milliseconds(),
	}, true
}
