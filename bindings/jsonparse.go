package bindings

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// errJSONFallback tells parseJSON to use the runtime's own JSON.parse: the
// input is valid JSON this fast path does not reproduce exactly (lone UTF-16
// surrogates, invalid UTF-8) or it is not valid JSON (JSON.parse then
// produces the error).
var errJSONFallback = errors.New("use JSON.parse")

// maxJSONDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxJSONDepth = 1000

// fastJSON parses a JSON document straight into goja values. goja's
// JSON.parse goes through encoding/json's token stream, which boxes every
// token; for the multi-megabyte responses integration scripts fetch this is
// about 3 times faster with the same result.
//
// Arrays of records repeat their keys, in the same order, and many values
// (a status, a tag, a type): in a document of minInternDoc bytes or more,
// object keys are interned, and so are short string values and numbers
// other than small integers, as goja values (each costs two allocations
// otherwise, the string and its boxing). Each key remembers the key that
// followed it and the last string value it had, so that a record shaped
// like the one before costs a comparison of bytes per key, not a hash
// lookup.
type fastJSON struct {
	vm    *goja.Runtime
	data  []byte
	pos   int
	depth int
	keys  map[string]*jsonKey
	slab  []jsonKey // where newKey makes keys
	// first holds, by depth, the first key of the last object read there.
	first [8]*jsonKey
	strs  map[string]jsonString // by content
	nums  map[string]goja.Value // by how they are written
	// items holds the elements of the arrays being read, innermost last:
	// NewArray copies them, so one buffer serves every array.
	items []any
	// proto is Object.prototype, which objects get once their members are
	// in (see put); found at the first object.
	proto *goja.Object
}

// jsonKey is an interned object key.
type jsonKey struct {
	name string
	next *jsonKey // the key that followed it the last time
	last jsonString
	// How often a value under this key was found interned, and not: once
	// most of the first thousand or so were new (an id, a name), the
	// values of that key are no longer looked up.
	hits, misses int
}

// interns tells whether values under k are looked up and interned.
func (k *jsonKey) interns() bool {
	return k == nil || k.misses < 1024 || k.misses <= 4*k.hits
}

// counts a lookup of a value under k.
func (k *jsonKey) count(hit bool) {
	switch {
	case k == nil:
	case hit:
		k.hits++
	default:
		k.misses++
	}
}

// jsonString is an interned string value, as written (without escapes).
type jsonString struct {
	raw string
	v   goja.Value
}

// Bounds of what a parse interns: how long a string, and how many keys,
// strings and numbers (other than small integers). A small document is not
// worth the maps.
const (
	maxInternedLen = 128
	maxInterned    = 4096
	minInternDoc   = 4096
)

func parseJSONFast(vm *goja.Runtime, data []byte) (goja.Value, error) {
	if !utf8.Valid(data) {
		return nil, errJSONFallback
	}
	p := newFastJSON(vm, data)
	p.space()
	v, err := p.value(nil)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.data) {
		return nil, errJSONFallback
	}
	return v, nil
}

func newFastJSON(vm *goja.Runtime, data []byte) *fastJSON {
	p := &fastJSON{vm: vm, data: data}
	if len(data) >= minInternDoc {
		p.keys, p.strs, p.nums = make(map[string]*jsonKey), make(map[string]jsonString), make(map[string]goja.Value)
	}
	return p
}

func (p *fastJSON) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value reads any JSON value; k is the key it is under, if any.
func (p *fastJSON) value(k *jsonKey) (goja.Value, error) {
	if p.pos >= len(p.data) {
		return nil, errJSONFallback
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.stringValue(k)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(k)
	case p.literal("true"):
		return p.vm.ToValue(true), nil
	case p.literal("false"):
		return p.vm.ToValue(false), nil
	case p.literal("null"):
		return goja.Null(), nil
	}
	return nil, errJSONFallback
}

func (p *fastJSON) literal(word string) bool {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return true
	}
	return false
}

// object reads a JSON object.
func (p *fastJSON) object() (goja.Value, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, errJSONFallback
	}
	defer func() { p.depth-- }()
	p.pos++ // {
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return p.vm.NewObject(), nil
	}
	// Members go into an object without a prototype, which it gets
	// once they are all in: see put.
	if p.proto == nil {
		p.proto = p.vm.NewObject().Prototype()
	}
	o := p.vm.CreateObject(nil)
	if err := p.members(o); err != nil {
		return nil, err
	}
	if err := o.SetPrototype(p.proto); err != nil {
		return nil, errJSONFallback
	}
	return o, nil
}

