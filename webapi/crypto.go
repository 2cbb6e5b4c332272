package webapi

import (
	"crypto/rand"
	"fmt"

	"github.com/dop251/goja"
)

// maxRandomBytes is the quota of getRandomValues (W3C WebCrypto 10.1.1).
const maxRandomBytes = 65536

// newCrypto builds the crypto global: getRandomValues, randomUUID and subtle.
func (a *api) newCrypto() goja.Value {
	c := a.vm.NewObject()
	a.method(c, "getRandomValues", 1, a.getRandomValues)
	a.method(c, "randomUUID", 0, func(goja.FunctionCall) goja.Value {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic(a.vm.NewGoError(fmt.Errorf("crypto.randomUUID: %w", err)))
		}
		b[6] = b[6]&0x0F | 0x40 // version 4
		b[8] = b[8]&0x3F | 0x80 // variant 10
		return a.vm.ToValue(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
	})
	_ = c.DefineDataProperty("subtle", a.newSubtle(), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_TRUE)
	_ = c.DefineDataPropertySymbol(goja.SymToStringTag, a.vm.ToValue("Crypto"), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	return c
}

// getRandomValues fills an integer typed array with random bytes and
// returns it. Other typed arrays throw TypeMismatchError, more than 65536
// bytes QuotaExceededError, anything else a TypeError.
func (a *api) getRandomValues(call goja.FunctionCall) goja.Value {
	o, _ := call.Argument(0).(*goja.Object)
	kind := ""
	if o != nil {
		kind = viewKind(o)
	}
	switch kind {
	case "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
		"Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array":
	case "":
		panic(a.vm.NewTypeError("crypto.getRandomValues: argument 1 must be an integer typed array"))
	default:
		panic(a.domError("TypeMismatchError", "crypto.getRandomValues: argument 1 must be an integer typed array, got a "+kind))
	}
	b, _ := a.bufferSource(o)
	if len(b) > maxRandomBytes {
		panic(a.domError("QuotaExceededError", fmt.Sprintf("crypto.getRandomValues: the array's byte length (%d) exceeds the number of bytes of entropy available (%d)", len(b), maxRandomBytes)))
	}
	if _, err := rand.Read(b); err != nil {
		panic(a.vm.NewGoError(fmt.Errorf("crypto.getRandomValues: %w", err)))
	}
	return o
}
