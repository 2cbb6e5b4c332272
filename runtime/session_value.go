package runtime

import (
	"errors"
	"math"
	"net/http"
	neturl "net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/bindings"
	"github.com/scriptrun/scriptrun/internal/lazy"
)

// Kind is the kind of a described value.
type Kind int

// Kinds of values. The comments say what Value.Text holds.
const (
	KindUndefined Kind = iota
	KindNull
	KindBoolean  // "true" or "false"
	KindNumber   // as JavaScript prints it: "42", "-0", "NaN", "1e+21"
	KindBigInt   // the digits, without the n
	KindString   // the string itself (Len is its length when it was cut)
	KindSymbol   // "Symbol(description)"
	KindFunction // its name, "" when anonymous
	KindClass    // its name
	KindArray    // Entries: elements (Key "") and other properties; Len: length
	KindObject   // Class: constructor name ("" for Object); Entries: own enumerable properties
	KindError    // the stack: "TypeError: message" and "    at …" lines, plus { code: "…" }
	KindDate     // ISO 8601 in UTC, or "Invalid Date"
	KindRegExp   // "/source/flags"
	KindMap      // Entries with MapKey; Len: size
	KindSet      // Entries; Len: size
	KindPromise  // "pending", "fulfilled" or "rejected"; Entries[0] is the result
	KindResponse // Response is set
	KindRequest  // Request is set
	KindHeaders  // Entries: lower-case names and their values
	KindCircular // a reference to an object being described
	KindMore     // an object deeper than the description goes; Class names it ("Object", "Array", "Foo")
	KindGetter   // an accessor property, not called: "Getter", "Setter", "Getter/Setter"
)

// Limits of a description.
const (
	// DescribeDepth is how deep objects are described; deeper ones are KindMore.
	DescribeDepth = 4
	// DescribeEntries is the most properties or elements described per object.
	DescribeEntries = 100
	// DescribeString is the most bytes of a string described.
	DescribeString = 10000
	// describeBudget bounds the nodes of one description.
	describeBudget = 5000
)

// Value describes a JavaScript value for display. Sessions build it on the
// event loop, so it can be printed on any goroutine. It never holds a
// credential: headers that carry one are left out of responses and hidden
// in requests.
type Value struct {
	Kind  Kind
	Text  string
	Class string
	// Len is an array's length, a Map's or Set's size, or the length in
	// bytes of a string that was cut.
	Len     int
	Entries []Entry
	// Omitted counts properties or elements left out (beyond DescribeEntries).
	Omitted  int
	Response *Response
	Request  *Request
}

// Entry is a property, an element, or a Map entry.
type Entry struct {
	Key    string // property name; "" for array and Set elements
	MapKey *Value // for Map entries
	Value  *Value
}

// Header is one HTTP header, its name in lower case.
type Header struct {
	Name, Value string
}

// Response describes a response object (from send, sendAsync or fetch).
type Response struct {
	Fetch       bool // fetch(): read the body with await r.text() or r.json()
	Status      int
	StatusText  string
	URL         string
	ContentType string
	// Headers are sorted by name. Authorization and Proxy-Authorization never
	// appear; cookies are masked.
	Headers []Header
	// Body is the whole body, shared with the response: do not modify it.
	Body []byte
}

// Request describes a request builder that has not been sent.
type Request struct {
	Method, URL string
	Token       string // the name given to apiTokenAuth
	// Headers set by the script, sorted; Authorization's value is hidden.
	Headers []Header
	BodyLen int
	Timeout int64 // ms
}

// hiddenHeader reports whether a header (its lower-case name) never
// appears in a described response: it carries credentials.
func hiddenHeader(name string) bool { return name == "authorization" || name == "proxy-authorization" }

// maskedHeader reports whether a header appears with its value masked.
func maskedHeader(name string) bool { return name == "set-cookie" || name == "cookie" }

// describer builds one Value.
type describer struct {
	s         *Session
	vm        *goja.Runtime
	ancestors []*goja.Object
	budget    int
}

// describe builds the description of v. It runs on the event loop and calls
// no JavaScript the user wrote: getters are shown, not called.
func (s *Session) describe(v goja.Value) (out *Value) {
	defer func() {
		if x := recover(); x != nil {
			var ie *goja.InterruptedError
			if err, ok := x.(error); ok && errors.As(err, &ie) {
				panic(x) // Ctrl-C: let it stop the evaluation
			}
			out = &Value{Kind: KindString, Text: safeString(s.e.vm, v)}
		}
	}()
	d := &describer{s: s, vm: s.e.vm, budget: describeBudget}
	return d.value(v, 0)
}

