package webapi

import (
	"encoding/base64"
	"strings"

	"github.com/dop251/goja"
)

// atob decodes with the WHATWG forgiving-base64 decode: ASCII whitespace is
// ignored, padding may be left out, and anything else that is not base64
// throws InvalidCharacterError. The result is a binary string: one code unit
// per byte.
func (a *api) atob(call goja.FunctionCall) goja.Value {
	if len(call.Arguments) == 0 {
		panic(a.vm.NewTypeError("atob: 1 argument required, but only 0 present"))
	}
	b, ok := forgivingBase64Decode(call.Argument(0).String())
	if !ok {
		panic(a.domError("InvalidCharacterError", "atob: the string to be decoded is not correctly encoded"))
	}
	return a.vm.ToValue(latin1(b))
}

// btoa encodes a binary string; a code unit above U+00FF throws
// InvalidCharacterError.
func (a *api) btoa(call goja.FunctionCall) goja.Value {
	if len(call.Arguments) == 0 {
		panic(a.vm.NewTypeError("btoa: 1 argument required, but only 0 present"))
	}
	b, ok := binaryString(call.Argument(0).String())
	if !ok {
		panic(a.domError("InvalidCharacterError", "btoa: the string to be encoded contains characters outside of the Latin1 range"))
	}
	return a.vm.ToValue(base64.StdEncoding.EncodeToString(b))
}

// forgivingBase64Decode is https://infra.spec.whatwg.org/#forgiving-base64-decode.
func forgivingBase64Decode(s string) ([]byte, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\f', '\r', ' ':
			return -1
		}
		return r
	}, s)
	if len(s)%4 == 0 {
		s = strings.TrimSuffix(s, "=")
		s = strings.TrimSuffix(s, "=")
	}
	if len(s)%4 == 1 {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, false
		}
	}
	// The non-strict decoder discards the unused bits of the last
	// character, as the specification does.
	b, err := base64.RawStdEncoding.DecodeString(s)
	return b, err == nil
}

// latin1 turns bytes into a string of the code points U+0000–U+00FF.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// binaryString is the inverse of latin1; it fails on a code point above
// U+00FF.
func binaryString(s string) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			return nil, false
		}
		b = append(b, byte(r))
	}
	return b, true
}