// members reads an object's members into o, up to its closing brace.
func (p *fastJSON) members(o *goja.Object) error {
	var prev, guess *jsonKey
	if p.depth < len(p.first) {
		guess = p.first[p.depth]
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return errJSONFallback
		}
		k, err := p.key(guess)
		if err != nil {
			return err
		}
		switch {
		case prev != nil:
			if prev.next != k {
				prev.next = k
			}
		case p.depth < len(p.first):
			p.first[p.depth] = k
		}
		prev, guess = k, k.next
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return errJSONFallback
		}
		p.pos++
		p.space()
		v, err := p.value(k)
		if err != nil {
			return err
		}
		if err := p.put(o, k, v); err != nil {
			return err
		}
		p.space()
		if p.pos >= len(p.data) {
			return errJSONFallback
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return nil
		default:
			return errJSONFallback
		}
	}
}

func (p *fastJSON) array() (goja.Value, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, errJSONFallback
	}
	defer func() { p.depth-- }()
	p.pos++ // [
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return p.vm.NewArray(), nil
	}
	base := len(p.items)
	defer func() { clear(p.items[base:]); p.items = p.items[:base] }()
	for {
		p.space()
		v, err := p.value(nil)
		if err != nil {
			return nil, err
		}
		p.items = append(p.items, v)
		p.space()
		if p.pos >= len(p.data) {
			return nil, errJSONFallback
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return p.vm.NewArray(p.items[base:]...), nil
		default:
			return nil, errJSONFallback
		}
	}
}

// key reads an object key at p.pos, interned; guess is the key expected
// there.
func (p *fastJSON) key(guess *jsonKey) (*jsonKey, error) {
	start := p.pos + 1
	for i := start; i < len(p.data); i++ {
		c := p.data[i]
		if c == '"' {
			p.pos = i + 1
			raw := p.data[start:i]
			if guess != nil && guess.name == string(raw) {
				return guess, nil
			}
			if k, ok := p.keys[string(raw)]; ok { // no allocation for the lookup
				return k, nil
			}
			return p.newKey(string(raw)), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	s, err := p.string()
	if err != nil {
		return nil, err
	}
	if k, ok := p.keys[s]; ok {
		return k, nil
	}
	return p.newKey(s), nil
}

// put adds a member to an object as JSON.parse does: an own data property,
// the last of duplicate keys winning in the place of the first. The object
// has no prototype yet, so Set neither looks one up for every member (a
// tenth of the time Set takes) nor meets what Object.prototype has under
// that name: a setter a script put there, a read-only property, or the
// __proto__ accessor, which JSON.parse does not call but Set would. No script
// runs during a parse to see the object without its prototype.
func (p *fastJSON) put(o *goja.Object, k *jsonKey, v goja.Value) error {
	if err := o.Set(k.name, v); err != nil {
		return errJSONFallback
	}
	return nil
}

// newKey makes a key, interned (in a large document) while there are fewer
// than maxInterned, in blocks of keys: one allocation per key would double
// those of a small document's members.
func (p *fastJSON) newKey(name string) *jsonKey {
	if len(p.slab) == cap(p.slab) {
		// A new block; keys in the last one stay where they are.
		p.slab = make([]jsonKey, 0, min(2*cap(p.slab)+8, 64))
	}
	p.slab = append(p.slab, jsonKey{name: name})
	k := &p.slab[len(p.slab)-1]
	if p.keys != nil && len(p.keys) < maxInterned {
		p.keys[name] = k
	}
	return k
}

// stringValue reads a JSON string value at p.pos, under key k if not nil; a
// short one without escapes is interned.
func (p *fastJSON) stringValue(k *jsonKey) (goja.Value, error) {
	start := p.pos
	interns := p.strs != nil && k.interns()
	if interns {
		if v, ok := p.interned(k); ok {
			return v, nil
		}
	}
	b, err := p.stringBytes()
	if err != nil {
		return nil, err
	}
	v := jsString(b)
	// Only a string read as it was written (no escapes) is found by the
	// lookups above, which compare the raw bytes.
	if interns && len(b) <= maxInternedLen && len(p.strs) < maxInterned && p.pos-start == len(b)+2 {
		is := jsonString{raw: string(b), v: v}
		p.strs[is.raw] = is
		if k != nil {
			k.last = is
		}
	}
	return v, nil
}

// jsString makes a JS string of UTF-8 text b. Through ToValue a string
// costs three allocations: its bytes, the string as an interface argument,
// and the JS value; a StringBuilder writes the bytes into the value's own
// buffer. b is converted to a string only to be copied: up to 32 bytes that
// conversion needs no allocation.
func jsString(b []byte) goja.Value {
	var sb goja.StringBuilder
	sb.Grow(len(b))
	sb.WriteUTF8String(string(b))
	return sb.String()
}

// interned finds the string value at p.pos among the interned ones, under
// key k if not nil. What it compares runs up to the next quote, escaped or
// not: interned strings were written without escapes or control
// characters, so the bytes of one that has either match none of them.
func (p *fastJSON) interned(k *jsonKey) (goja.Value, bool) {
	rest := p.data[p.pos+1 : min(len(p.data), p.pos+1+maxInternedLen+1)]
	n := bytes.IndexByte(rest, '"')
	if n < 0 {
		return nil, false
	}
	raw := rest[:n]
	if k != nil && k.last.v != nil && k.last.raw == string(raw) {
		p.pos += n + 2
		return k.last.v, true
	}
	is, ok := p.strs[string(raw)] // no allocation for the lookup
	k.count(ok)
	if !ok {
		return nil, false
	}
	p.pos += n + 2
	if k != nil {
		k.last = is
	}
	return is.v, true
}

// string reads a JSON string at p.pos.
func (p *fastJSON) string() (string, error) {
	b, err := p.stringBytes()
	return string(b), err
}

// stringBytes reads a JSON string at p.pos: the bytes between its quotes,
// in p.data, if it has no escapes.
func (p *fastJSON) stringBytes() ([]byte, error) {
	p.pos++ // opening quote
	start := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return p.data[start : p.pos-1], nil
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return nil, errJSONFallback
		}
		p.pos++
	}
	return nil, errJSONFallback
}