func (d *describer) value(v goja.Value, depth int) *Value {
	d.budget--
	switch {
	case v == nil || goja.IsUndefined(v):
		return &Value{Kind: KindUndefined}
	case goja.IsNull(v):
		return &Value{Kind: KindNull}
	case goja.IsString(v):
		s := v.String()
		if len(s) > DescribeString {
			cut := DescribeString
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			return &Value{Kind: KindString, Text: s[:cut], Len: len(s)}
		}
		return &Value{Kind: KindString, Text: s}
	case goja.IsBigInt(v):
		return &Value{Kind: KindBigInt, Text: v.String()}
	case goja.IsNumber(v):
		f := v.ToFloat()
		if f == 0 && math.Signbit(f) {
			return &Value{Kind: KindNumber, Text: "-0"}
		}
		return &Value{Kind: KindNumber, Text: v.String()}
	}
	if sym, ok := v.(*goja.Symbol); ok {
		return &Value{Kind: KindSymbol, Text: "Symbol(" + sym.String() + ")"}
	}
	o, ok := v.(*goja.Object)
	if !ok {
		if t := v.ExportType(); t != nil && t.Kind() == reflect.Bool {
			return &Value{Kind: KindBoolean, Text: v.String()}
		}
		return &Value{Kind: KindString, Text: v.String()}
	}
	return d.object(o, depth)
}

