package webapi

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// textEncoderCtor builds TextEncoder (https://encoding.spec.whatwg.org/#interface-textencoder).
func (a *api) textEncoderCtor() *goja.Object {
	ctor, proto := a.ctor("TextEncoder", 0, func(*goja.Object, []goja.Value) any { return &encoder{} })
	a.getter(proto, "encoding", func(this goja.Value) goja.Value {
		state[*encoder](a, this, "TextEncoder.encoding")
		return a.vm.ToValue("utf-8")
	})
	a.method(proto, "encode", 0, func(call goja.FunctionCall) goja.Value {
		state[*encoder](a, call.This, "TextEncoder.encode")
		s := ""
		if v := call.Argument(0); !goja.IsUndefined(v) {
			s = v.String() // lone surrogates become U+FFFD, as USVString conversion says
		}
		return a.uint8Array([]byte(s))
	})
	a.method(proto, "encodeInto", 2, func(call goja.FunctionCall) goja.Value {
		state[*encoder](a, call.This, "TextEncoder.encodeInto")
		src := call.Argument(0).String()
		d, _ := call.Argument(1).(*goja.Object)
		if d == nil || viewKind(d) != "Uint8Array" {
			panic(a.vm.NewTypeError("TextEncoder.encodeInto: argument 2 must be a Uint8Array"))
		}
		dst, _ := a.bufferSource(d)
		read, written := 0, 0
		for _, r := range src {
			n := utf8.RuneLen(r)
			if written+n > len(dst) {
				break
			}
			utf8.EncodeRune(dst[written:], r)
			written += n
			read++
			if r > 0xFFFF {
				read++ // two UTF-16 code units
			}
		}
		res := a.vm.NewObject()
		_ = res.Set("read", read)
		_ = res.Set("written", written)
		return res
	})
	return ctor
}

// encoder is a TextEncoder's state: it has none, but marks the object as one.
type encoder struct{}

// decoder is a TextDecoder: the options and the state of the WHATWG UTF-8
// decoder (https://encoding.spec.whatwg.org/#utf-8-decoder), kept between
// calls with {stream: true}.
type decoder struct {
	fatal, ignoreBOM bool

	doNotFlush   bool
	bomSeen      bool
	cp           rune
	needed, seen int
	lower, upper byte
}

func (d *decoder) reset() {
	d.cp, d.needed, d.seen, d.lower, d.upper = 0, 0, 0, 0x80, 0xBF
}

// decode runs the decoder over b, appending code points to out; ok is false
// at the first error when the decoder is fatal. flush ends the stream: an
// incomplete sequence left over is an error.
func (d *decoder) decode(b []byte, flush bool, out []rune) (_ []rune, ok bool) {
	emit := func(r rune) {
		if !d.ignoreBOM && !d.bomSeen {
			d.bomSeen = true
			if r == 0xFEFF {
				return
			}
		}
		out = append(out, r)
	}
	fail := func() bool {
		if d.fatal {
			return false
		}
		emit(utf8.RuneError)
		return true
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if d.needed == 0 {
			switch {
			case c <= 0x7F:
				emit(rune(c))
			case 0xC2 <= c && c <= 0xDF:
				d.needed, d.cp = 1, rune(c&0x1F)
			case 0xE0 <= c && c <= 0xEF:
				if c == 0xE0 {
					d.lower = 0xA0
				}
				if c == 0xED {
					d.upper = 0x9F
				}
				d.needed, d.cp = 2, rune(c&0xF)
			case 0xF0 <= c && c <= 0xF4:
				if c == 0xF0 {
					d.lower = 0x90
				}
				if c == 0xF4 {
					d.upper = 0x8F
				}
				d.needed, d.cp = 3, rune(c&0x7)
			default:
				if !fail() {
					return out, false
				}
			}
			continue
		}
		if c < d.lower || c > d.upper {
			// The byte ends the broken sequence and is read again on its own.
			d.reset()
			i--
			if !fail() {
				return out, false
			}
			continue
		}
		d.lower, d.upper = 0x80, 0xBF
		d.cp = d.cp<<6 | rune(c&0x3F)
		d.seen++
		if d.seen == d.needed {
			r := d.cp
			d.reset()
			emit(r)
		}
	}
	if flush && d.needed != 0 {
		d.reset()
		if !fail() {
			return out, false
		}
	}
	return out, true
}