// escaped continues a string that has escapes, from its start.
func (p *fastJSON) escaped(start int) ([]byte, error) {
	buf := append([]byte(nil), p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return buf, nil
		case c < 0x20:
			return nil, errJSONFallback
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.data) {
			return nil, errJSONFallback
		}
		e := p.data[p.pos+1]
		p.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, errJSONFallback
			}
			if utf16.IsSurrogate(r) {
				// Only a proper pair is a character; a lone surrogate is a
				// JS string a Go string cannot hold.
				if p.pos+1 >= len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
					return nil, errJSONFallback
				}
				p.pos += 2
				r2, ok := p.hex4()
				if !ok {
					return nil, errJSONFallback
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return nil, errJSONFallback
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return nil, errJSONFallback
		}
	}
	return nil, errJSONFallback
}

func (p *fastJSON) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(n), true
}

// number reads a JSON number, under key k if not nil; integers up to 2^53
// become integer values, as goja's own JSON.parse makes them.
func (p *fastJSON) number(k *jsonKey) (goja.Value, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	digits := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	if p.pos == digits || (p.data[digits] == '0' && p.pos-digits > 1) {
		return nil, errJSONFallback // no digits, or a leading zero
	}
	integer := true
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		integer = false
		p.pos++
		frac := p.pos
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == frac {
			return nil, errJSONFallback
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		integer = false
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		exp := p.pos
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == exp {
			return nil, errJSONFallback
		}
	}
	raw := p.data[start:p.pos]
	if integer && p.pos-digits <= 15 && string(raw) != "-0" {
		return p.vm.ToValue(decimal(raw)), nil // fits: 15 digits are below 2^53
	}
	// Other numbers are interned like short strings (a price, a score),
	// apart from them: "1.5" is not 1.5.
	interns := p.nums != nil && k.interns()
	if interns {
		v, ok := p.nums[string(raw)]
		k.count(ok)
		if ok {
			return v, nil
		}
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return nil, errJSONFallback // out of range: JSON.parse has the last word
	}
	v := p.vm.ToValue(f)
	if interns && len(p.nums) < maxInterned {
		p.nums[string(raw)] = v
	}
	return v, nil
}

// decimal reads an optionally negative integer of at most 15 digits, which
// number has checked.
func decimal(b []byte) int64 {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var n int64
	for _, c := range b {
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}
