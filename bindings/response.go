package bindings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

// props holds the properties a script adds to a Go-backed object (for example
// res.parsed = res.json()), so such objects behave like ordinary ones.
type props struct {
	m    map[string]goja.Value
	keys []string
}

// Get returns an added property, or nil so the prototype is consulted.
func (p *props) Get(key string) goja.Value { return p.m[key] }

// Set adds or replaces a property.
func (p *props) Set(key string, val goja.Value) bool {
	if p.m == nil {
		p.m = make(map[string]goja.Value)
	}
	if _, ok := p.m[key]; !ok {
		p.keys = append(p.keys, key)
	}
	p.m[key] = val
	return true
}

// Has reports whether a property was added.
func (p *props) Has(key string) bool {
	_, ok := p.m[key]
	return ok
}

// Delete removes an added property.
func (p *props) Delete(key string) bool {
	if _, ok := p.m[key]; ok {
		delete(p.m, key)
		for i, k := range p.keys {
			if k == key {
				p.keys = append(p.keys[:i], p.keys[i+1:]...)
				break
			}
		}
	}
	return true
}

// Keys lists the added properties in insertion order.
func (p *props) Keys() []string { return p.keys }

// response is the Go side of a response object: res from send()/sendAsync(),
// or r from fetch(). Values are converted lazily and cached, so res.headers
// === res.headers.
type response struct {
	props
	a       *api
	r       *result
	fetch   bool
	body    goja.Value
	headers goja.Value
	// ownHeaders is true for a response made with new Response: its
	// headers may be changed, unlike those of a response fetch received.
	ownHeaders bool
}

var (
	responseKeys      = []string{"status", "ok", "statusText", "url", "headers", "body"}
	fetchResponseKeys = []string{"status", "ok", "statusText", "url", "headers"}
)

func (a *api) newResponse(r *result, fetch bool) *goja.Object {
	rs := &response{a: a, r: r, fetch: fetch}
	o := a.vm.NewDynamicObject(rs)
	if fetch {
		if a.fetchResponseProto == nil {
			a.fetchResponseProto = a.newFetchResponseProto()
		}
		_ = o.SetPrototype(a.fetchResponseProto)
	} else {
		if a.responseProto == nil {
			a.responseProto = a.newResponseProto()
		}
		_ = o.SetPrototype(a.responseProto)
	}
	return o
}

func (rs *response) builtin(key string) bool {
	switch key {
	case "status", "ok", "statusText", "url", "headers":
		return true
	case "body":
		return !rs.fetch
	case "attempts":
		return rs.r.attempts > 0
	}
	return false
}

// Get returns the response's fields; headers and body are built on first use.
func (rs *response) Get(key string) goja.Value {
	vm := rs.a.vm
	switch key {
	case "status":
		return vm.ToValue(rs.r.status)
	case "ok":
		return vm.ToValue(rs.r.status >= 200 && rs.r.status <= 299)
	case "statusText":
		return vm.ToValue(rs.r.statusText)
	case "url":
		return vm.ToValue(rs.r.finalURL())
	case "headers":
		if rs.headers == nil {
			if rs.fetch {
				rs.headers = rs.a.newHeaders(rs.r.header, !rs.ownHeaders)
			} else {
				rs.headers = rs.a.plainHeaders(rs.r)
			}
		}
		return rs.headers
	case "body":
		if !rs.fetch {
			return rs.bodyString()
		}
	case "attempts":
		if rs.r.attempts > 0 {
			return vm.ToValue(rs.r.attempts)
		}
	}
	return rs.props.Get(key)
}

// Set keeps the response's own fields read-only.
func (rs *response) Set(key string, val goja.Value) bool {
	if rs.builtin(key) {
		return false
	}
	return rs.props.Set(key, val)
}

// Has reports the response's fields and any property the script added.
func (rs *response) Has(key string) bool { return rs.builtin(key) || rs.props.Has(key) }

// Delete removes a property the script added.
func (rs *response) Delete(key string) bool {
	if rs.builtin(key) {
		return false
	}
	return rs.props.Delete(key)
}

// Keys lists the response's fields, then the properties the script added.
func (rs *response) Keys() []string {
	keys := responseKeys
	if rs.fetch {
		keys = fetchResponseKeys
	}
	if len(rs.props.keys) == 0 {
		return keys
	}
	return append(append([]string(nil), keys...), rs.props.keys...)
}