func (d *describer) object(o *goja.Object, depth int) *Value {
	if r, ok := bindings.InspectResponse(o); ok {
		return &Value{Kind: KindResponse, Response: describeResponse(r)}
	}
	if h, ok := bindings.InspectHeaders(o); ok {
		out := &Value{Kind: KindHeaders}
		for _, hd := range headerList(h, false) {
			out.Entries = append(out.Entries, Entry{Key: hd.Name, Value: &Value{Kind: KindString, Text: hd.Value}})
		}
		return out
	}
	if r, ok := bindings.InspectRequest(o); ok {
		return &Value{Kind: KindRequest, Request: &Request{Method: r.Method, URL: r.URL, Token: r.Token, Headers: headerList(r.Header, false), BodyLen: r.BodyLen, Timeout: r.Timeout}}
	}
	// URL and URLSearchParams wrap Go values (goja_nodejs): show what they
	// hold rather than Go's methods.
	switch o.ExportType().String() {
	case "*url.nodeURL":
		return d.url(o)
	case "*url.urlSearchParams":
		return d.searchParams(o)
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		name := jsName(safeGet(d.vm, o, "name"))
		src := ""
		_ = d.vm.Try(func() { src = o.String() })
		if strings.HasPrefix(src, "class") {
			return &Value{Kind: KindClass, Text: name}
		}
		return &Value{Kind: KindFunction, Text: name}
	}
	for _, a := range d.ancestors {
		if a == o {
			return &Value{Kind: KindCircular}
		}
	}
	f := d.s.e.format
	switch o.ClassName() {
	case "Error":
		text := f.errorText(o)
		if !d.s.fixed[o] {
			text = d.s.fixPositions(text)
		}
		return &Value{Kind: KindError, Text: text}
	case "Date":
		if t, ok := o.Export().(time.Time); ok {
			return &Value{Kind: KindDate, Text: t.UTC().Format("2006-01-02T15:04:05.000Z")}
		}
		return &Value{Kind: KindDate, Text: "Invalid Date"}
	case "RegExp":
		return &Value{Kind: KindRegExp, Text: safeString(d.vm, o)}
	}
	if o.ExportType() == reflect.TypeFor[goja.Proxy]() {
		return &Value{Kind: KindObject, Class: "Proxy"}
	}
	if f.is(o, &f.promiseCtor) {
		if p, ok := o.Export().(*goja.Promise); ok {
			out := &Value{Kind: KindPromise}
			switch p.State() {
			case goja.PromiseStatePending:
				out.Text = "pending"
				return out
			case goja.PromiseStateRejected:
				out.Text = "rejected"
			default:
				out.Text = "fulfilled"
			}
			d.push(o)
			out.Entries = []Entry{{Value: d.value(p.Result(), depth+1)}}
			d.pop()
			return out
		}
	}
	class := d.className(o)
	isMap, isSet := f.is(o, &f.mapCtor), f.is(o, &f.setCtor)
	if depth > DescribeDepth || d.budget <= 0 {
		switch {
		case o.ClassName() == "Array":
			class = orDefault(class, "Array")
		case isMap:
			class = orDefault(class, "Map")
		case isSet:
			class = orDefault(class, "Set")
		default:
			class = orDefault(class, "Object")
		}
		return &Value{Kind: KindMore, Class: class}
	}
	d.push(o)
	defer d.pop()
	switch {
	case isMap || isSet:
		return d.collection(o, class, isMap, depth)
	case o.ClassName() == "Array":
		return d.array(o, class, depth)
	}
	out := &Value{Kind: KindObject, Class: class}
	d.properties(out, o, o.Keys(), depth)
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (d *describer) push(o *goja.Object) { d.ancestors = append(d.ancestors, o) }
func (d *describer) pop()                { d.ancestors = d.ancestors[:len(d.ancestors)-1] }

// className is the name of o's constructor when it is not the plain one
// for its kind, read without calling getters.
func (d *describer) className(o *goja.Object) string {
	proto := o.Prototype()
	if proto == nil {
		return "[Object: null prototype]"
	}
	desc := d.s.descriptor(proto, "constructor")
	if desc == nil {
		return ""
	}
	ctor, ok := desc.Get("value").(*goja.Object)
	if !ok {
		return ""
	}
	switch name := jsName(safeGet(d.vm, ctor, "name")); name {
	case "Object", "Array", "Map", "Set":
		return ""
	default:
		return name
	}
}

// goSymbol matches the names goja gives functions implemented in Go, such
// as "reflect.methodValueCall" or "github.com/x/y.(*t).f.func1".
var goSymbol = lazy.Regexp{Expr: `^[\w.]+(/[\w.-]+)*\.[\w.()*]+$`}

// jsName returns a function's name, or "" for the name of a Go function,
// which says nothing to a JavaScript user.
func jsName(name string) string {
	if strings.Contains(name, ".") && goSymbol.Get().MatchString(name) && (strings.Contains(name, "/") || strings.Contains(name, "(") || strings.HasPrefix(name, "reflect.") || strings.Contains(name, ".func")) {
		return ""
	}
	return name
}

// url describes a URL object by the parts Node shows.
func (d *describer) url(o *goja.Object) *Value {
	out := &Value{Kind: KindObject, Class: "URL"}
	for _, k := range []string{"href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"} {
		s := safeGet(d.vm, o, k)
		if k == "password" && s != "" {
			s = "[hidden]"
		}
		if k == "href" {
			if u, err := neturl.Parse(s); err == nil && u.User != nil {
				if _, ok := u.User.Password(); ok {
					u.User = neturl.UserPassword(u.User.Username(), "hidden")
					s = u.String()
				}
			}
		}
		out.Entries = append(out.Entries, Entry{Key: k, Value: &Value{Kind: KindString, Text: s}})
	}
	return out
}

// searchParams describes a URLSearchParams object by its pairs.
func (d *describer) searchParams(o *goja.Object) *Value {
	out := &Value{Kind: KindMap, Class: "URLSearchParams"}
	for _, pair := range strings.Split(safeString(d.vm, o), "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, _ = neturl.QueryUnescape(k)
		v, _ = neturl.QueryUnescape(v)
		out.Entries = append(out.Entries, Entry{MapKey: &Value{Kind: KindString, Text: k}, Value: &Value{Kind: KindString, Text: v}})
	}
	out.Len = len(out.Entries)
	return out
}

// properties adds the properties of o named by keys to out.
func (d *describer) properties(out *Value, o *goja.Object, keys []string, depth int) {
	for i, k := range keys {
		if len(out.Entries) >= DescribeEntries || d.budget <= 0 {
			out.Omitted = len(keys) - i
			return
		}
		out.Entries = append(out.Entries, Entry{Key: k, Value: d.property(o, k, depth)})
	}
}

// property describes one own property without calling a getter the user
// wrote. The session's own let/const bindings on the global object show
// their value.
func (d *describer) property(o *goja.Object, key string, depth int) *Value {
	desc := d.s.descriptor(o, key)
	if desc == nil {
		var v goja.Value
		_ = d.vm.Try(func() { v = o.Get(key) })
		return d.value(v, depth+1)
	}
	get, set := desc.Get("get"), desc.Get("set")
	hasGet := get != nil && !goja.IsUndefined(get)
	hasSet := set != nil && !goja.IsUndefined(set)
	if !hasGet && !hasSet {
		return d.value(desc.Get("value"), depth+1)
	}
	if o == d.vm.GlobalObject() {
		if b, ok := d.s.bindings[key]; ok && b.getter.SameAs(get) {
			if !b.ready {
				return &Value{Kind: KindGetter, Text: "uninitialized"}
			}
			return d.value(b.value, depth+1)
		}
	}
	switch {
	case hasGet && hasSet:
		return &Value{Kind: KindGetter, Text: "Getter/Setter"}
	case hasGet:
		return &Value{Kind: KindGetter, Text: "Getter"}
	}
	return &Value{Kind: KindGetter, Text: "Setter"}
}

// array describes an array's elements and its other properties.
func (d *describer) array(o *goja.Object, class string, depth int) *Value {
	n := 0
	_ = d.vm.Try(func() { n = int(o.Get("length").ToInteger()) })
	out := &Value{Kind: KindArray, Class: class, Len: n}
	for i := 0; i < n; i++ {
		if len(out.Entries) >= DescribeEntries || d.budget <= 0 {
			out.Omitted = n - i
			break
		}
		out.Entries = append(out.Entries, Entry{Value: d.property(o, strconv.Itoa(i), depth)})
	}
	if n <= 10*DescribeEntries {
		var extra []string
		for _, k := range o.Keys() {
			if _, err := strconv.Atoi(k); err != nil {
				extra = append(extra, k)
			}
		}
		if out.Omitted == 0 {
			d.properties(out, o, extra, depth)
		} else {
			out.Omitted += len(extra)
		}
	}
	return out
}

// collection describes a Map's or a Set's entries.
func (d *describer) collection(o *goja.Object, class string, isMap bool, depth int) *Value {
	out := &Value{Kind: KindSet, Class: class}
	if isMap {
		out.Kind = KindMap
	}
	_ = d.vm.Try(func() { out.Len = int(o.Get("size").ToInteger()) })
	f := d.s.e.format
	if f.arrayFrom == nil {
		return out
	}
	var arr *goja.Object
	if ex := d.vm.Try(func() {
		v, err := f.arrayFrom(goja.Undefined(), o)
		if err == nil {
			arr, _ = v.(*goja.Object)
		}
	}); ex != nil || arr == nil {
		return out
	}
	n := int(arr.Get("length").ToInteger())
	for i := 0; i < n; i++ {
		if len(out.Entries) >= DescribeEntries || d.budget <= 0 {
			out.Omitted = n - i
			break
		}
		item := arr.Get(strconv.Itoa(i))
		if !isMap {
			out.Entries = append(out.Entries, Entry{Value: d.value(item, depth+1)})
			continue
		}
		pair, ok := item.(*goja.Object)
		if !ok {
			continue
		}
		out.Entries = append(out.Entries, Entry{MapKey: d.value(pair.Get("0"), depth+1), Value: d.value(pair.Get("1"), depth+1)})
	}
	return out
}

// describeResponse keeps what may be shown of a response.
func describeResponse(r bindings.ResponseInfo) *Response {
	return &Response{
		Fetch:       r.Fetch,
		Status:      r.Status,
		StatusText:  r.StatusText,
		URL:         r.URL,
		ContentType: r.Header.Get("Content-Type"),
		Headers:     headerList(r.Header, true),
		Body:        r.Body,
	}
}

// headerList sorts headers by lower-case name, leaving out or masking those
// that carry credentials. A response never legitimately carries request
// credentials, so those are dropped; a request builder shows that it has one.
func headerList(h http.Header, response bool) []Header {
	out := make([]Header, 0, len(h))
	for k, vs := range h {
		name := strings.ToLower(k)
		value := strings.Join(vs, ", ")
		switch {
		case hiddenHeader(name) && response:
			continue
		case hiddenHeader(name), maskedHeader(name):
			value = "[hidden]"
		}
		out = append(out, Header{Name: name, Value: value})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
