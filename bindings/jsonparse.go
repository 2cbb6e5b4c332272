package bindings

import (
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
// about 3 times faster with the same result. Object keys are interned, since
// arrays of records repeat them, and so are short string values (a status,
// a tag, a type: records repeat those too), as goja values: each costs two
// allocations otherwise, the string and its boxing.
type fastJSON struct {
	vm    *goja.Runtime
	data  []byte
	pos   int
	depth int
	keys  map[string]string
	strs  map[string]goja.Value // by content
	nums  map[string]goja.Value // by how they are written
}

// Bounds of the values a parse interns: how long a string, and how many
// strings and numbers (other than small integers). A small document is
// not worth the maps.
const (
	maxInternedLen = 128
	maxInterned    = 4096
	minInternDoc   = 4096
)

func parseJSONFast(vm *goja.Runtime, data []byte) (goja.Value, error) {
	if !utf8.Valid(data) {
		return nil, errJSONFallback
	}
	p := &fastJSON{vm: vm, data: data, keys: make(map[string]string)}
	if len(data) >= minInternDoc {
		p.strs, p.nums = make(map[string]goja.Value), make(map[string]goja.Value)
	}
	p.space()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.data) {
		return nil, errJSONFallback
	}
	return v, nil
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

func (p *fastJSON) value() (goja.Value, error) {
	if p.pos >= len(p.data) {
		return nil, errJSONFallback
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.stringValue()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
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

func (p *fastJSON) object() (goja.Value, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, errJSONFallback
	}
	defer func() { p.depth-- }()
	p.pos++ // {
	o := p.vm.NewObject()
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return o, nil
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, errJSONFallback
		}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, errJSONFallback
		}
		p.pos++
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if key == "__proto__" {
			// JSON.parse makes it an own property; Set would change the prototype.
			if err := o.DefineDataProperty(key, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
				return nil, errJSONFallback
			}
		} else if err := o.Set(key, v); err != nil {
			return nil, errJSONFallback
		}
		p.space()
		if p.pos >= len(p.data) {
			return nil, errJSONFallback
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return o, nil
		default:
			return nil, errJSONFallback
		}
	}
}

func (p *fastJSON) array() (goja.Value, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, errJSONFallback
	}
	defer func() { p.depth-- }()
	p.pos++ // [
	var items []any
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return p.vm.NewArray(), nil
	}
	for {
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.space()
		if p.pos >= len(p.data) {
			return nil, errJSONFallback
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return p.vm.NewArray(items...), nil
		default:
			return nil, errJSONFallback
		}
	}
}

// key reads an object key, interned.
func (p *fastJSON) key() (string, error) {
	start := p.pos + 1
	for i := start; i < len(p.data); i++ {
		c := p.data[i]
		if c == '"' {
			p.pos = i + 1
			raw := p.data[start:i]
			if k, ok := p.keys[string(raw)]; ok { // no allocation for the lookup
				return k, nil
			}
			k := string(raw)
			if len(p.keys) < 4096 {
				p.keys[k] = k
			}
			return k, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	return p.string()
}

// stringValue reads a JSON string value at p.pos; a short one without
// escapes is interned.
func (p *fastJSON) stringValue() (goja.Value, error) {
	start := p.pos
	for i := start + 1; i < len(p.data) && i-start <= maxInternedLen+1; i++ {
		c := p.data[i]
		if c == '"' {
			if v, ok := p.strs[string(p.data[start+1:i])]; ok { // no allocation for the lookup
				p.pos = i + 1
				return v, nil
			}
			break
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	s, err := p.string()
	if err != nil {
		return nil, err
	}
	v := p.vm.ToValue(s)
	// Only a string read as it was written (no escapes) is found by the
	// lookup above, which compares the raw bytes.
	if p.strs != nil && len(s) <= maxInternedLen && len(p.strs) < maxInterned && p.pos-start == len(s)+2 {
		p.strs[s] = v
	}
	return v, nil
}

// string reads a JSON string at p.pos.
func (p *fastJSON) string() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			s := string(p.data[start:p.pos])
			p.pos++
			return s, nil
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", errJSONFallback
		}
		p.pos++
	}
	return "", errJSONFallback
}

// escaped continues a string that has escapes, from its start.
func (p *fastJSON) escaped(start int) (string, error) {
	buf := append([]byte(nil), p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", errJSONFallback
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.data) {
			return "", errJSONFallback
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
				return "", errJSONFallback
			}
			if utf16.IsSurrogate(r) {
				// Only a proper pair is a character; a lone surrogate is a
				// JS string a Go string cannot hold.
				if p.pos+1 >= len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
					return "", errJSONFallback
				}
				p.pos += 2
				r2, ok := p.hex4()
				if !ok {
					return "", errJSONFallback
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", errJSONFallback
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", errJSONFallback
		}
	}
	return "", errJSONFallback
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

// number reads a JSON number; integers up to 2^53 become integer values, as
// goja's own JSON.parse makes them.
func (p *fastJSON) number() (goja.Value, error) {
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
	if v, ok := p.nums[string(raw)]; ok {
		return v, nil
	}
	text := string(raw)
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, errJSONFallback // out of range: JSON.parse has the last word
	}
	v := p.vm.ToValue(f)
	if p.nums != nil && len(p.nums) < maxInterned {
		p.nums[text] = v
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