func (rs *response) bodyString() goja.Value {
	if rs.body == nil {
		rs.body = rs.a.vm.ToValue(bytesString(rs.r.body))
	}
	return rs.body
}

// bytesString returns b as a string without copying it (a response body
// may be megabytes). It is only for bytes nobody writes to again, as
// result.body: goja keeps an ASCII string as it is.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// plainHeaders builds res.headers: lower-case names, repeated headers joined
// with ", ", in name order.
func (a *api) plainHeaders(r *result) *goja.Object {
	o := a.vm.NewObject()
	names := make([]string, 0, len(r.header))
	for k := range r.header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		_ = o.Set(strings.ToLower(k), strings.Join(r.header[k], ", "))
	}
	return o
}

func (a *api) newResponseProto() *goja.Object {
	p := a.vm.NewObject()
	_ = p.Set("header", a.fn("header", func(call goja.FunctionCall) goja.Value {
		rs := a.thisResponse(call, "header")
		name := call.Argument(0)
		if !goja.IsString(name) {
			a.badRequest("res.header(name): name must be a string such as \"content-type\", got %s", describe(name))
		}
		v, ok := rs.r.header[http.CanonicalHeaderKey(name.String())]
		if !ok {
			return goja.Null()
		}
		return a.vm.ToValue(strings.Join(v, ", "))
	}))
	_ = p.Set("json", a.fn("json", func(call goja.FunctionCall) goja.Value {
		rs := a.thisResponse(call, "json")
		v, err := a.parseJSON(rs, "res.json()")
		if err != nil {
			a.throw(err)
		}
		return v
	}))
	_ = p.Set("text", a.fn("text", func(call goja.FunctionCall) goja.Value {
		return a.thisResponse(call, "text").bodyString()
	}))
	return p
}

// thisResponse finds the response a method was called on.
func (a *api) thisResponse(call goja.FunctionCall, method string) *response {
	if o, ok := call.This.(*goja.Object); ok {
		if rs, ok := o.Export().(*response); ok {
			return rs
		}
	}
	a.badRequest(".%s() must be called on a response returned by send(), sendAsync() or fetch()", method)
	return nil
}

// parseJSON parses the body (with parseJSONFast, else the runtime's
// JSON.parse) and explains failures: where in the body, and a short excerpt.
func (a *api) parseJSON(rs *response, what string) (goja.Value, error) {
	r := rs.r
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil, errorf(CodeBadJSON, "%s: the response body of %s (status %d%s) is empty, so there is no JSON to parse; check res.status before calling json()",
			what, r.where(), r.status, contentTypeNote(r))
	}
	if v, err := parseJSONFast(a.vm, r.body); err == nil {
		return v, nil
	}
	v, err := a.jsonParse(a.jsonObj, rs.bodyString())
	if err == nil {
		return v, nil
	}
	js.RethrowUncatchable(err)
	return nil, errorf(CodeBadJSON, "%s: the response body of %s (status %d%s) is not valid JSON: %s",
		what, r.where(), r.status, contentTypeNote(r), jsonProblem(r.body, exceptionText(err)))
}

func contentTypeNote(r *result) string {
	if ct := r.header.Get("Content-Type"); ct != "" {
		return ", content-type " + strconv.Quote(ct)
	}
	return ""
}

// jsonProblem locates a JSON syntax error with encoding/json (only on the
// error path) and shows a short excerpt around it.
func jsonProblem(body []byte, fallback string) string {
	var se *json.SyntaxError
	err := json.Unmarshal(body, new(json.RawMessage))
	if !errors.As(err, &se) {
		return fallback
	}
	pos := int(se.Offset) - 1
	if pos < 0 {
		pos = 0
	}
	if pos > len(body) {
		pos = len(body)
	}
	line, col := 1, 1
	for _, c := range body[:pos] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("%s at line %d, column %d (byte %d): near %s", se.Error(), line, col, pos, excerpt(body, pos))
}

// excerpt quotes at most about 40 bytes of body around pos, so a message
// cannot carry a whole document.
func excerpt(body []byte, pos int) string {
	const before, after = 20, 20
	start, end := max(0, pos-before), min(len(body), pos+after)
	for start > 0 && !utf8.RuneStart(body[start]) {
		start--
	}
	for end < len(body) && !utf8.RuneStart(body[end]) {
		end++
	}
	s := strconv.Quote(strings.ToValidUTF8(string(body[start:end]), "\uFFFD"))
	if start > 0 {
		s = "…" + s
	}
	if end < len(body) {
		s += "…"
	}
	return s
}