// utf8Label reports whether l is one of the labels
// https://encoding.spec.whatwg.org/#names-and-labels gives UTF-8. A switch,
// not a map literal: that would be built at every start.
func utf8Label(l string) bool {
	switch l {
	case "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8":
		return true
	}
	return false
}

// textDecoderCtor builds TextDecoder (https://encoding.spec.whatwg.org/#interface-textdecoder).
func (a *api) textDecoderCtor() *goja.Object {
	ctor, proto := a.ctor("TextDecoder", 0, func(_ *goja.Object, args []goja.Value) any {
		arg := func(i int) goja.Value {
			if i < len(args) {
				return args[i]
			}
			return goja.Undefined()
		}
		if label := arg(0); !goja.IsUndefined(label) {
			l := strings.ToLower(strings.Trim(label.String(), "\t\n\f\r "))
			if !utf8Label(l) {
				panic(a.rangeError("TextDecoder: the encoding label %q is not supported; only UTF-8 is", label.String()))
			}
		}
		d := &decoder{}
		if o, ok := arg(1).(*goja.Object); ok {
			d.fatal = o.Get("fatal") != nil && o.Get("fatal").ToBoolean()
			d.ignoreBOM = o.Get("ignoreBOM") != nil && o.Get("ignoreBOM").ToBoolean()
		} else if v := arg(1); !goja.IsUndefined(v) && !goja.IsNull(v) {
			panic(a.vm.NewTypeError("TextDecoder: options must be an object"))
		}
		d.reset()
		return d
	})
	a.getter(proto, "encoding", func(this goja.Value) goja.Value {
		state[*decoder](a, this, "TextDecoder.encoding")
		return a.vm.ToValue("utf-8")
	})
	a.getter(proto, "fatal", func(this goja.Value) goja.Value {
		return a.vm.ToValue(state[*decoder](a, this, "TextDecoder.fatal").fatal)
	})
	a.getter(proto, "ignoreBOM", func(this goja.Value) goja.Value {
		return a.vm.ToValue(state[*decoder](a, this, "TextDecoder.ignoreBOM").ignoreBOM)
	})
	a.method(proto, "decode", 0, func(call goja.FunctionCall) goja.Value {
		d := state[*decoder](a, call.This, "TextDecoder.decode")
		var in []byte
		if v := call.Argument(0); !goja.IsUndefined(v) {
			b, ok := a.bufferSource(v)
			if !ok {
				panic(a.vm.NewTypeError("TextDecoder.decode: input must be an ArrayBuffer, a typed array or a DataView"))
			}
			in = b
		}
		stream := false
		if o, ok := call.Argument(1).(*goja.Object); ok {
			stream = o.Get("stream") != nil && o.Get("stream").ToBoolean()
		}
		if !d.doNotFlush {
			d.reset()
			d.bomSeen = false
		}
		d.doNotFlush = stream
		out, ok := d.decode(in, !stream, make([]rune, 0, len(in)))
		if !ok {
			d.reset()
			d.doNotFlush = false
			panic(a.vm.NewTypeError("TextDecoder.decode: the encoded data was not valid UTF-8"))
		}
		return a.vm.ToValue(string(out))
	})
	return ctor
}

// rangeError returns a RangeError to throw.
func (a *api) rangeError(format string, args ...any) *goja.Object {
	ctor := a.vm.GlobalObject().Get("RangeError").(*goja.Object)
	o, err := a.vm.New(ctor, a.vm.ToValue(fmt.Sprintf(format, args...)))
	if err != nil {
		panic(err)
	}
	return o
}
