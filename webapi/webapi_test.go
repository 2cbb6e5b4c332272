package webapi_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"embed"
	"math/big"
	"strings"
	"testing"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/webapi"
)

//go:embed testdata/*.js
var testdata embed.FS

// assertJS is put before every test script; function declarations are
// hoisted, so the helpers exist from the first line.
const assertJS = `
function assert(cond, msg) { if (!cond) throw new Error('assertion failed: ' + msg); }
function assertEq(got, want, msg) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error('assertion failed: ' + msg + ': got ' + g + ', want ' + w);
}
function assertThrows(f, name, msg) {
  try { f(); } catch (e) {
    if (e.name !== name) throw new Error('assertion failed: ' + msg + ': threw ' + e.name + ' (' + e.message + '), want ' + name);
    return e;
  }
  throw new Error('assertion failed: ' + msg + ': did not throw, want ' + name);
}
async function assertRejects(p, name, msg) {
  try { await p; } catch (e) {
    if (e.name !== name) throw new Error('assertion failed: ' + msg + ': rejected with ' + e.name + ' (' + e.message + '), want ' + name);
    return e;
  }
  throw new Error('assertion failed: ' + msg + ': fulfilled, want ' + name);
}
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));
const utf8 = (s) => new TextEncoder().encode(s);
const b64url = (s) => Uint8Array.from(Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/'))), (c) => c.charCodeAt(0));
`

// runJS runs a test script as the body of an async function in a runtime
// with the globals enabled, and fails t unless its promise is fulfilled.
// Every promise this package makes is settled on the runtime's goroutine
// during the call, so the promise is settled when RunScript returns.
func runJS(t *testing.T, vm *goja.Runtime, name string) {
	t.Helper()
	src, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vm.RunScript(name, assertJS+"(async () => {\n"+string(src)+"\n})()")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p, ok := v.Export().(*goja.Promise)
	if !ok {
		t.Fatalf("%s: got %T, want a promise", name, v.Export())
	}
	switch p.State() {
	case goja.PromiseStateRejected:
		r := p.Result()
		if o, ok := r.(*goja.Object); ok {
			if s := o.Get("stack"); s != nil {
				t.Fatalf("%s: %s", name, s)
			}
		}
		t.Fatalf("%s: %v", name, r)
	case goja.PromiseStatePending:
		t.Fatalf("%s: still pending; it waits on something that never settles", name)
	}
}

func newVM(t *testing.T) *goja.Runtime {
	t.Helper()
	vm := goja.New()
	webapi.Enable(vm, nil)
	return vm
}

func TestScripts(t *testing.T) {
	for _, name := range []string{"base64.js", "encoding.js", "crypto.js", "clone.js", "timing.js", "domexception.js", "abort.js"} {
		t.Run(strings.TrimSuffix(name, ".js"), func(t *testing.T) {
			runJS(t, newVM(t), name)
		})
	}
}

// TestSubtle runs the WebCrypto vectors, with keys made here for what the
// RFCs have no vector for (P-384 and RSA through pkcs8/spki) and Go's own
// verification of what JavaScript signed.
func TestSubtle(t *testing.T) {
	vm := newVM(t)
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der := func(b []byte, err error) goja.Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return vm.ToValue(vm.NewArrayBuffer(b))
	}
	fixtures := vm.NewObject()
	_ = fixtures.Set("ec384Private", der(x509.MarshalPKCS8PrivateKey(ec)))
	_ = fixtures.Set("ec384Public", der(x509.MarshalPKIXPublicKey(&ec.PublicKey)))
	_ = fixtures.Set("rsaPrivate", der(x509.MarshalPKCS8PrivateKey(rk)))
	_ = fixtures.Set("rsaPublic", der(x509.MarshalPKIXPublicKey(&rk.PublicKey)))
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_ = fixtures.Set("edPrivate", der(x509.MarshalPKCS8PrivateKey(edPriv)))
	_ = fixtures.Set("edPublic", der(x509.MarshalPKIXPublicKey(edPub)))
	// goVerifyP384 checks an r||s signature of SHA-384(data) with Go's ecdsa.
	_ = fixtures.Set("goVerifyP384", func(data, sig goja.ArrayBuffer) bool {
		b := sig.Bytes()
		if len(b) != 96 {
			return false
		}
		h := crypto384(data.Bytes())
		return ecdsa.Verify(&ec.PublicKey, h, new(big.Int).SetBytes(b[:48]), new(big.Int).SetBytes(b[48:]))
	})
	_ = vm.Set("fixtures", fixtures)
	runJS(t, vm, "subtle.js")
}

func crypto384(b []byte) []byte {
	h := sha512.Sum384(b)
	return h[:]
}
