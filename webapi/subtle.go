package webapi

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"hash"
	"math/big"
	"strings"

	"github.com/dop251/goja"
)

// key is the material of a CryptoKey and what the script declared about it.
type key struct {
	typ         string // "secret", "private" or "public"
	alg         string // normalised algorithm name: "HMAC", "RSASSA-PKCS1-v1_5", "RSA-PSS", "ECDSA"
	hash        string // HMAC and RSA: "SHA-256", …
	extractable bool
	usages      []string

	secret []byte
	priv   crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey
	pub    crypto.PublicKey
}

// hashOf returns the Go implementation of a digest WebCrypto names (ok
// false, and 0, for other names). This package's tables are switches and
// slices, not map literals, which would be built at every start.
func hashOf(name string) (h crypto.Hash, ok bool) {
	switch name {
	case "SHA-1":
		return crypto.SHA1, true
	case "SHA-256":
		return crypto.SHA256, true
	case "SHA-384":
		return crypto.SHA384, true
	case "SHA-512":
		return crypto.SHA512, true
	}
	return 0, false
}

func newHash(name string) func() hash.Hash {
	switch name {
	case "SHA-1":
		return sha1.New
	case "SHA-256":
		return sha256.New
	case "SHA-384":
		return sha512.New384
	}
	return sha512.New
}

// algorithmNames are the canonical names of the algorithms offered.
var algorithmNames = []string{"SHA-1", "SHA-256", "SHA-384", "SHA-512", "HMAC", "RSASSA-PKCS1-v1_5", "RSA-PSS", "ECDSA", "Ed25519"}

// canonicalAlgorithm returns the canonical form of a case-insensitive
// algorithm name (ok false for one not offered), as WebCrypto's "normalize
// an algorithm" does: the names compared in upper case.
func canonicalAlgorithm(name string) (canon string, ok bool) {
	upper := strings.ToUpper(name)
	for _, n := range algorithmNames {
		if strings.ToUpper(n) == upper {
			return n, true
		}
	}
	return "", false
}

// curveOf returns the named curve offered for ECDSA (nil for other names).
func curveOf(name string) elliptic.Curve {
	switch name {
	case "P-256":
		return elliptic.P256()
	case "P-384":
		return elliptic.P384()
	}
	return nil
}

// curveName is the inverse of curveOf.
func curveName(c elliptic.Curve) string {
	for _, n := range []string{"P-256", "P-384"} {
		if curveOf(n) == c {
			return n
		}
	}
	return ""
}

// newSubtle builds crypto.subtle. Every method returns a promise and
// reports every failure, including bad arguments, by rejecting it.
func (a *api) newSubtle() *goja.Object {
	s := a.vm.NewObject()
	_ = s.DefineDataPropertySymbol(goja.SymToStringTag, a.vm.ToValue("SubtleCrypto"), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	a.method(s, "digest", 2, a.promised(a.digest))
	a.method(s, "importKey", 5, a.promised(a.importKey))
	a.method(s, "sign", 3, a.promised(a.sign))
	a.method(s, "verify", 4, a.promised(a.verify))
	a.method(s, "exportKey", 2, a.promised(a.exportKey))
	for _, name := range []string{"encrypt", "decrypt", "generateKey", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"} {
		a.method(s, name, 0, a.promised(func(goja.FunctionCall) goja.Value {
			panic(a.domError("NotSupportedError", "crypto.subtle."+name+" is not supported by scriptrun"))
		}))
	}
	return s
}

// promised turns f into a function returning a promise settled with f's
// result, or rejected with what f panics with when that is a JavaScript
// value. Interrupts and other Go panics go through.
func (a *api) promised(f func(goja.FunctionCall) goja.Value) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		p, resolve, reject := a.vm.NewPromise()
		func() {
			defer func() {
				switch r := recover().(type) {
				case nil:
				case goja.Value:
					_ = reject(r)
				case *goja.Exception:
					_ = reject(r.Value())
				default:
					panic(r)
				}
			}()
			_ = resolve(f(call))
		}()
		return a.vm.ToValue(p)
	}
}

// data returns a copy of the bytes of a BufferSource argument, or throws a
// TypeError naming it.
func (a *api) data(v goja.Value, what string) []byte {
	b, ok := a.bufferSource(v)
	if !ok {
		panic(a.vm.NewTypeError("%s must be an ArrayBuffer, a typed array or a DataView", what))
	}
	return append([]byte(nil), b...)
}

// algorithm normalises an AlgorithmIdentifier (a name or an object with a
// name) and returns the canonical name and the object (nil for a string).
func (a *api) algorithm(v goja.Value, op string) (string, *goja.Object) {
	var name string
	o, _ := v.(*goja.Object)
	switch {
	case goja.IsString(v):
		name = v.String()
	case o != nil:
		n := o.Get("name")
		if n == nil || goja.IsUndefined(n) {
			panic(a.vm.NewTypeError("crypto.subtle.%s: the algorithm has no name", op))
		}
		name = n.String()
	default:
		panic(a.vm.NewTypeError("crypto.subtle.%s: the algorithm must be a string or an object with a name", op))
	}
	canon, ok := canonicalAlgorithm(name)
	if !ok {
		panic(a.domError("NotSupportedError", fmt.Sprintf("crypto.subtle.%s: unrecognized algorithm name %q", op, name)))
	}
	return canon, o
}

// hashMember reads the hash member of an algorithm object (a name or an
// object with a name) and checks it is a SHA digest.
func (a *api) hashMember(o *goja.Object, op string) string {
	if o == nil {
		panic(a.vm.NewTypeError("crypto.subtle.%s: the algorithm needs a hash", op))
	}
	v := o.Get("hash")
	if v == nil || goja.IsUndefined(v) {
		panic(a.vm.NewTypeError("crypto.subtle.%s: the algorithm needs a hash", op))
	}
	name, _ := a.algorithm(v, op)
	if _, ok := hashOf(name); !ok {
		panic(a.domError("NotSupportedError", fmt.Sprintf("crypto.subtle.%s: %s is not a hash", op, name)))
	}
	return name
}

// digest is crypto.subtle.digest(algorithm, data).
func (a *api) digest(call goja.FunctionCall) goja.Value {
	name, _ := a.algorithm(call.Argument(0), "digest")
	h, ok := hashOf(name)
	if !ok {
		panic(a.domError("NotSupportedError", "crypto.subtle.digest: "+name+" is not a digest"))
	}
	data := a.data(call.Argument(1), "crypto.subtle.digest: data")
	w := h.New()
	w.Write(data)
	return a.vm.ToValue(a.vm.NewArrayBuffer(w.Sum(nil)))
}

// importKey is crypto.subtle.importKey(format, keyData, algorithm, extractable, usages).
func (a *api) importKey(call goja.FunctionCall) goja.Value {
	format := call.Argument(0).String()
	alg, algObj := a.algorithm(call.Argument(2), "importKey")
	k := &key{alg: alg, extractable: call.Argument(3).ToBoolean()}
	k.usages = a.usages(call.Argument(4))
	keyData := call.Argument(1)
	var jwk *goja.Object
	switch format {
	case "raw", "pkcs8", "spki":
	case "jwk":
		o, ok := keyData.(*goja.Object)
		if !ok || isView(o) {
			panic(a.vm.NewTypeError("crypto.subtle.importKey: a jwk key must be an object"))
		}
		jwk = o
	default:
		panic(a.vm.NewTypeError("crypto.subtle.importKey: unknown format %q (want raw, pkcs8, spki or jwk)", format))
	}
	var err error
	switch alg {
	case "HMAC":
		k.typ = "secret"
		k.hash = a.hashMember(algObj, "importKey")
		err = a.importHMAC(k, format, keyData, jwk)
		if err == nil && algObj != nil {
			if l := algObj.Get("length"); l != nil && !goja.IsUndefined(l) {
				if n := l.ToInteger(); n > int64(len(k.secret))*8 || n <= int64(len(k.secret)-1)*8 {
					err = dataError("the length %d does not match a key of %d bytes", n, len(k.secret))
				}
			}
		}
		if err == nil && len(k.secret) == 0 {
			err = dataError("an HMAC key must not be empty")
		}
	case "RSASSA-PKCS1-v1_5", "RSA-PSS":
		k.hash = a.hashMember(algObj, "importKey")
		err = a.importRSA(k, format, keyData, jwk)
	case "ECDSA":
		var curve string
		if algObj != nil {
			if c := algObj.Get("namedCurve"); c != nil && !goja.IsUndefined(c) {
				curve = c.String()
			}
		}
		if curveOf(curve) == nil {
			panic(a.domError("NotSupportedError", fmt.Sprintf("crypto.subtle.importKey: ECDSA namedCurve %q is not supported (want P-256 or P-384)", curve)))
		}
		err = a.importEC(k, curve, format, keyData, jwk)
	case "Ed25519":
		err = a.importEd25519(k, format, keyData, jwk)
	default:
		panic(a.domError("NotSupportedError", "crypto.subtle.importKey: "+alg+" keys cannot be imported"))
	}
	if err != nil {
		var de *errData
		if ok := asDataError(err, &de); ok {
			panic(a.domError("DataError", "crypto.subtle.importKey: "+de.msg))
		}
		panic(a.vm.NewTypeError("crypto.subtle.importKey: %v", err))
	}
	allowed := map[string][]string{"secret": {"sign", "verify"}, "private": {"sign"}, "public": {"verify"}}[k.typ]
	for _, u := range k.usages {
		if !contains(allowed, u) {
			panic(a.domError("SyntaxError", fmt.Sprintf("crypto.subtle.importKey: usage %q is not allowed for a %s %s key", u, k.typ, alg)))
		}
	}
	if len(k.usages) == 0 && k.typ != "public" {
		panic(a.domError("SyntaxError", "crypto.subtle.importKey: usages must not be empty for a "+k.typ+" key"))
	}
	return a.cryptoKey(k)
}

// usages reads a sequence of KeyUsage strings.
func (a *api) usages(v goja.Value) []string {
	o, ok := v.(*goja.Object)
	if !ok {
		panic(a.vm.NewTypeError("crypto.subtle.importKey: keyUsages must be an array"))
	}
	var out []string
	valid := []string{"encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"}
	var list []string
	if err := a.vm.ExportTo(o, &list); err != nil {
		panic(a.vm.NewTypeError("crypto.subtle.importKey: keyUsages must be an array of strings"))
	}
	for _, u := range list {
		if !contains(valid, u) {
			panic(a.vm.NewTypeError("crypto.subtle.importKey: %q is not a key usage", u))
		}
		if !contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// errData is a key that cannot be read: WebCrypto's DataError.
type errData struct{ msg string }

func (e *errData) Error() string { return e.msg }

func dataError(format string, args ...any) error {
	return &errData{fmt.Sprintf(format, args...)}
}

func asDataError(err error, target **errData) bool {
	de, ok := err.(*errData)
	if ok {
		*target = de
	}
	return ok
}

// jwkString reads a string member of a JWK, "" when it is missing.
func jwkString(jwk *goja.Object, name string) string {
	v := jwk.Get(name)
	if v == nil || goja.IsUndefined(v) {
		return ""
	}
	return v.String()
}

// jwkBytes decodes a base64url member of a JWK.
func jwkBytes(jwk *goja.Object, name string) ([]byte, error) {
	s := jwkString(jwk, name)
	if s == "" {
		return nil, dataError("the jwk has no %q", name)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, dataError("the jwk's %q is not base64url", name)
	}
	return b, nil
}

// checkJWK applies the checks every JWK import makes: kty, use and
// key_ops against the usages, and ext against extractable.
func checkJWK(k *key, jwk *goja.Object, kty string) error {
	if got := jwkString(jwk, "kty"); got != kty {
		return dataError("the jwk's kty is %q, want %q", got, kty)
	}
	if use := jwkString(jwk, "use"); use != "" && use != "sig" && len(k.usages) > 0 {
		return dataError("the jwk's use is %q, want sig", use)
	}
	if ops := jwk.Get("key_ops"); ops != nil && !goja.IsUndefined(ops) {
		var list []string
		if o, ok := ops.(*goja.Object); ok {
			for _, x := range o.Keys() {
				list = append(list, o.Get(x).String())
			}
		}
		for _, u := range k.usages {
			if !contains(list, u) {
				return dataError("the jwk's key_ops do not include %q", u)
			}
		}
	}
	if ext := jwk.Get("ext"); ext != nil && !goja.IsUndefined(ext) && !ext.ToBoolean() && k.extractable {
		return dataError("the jwk is not extractable (ext: false) but extractable was asked for")
	}
	return nil
}

// jwkAlg checks the alg member of a JWK against what the algorithm implies.
func jwkAlg(jwk *goja.Object, want string) error {
	if got := jwkString(jwk, "alg"); got != "" && got != want {
		return dataError("the jwk's alg is %q, want %q", got, want)
	}
	return nil
}

func (a *api) importHMAC(k *key, format string, keyData goja.Value, jwk *goja.Object) error {
	switch format {
	case "raw":
		k.secret = a.data(keyData, "crypto.subtle.importKey: keyData")
		return nil
	case "jwk":
		if err := checkJWK(k, jwk, "oct"); err != nil {
			return err
		}
		b, err := jwkBytes(jwk, "k")
		if err != nil {
			return err
		}
		if err := jwkAlg(jwk, "HS"+strings.TrimPrefix(k.hash, "SHA-")); err != nil {
			return err
		}
		k.secret = b
		return nil
	}
	return fmt.Errorf("HMAC keys are imported as raw or jwk, not %s", format)
}

func (a *api) importRSA(k *key, format string, keyData goja.Value, jwk *goja.Object) error {
	switch format {
	case "pkcs8":
		p, err := x509.ParsePKCS8PrivateKey(a.data(keyData, "crypto.subtle.importKey: keyData"))
		if err != nil {
			return dataError("not a PKCS #8 private key: %v", err)
		}
		rk, ok := p.(*rsa.PrivateKey)
		if !ok {
			return dataError("the PKCS #8 key is a %T, not an RSA key", p)
		}
		k.typ, k.priv, k.pub = "private", rk, &rk.PublicKey
	case "spki":
		p, err := x509.ParsePKIXPublicKey(a.data(keyData, "crypto.subtle.importKey: keyData"))
		if err != nil {
			return dataError("not an SPKI public key: %v", err)
		}
		rk, ok := p.(*rsa.PublicKey)
		if !ok {
			return dataError("the SPKI key is a %T, not an RSA key", p)
		}
		k.typ, k.pub = "public", rk
	case "jwk":
		if err := checkJWK(k, jwk, "RSA"); err != nil {
			return err
		}
		prefix := "RS"
		if k.alg == "RSA-PSS" {
			prefix = "PS"
		}
		if err := jwkAlg(jwk, prefix+strings.TrimPrefix(k.hash, "SHA-")); err != nil {
			return err
		}
		nb, err := jwkBytes(jwk, "n")
		if err != nil {
			return err
		}
		eb, err := jwkBytes(jwk, "e")
		if err != nil {
			return err
		}
		e := new(big.Int).SetBytes(eb)
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return dataError("the jwk's public exponent is too large")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(e.Int64())}
		if jwkString(jwk, "d") == "" {
			k.typ, k.pub = "public", pub
			break
		}
		rk := &rsa.PrivateKey{PublicKey: *pub}
		for _, name := range []string{"d", "p", "q"} {
			b, err := jwkBytes(jwk, name)
			if err != nil {
				return err
			}
			if v := new(big.Int).SetBytes(b); name == "d" {
				rk.D = v
			} else {
				rk.Primes = append(rk.Primes, v)
			}
		}
		if err := rk.Validate(); err != nil {
			return dataError("the jwk is not a valid RSA private key: %v", err)
		}
		rk.Precompute()
		k.typ, k.priv, k.pub = "private", rk, &rk.PublicKey
	default:
		return fmt.Errorf("RSA keys are imported as pkcs8, spki or jwk, not %s", format)
	}
	if k.pub.(*rsa.PublicKey).N.BitLen() < 1024 {
		return dataError("RSA keys shorter than 1024 bits are refused")
	}
	return nil
}

func (a *api) importEC(k *key, curve, format string, keyData goja.Value, jwk *goja.Object) error {
	c := curveOf(curve)
	check := func(pub *ecdsa.PublicKey) error {
		if pub.Curve != c {
			return dataError("the key is on %s, not %s", curveName(pub.Curve), curve)
		}
		return nil
	}
	k.hash = curve // kept for the algorithm's namedCurve
	switch format {
	case "pkcs8":
		p, err := x509.ParsePKCS8PrivateKey(a.data(keyData, "crypto.subtle.importKey: keyData"))
		if err != nil {
			return dataError("not a PKCS #8 private key: %v", err)
		}
		ek, ok := p.(*ecdsa.PrivateKey)
		if !ok {
			return dataError("the PKCS #8 key is a %T, not an EC key", p)
		}
		k.typ, k.priv, k.pub = "private", ek, &ek.PublicKey
		return check(&ek.PublicKey)
	case "spki":
		p, err := x509.ParsePKIXPublicKey(a.data(keyData, "crypto.subtle.importKey: keyData"))
		if err != nil {
			return dataError("not an SPKI public key: %v", err)
		}
		ek, ok := p.(*ecdsa.PublicKey)
		if !ok {
			return dataError("the SPKI key is a %T, not an EC key", p)
		}
		k.typ, k.pub = "public", ek
		return check(ek)
	case "raw":
		b := a.data(keyData, "crypto.subtle.importKey: keyData")
		pub, err := ecdsa.ParseUncompressedPublicKey(c, b)
		if err != nil {
			return dataError("not an uncompressed point on %s", curve)
		}
		k.typ, k.pub = "public", pub
		return nil
	case "jwk":
		if err := checkJWK(k, jwk, "EC"); err != nil {
			return err
		}
		if crv := jwkString(jwk, "crv"); crv != curve {
			return dataError("the jwk's crv is %q, not %s", crv, curve)
		}
		size := (c.Params().BitSize + 7) / 8
		xb, err := jwkBytes(jwk, "x")
		if err != nil {
			return err
		}
		yb, err := jwkBytes(jwk, "y")
		if err != nil {
			return err
		}
		if len(xb) != size || len(yb) != size {
			return dataError("the jwk's x and y must be %d bytes", size)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, xb...), yb...))
		if err != nil {
			return dataError("the jwk's point is not on %s", curve)
		}
		if jwkString(jwk, "d") == "" {
			k.typ, k.pub = "public", pub
			return nil
		}
		db, err := jwkBytes(jwk, "d")
		if err != nil {
			return err
		}
		if len(db) != size {
			return dataError("the jwk's d must be %d bytes", size)
		}
		priv, err := ecdsa.ParseRawPrivateKey(c, db)
		if err != nil || !priv.PublicKey.Equal(pub) {
			return dataError("the jwk's d does not match its x and y")
		}
		k.typ, k.priv, k.pub = "private", priv, &priv.PublicKey
		return nil
	}
	return fmt.Errorf("EC keys are imported as pkcs8, spki, raw or jwk, not %s", format)
}

// importEd25519 reads Ed25519 keys (RFC 8032; JWK as RFC 8037 writes them).
func (a *api) importEd25519(k *key, format string, keyData goja.Value, jwk *goja.Object) error {
	switch format {
	case "raw":
		b := a.data(keyData, "crypto.subtle.importKey: keyData")
		if len(b) != ed25519.PublicKeySize {
			return dataError("a raw Ed25519 public key is %d bytes, got %d", ed25519.PublicKeySize, len(b))
		}
		k.typ, k.pub = "public", ed25519.PublicKey(b)
	case "pkcs8":
		p, err := x509.ParsePKCS8PrivateKey(a.data(keyData, "crypto.subtle.importKey: keyData"))
		if err != nil {
			return dataError("not a PKCS #8 private key: %v", err)
		}
		ek, ok := p.(ed25519.PrivateKey)
		if !ok {
			return dataError("the PKCS #8 key is a %T, not an Ed25519 key", p)
		}
		k.typ, k.priv, k.pub = "private", ek, ek.Public()
	case "spki":
		p, err := x509.ParsePKIXPublicKey(a.data(keyData, "crypto.subtle.importKey: keyData"))
		if err != nil {
			return dataError("not an SPKI public key: %v", err)
		}
		ek, ok := p.(ed25519.PublicKey)
		if !ok {
			return dataError("the SPKI key is a %T, not an Ed25519 key", p)
		}
		k.typ, k.pub = "public", ek
	case "jwk":
		if err := checkJWK(k, jwk, "OKP"); err != nil {
			return err
		}
		if crv := jwkString(jwk, "crv"); crv != "Ed25519" {
			return dataError("the jwk's crv is %q, not Ed25519", crv)
		}
		if alg := jwkString(jwk, "alg"); alg != "" && alg != "EdDSA" && alg != "Ed25519" {
			return dataError("the jwk's alg is %q, want EdDSA or Ed25519", alg)
		}
		x, err := jwkBytes(jwk, "x")
		if err != nil {
			return err
		}
		if len(x) != ed25519.PublicKeySize {
			return dataError("the jwk's x must be %d bytes", ed25519.PublicKeySize)
		}
		if jwkString(jwk, "d") == "" {
			k.typ, k.pub = "public", ed25519.PublicKey(x)
			return nil
		}
		d, err := jwkBytes(jwk, "d")
		if err != nil {
			return err
		}
		if len(d) != ed25519.SeedSize {
			return dataError("the jwk's d must be %d bytes", ed25519.SeedSize)
		}
		priv := ed25519.NewKeyFromSeed(d)
		if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(x)) {
			return dataError("the jwk's d does not match its x")
		}
		k.typ, k.priv, k.pub = "private", priv, priv.Public()
	default:
		return fmt.Errorf("Ed25519 keys are imported as raw, pkcs8, spki or jwk, not %s", format)
	}
	return nil
}

// cryptoKey wraps k in a CryptoKey object.
func (a *api) cryptoKey(k *key) *goja.Object {
	if a.keyProto == nil {
		ctor := a.vm.ToValue(func(goja.ConstructorCall) *goja.Object {
			panic(a.vm.NewTypeError("Illegal constructor: CryptoKey objects come from crypto.subtle.importKey"))
		}).(*goja.Object)
		_ = ctor.DefineDataProperty("name", a.vm.ToValue("CryptoKey"), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
		a.keyProto = ctor.Get("prototype").(*goja.Object)
		_ = a.keyProto.DefineDataPropertySymbol(goja.SymToStringTag, a.vm.ToValue("CryptoKey"), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
		for _, name := range []string{"type", "extractable", "algorithm", "usages"} {
			name := name
			a.getter(a.keyProto, name, func(this goja.Value) goja.Value {
				k := state[*key](a, this, "CryptoKey."+name)
				switch name {
				case "type":
					return a.vm.ToValue(k.typ)
				case "extractable":
					return a.vm.ToValue(k.extractable)
				case "usages":
					u := make([]any, len(k.usages))
					for i, s := range k.usages {
						u[i] = s
					}
					return a.vm.NewArray(u...)
				}
				return a.keyAlgorithm(k)
			})
		}
	}
	o := a.vm.NewObject()
	_ = o.SetPrototype(a.keyProto)
	a.objects[o] = k
	return o
}

// keyAlgorithm is the KeyAlgorithm dictionary a CryptoKey reports.
func (a *api) keyAlgorithm(k *key) goja.Value {
	alg := a.vm.NewObject()
	_ = alg.Set("name", k.alg)
	hashObj := func() *goja.Object {
		h := a.vm.NewObject()
		_ = h.Set("name", k.hash)
		return h
	}
	switch k.alg {
	case "HMAC":
		_ = alg.Set("hash", hashObj())
		_ = alg.Set("length", len(k.secret)*8)
	case "ECDSA":
		_ = alg.Set("namedCurve", k.hash)
	case "Ed25519":
	default:
		pub := k.pub.(*rsa.PublicKey)
		_ = alg.Set("hash", hashObj())
		_ = alg.Set("modulusLength", pub.N.BitLen())
		_ = alg.Set("publicExponent", a.uint8Array(big.NewInt(int64(pub.E)).Bytes()))
	}
	return alg
}

// signingKey checks the key argument of sign or verify: a CryptoKey of
// the algorithm named, allowing the usage.
func (a *api) signingKey(alg string, v goja.Value, usage string) *key {
	o, _ := v.(*goja.Object)
	k, ok := a.objects[o].(*key)
	if o == nil || !ok {
		panic(a.vm.NewTypeError("crypto.subtle.%s: key must be a CryptoKey", usage))
	}
	if k.alg != alg {
		panic(a.domError("InvalidAccessError", fmt.Sprintf("crypto.subtle.%s: the key is a %s key, not %s", usage, k.alg, alg)))
	}
	if !contains(k.usages, usage) {
		panic(a.domError("InvalidAccessError", fmt.Sprintf("crypto.subtle.%s: the key's usages do not include %q", usage, usage)))
	}
	return k
}

// signHash is the hash a signature uses: the one ECDSA names in the
// call, or the key's for HMAC and RSA.
func (a *api) signHash(alg string, algObj *goja.Object, k *key, op string) crypto.Hash {
	if alg == "ECDSA" {
		h, _ := hashOf(a.hashMember(algObj, op))
		return h
	}
	h, _ := hashOf(k.hash)
	return h
}

// sign is crypto.subtle.sign(algorithm, key, data).
func (a *api) sign(call goja.FunctionCall) goja.Value {
	alg, algObj := a.algorithm(call.Argument(0), "sign")
	k := a.signingKey(alg, call.Argument(1), "sign")
	data := a.data(call.Argument(2), "crypto.subtle.sign: data")
	h := a.signHash(alg, algObj, k, "sign")
	sig, err := a.signWith(alg, algObj, k, h, data)
	if err != nil {
		panic(a.domError("OperationError", "crypto.subtle.sign: "+err.Error()))
	}
	return a.vm.ToValue(a.vm.NewArrayBuffer(sig))
}

func (a *api) signWith(alg string, algObj *goja.Object, k *key, h crypto.Hash, data []byte) ([]byte, error) {
	switch alg {
	case "HMAC":
		m := hmac.New(newHash(k.hash), k.secret)
		m.Write(data)
		return m.Sum(nil), nil
	case "Ed25519":
		return ed25519.Sign(k.priv.(ed25519.PrivateKey), data), nil
	}
	w := h.New()
	w.Write(data)
	sum := w.Sum(nil)
	switch alg {
	case "RSASSA-PKCS1-v1_5":
		return rsa.SignPKCS1v15(rand.Reader, k.priv.(*rsa.PrivateKey), h, sum)
	case "RSA-PSS":
		return rsa.SignPSS(rand.Reader, k.priv.(*rsa.PrivateKey), h, sum, &rsa.PSSOptions{SaltLength: a.saltLength(algObj), Hash: h})
	}
	ek := k.priv.(*ecdsa.PrivateKey)
	r, s, err := ecdsa.Sign(rand.Reader, ek, sum)
	if err != nil {
		return nil, err
	}
	size := (ek.Curve.Params().BitSize + 7) / 8
	sig := make([]byte, 2*size)
	r.FillBytes(sig[:size])
	s.FillBytes(sig[size:])
	return sig, nil
}

// saltLength reads RSA-PSS's required saltLength.
func (a *api) saltLength(algObj *goja.Object) int {
	var v goja.Value
	if algObj != nil {
		v = algObj.Get("saltLength")
	}
	if v == nil || goja.IsUndefined(v) {
		panic(a.vm.NewTypeError("crypto.subtle: RSA-PSS needs a saltLength"))
	}
	n := v.ToInteger()
	if n < 0 || n > 1<<16 {
		panic(a.vm.NewTypeError("crypto.subtle: RSA-PSS saltLength %d is out of range", n))
	}
	if n == 0 {
		// To Go's rsa, 0 means "any length" (verify) or "as long as fits"
		// (sign); to WebCrypto it means no salt, which Go cannot do.
		panic(a.domError("NotSupportedError", "crypto.subtle: RSA-PSS with saltLength 0 is not supported"))
	}
	return int(n)
}

// verify is crypto.subtle.verify(algorithm, key, signature, data).
func (a *api) verify(call goja.FunctionCall) goja.Value {
	alg, algObj := a.algorithm(call.Argument(0), "verify")
	k := a.signingKey(alg, call.Argument(1), "verify")
	sig := a.data(call.Argument(2), "crypto.subtle.verify: signature")
	data := a.data(call.Argument(3), "crypto.subtle.verify: data")
	h := a.signHash(alg, algObj, k, "verify")
	switch alg {
	case "HMAC":
		m := hmac.New(newHash(k.hash), k.secret)
		m.Write(data)
		return a.vm.ToValue(hmac.Equal(m.Sum(nil), sig))
	case "Ed25519":
		return a.vm.ToValue(len(sig) == ed25519.SignatureSize && ed25519.Verify(k.pub.(ed25519.PublicKey), data, sig))
	}
	w := h.New()
	w.Write(data)
	sum := w.Sum(nil)
	switch alg {
	case "RSASSA-PKCS1-v1_5":
		return a.vm.ToValue(rsa.VerifyPKCS1v15(k.pub.(*rsa.PublicKey), h, sum, sig) == nil)
	case "RSA-PSS":
		return a.vm.ToValue(rsa.VerifyPSS(k.pub.(*rsa.PublicKey), h, sum, sig, &rsa.PSSOptions{SaltLength: a.saltLength(algObj), Hash: h}) == nil)
	}
	pub := k.pub.(*ecdsa.PublicKey)
	size := (pub.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return a.vm.ToValue(false)
	}
	r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
	return a.vm.ToValue(ecdsa.Verify(pub, sum, r, s))
}

// exportKey is crypto.subtle.exportKey(format, key): only for a key
// imported with extractable true, so key material leaves Go only when the
// script asked for that twice.
func (a *api) exportKey(call goja.FunctionCall) goja.Value {
	format := call.Argument(0).String()
	o, _ := call.Argument(1).(*goja.Object)
	k, ok := a.objects[o].(*key)
	if o == nil || !ok {
		panic(a.vm.NewTypeError("crypto.subtle.exportKey: key must be a CryptoKey"))
	}
	if !k.extractable {
		panic(a.domError("InvalidAccessError", "crypto.subtle.exportKey: the key is not extractable"))
	}
	wrongType := func() {
		panic(a.domError("InvalidAccessError", fmt.Sprintf("crypto.subtle.exportKey: a %s %s key cannot be exported as %s", k.typ, k.alg, format)))
	}
	buffer := func(b []byte, err error) goja.Value {
		if err != nil {
			panic(a.domError("OperationError", "crypto.subtle.exportKey: "+err.Error()))
		}
		return a.vm.ToValue(a.vm.NewArrayBuffer(b))
	}
	switch format {
	case "raw":
		switch {
		case k.alg == "HMAC":
			return buffer(append([]byte(nil), k.secret...), nil)
		case k.typ == "public" && k.alg == "ECDSA":
			return buffer(k.pub.(*ecdsa.PublicKey).Bytes())
		case k.typ == "public" && k.alg == "Ed25519":
			return buffer(append([]byte(nil), k.pub.(ed25519.PublicKey)...), nil)
		}
	case "spki":
		if k.typ == "public" {
			return buffer(x509.MarshalPKIXPublicKey(k.pub))
		}
	case "pkcs8":
		if k.typ == "private" {
			return buffer(x509.MarshalPKCS8PrivateKey(k.priv))
		}
	case "jwk":
		return a.exportJWK(k)
	default:
		panic(a.vm.NewTypeError("crypto.subtle.exportKey: unknown format %q (want raw, pkcs8, spki or jwk)", format))
	}
	wrongType()
	return nil
}

// exportJWK writes k as a JSON Web Key (RFC 7517, 7518, 8037).
func (a *api) exportJWK(k *key) goja.Value {
	j := a.vm.NewObject()
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	set := func(name string, v any) { _ = j.Set(name, v) }
	switch k.alg {
	case "HMAC":
		set("kty", "oct")
		set("k", b64(k.secret))
		set("alg", "HS"+strings.TrimPrefix(k.hash, "SHA-"))
	case "RSASSA-PKCS1-v1_5", "RSA-PSS":
		pub := k.pub.(*rsa.PublicKey)
		set("kty", "RSA")
		prefix := "RS"
		if k.alg == "RSA-PSS" {
			prefix = "PS"
		}
		set("alg", prefix+strings.TrimPrefix(k.hash, "SHA-"))
		set("n", b64(pub.N.Bytes()))
		set("e", b64(big.NewInt(int64(pub.E)).Bytes()))
		if priv, ok := k.priv.(*rsa.PrivateKey); ok {
			priv.Precompute()
			set("d", b64(priv.D.Bytes()))
			set("p", b64(priv.Primes[0].Bytes()))
			set("q", b64(priv.Primes[1].Bytes()))
			set("dp", b64(priv.Precomputed.Dp.Bytes()))
			set("dq", b64(priv.Precomputed.Dq.Bytes()))
			set("qi", b64(priv.Precomputed.Qinv.Bytes()))
		}
	case "ECDSA":
		point, err := k.pub.(*ecdsa.PublicKey).Bytes()
		if err != nil {
			panic(a.domError("OperationError", "crypto.subtle.exportKey: "+err.Error()))
		}
		size := (len(point) - 1) / 2
		set("kty", "EC")
		set("crv", k.hash)
		set("x", b64(point[1:1+size]))
		set("y", b64(point[1+size:]))
		if priv, ok := k.priv.(*ecdsa.PrivateKey); ok {
			d, err := priv.Bytes()
			if err != nil {
				panic(a.domError("OperationError", "crypto.subtle.exportKey: "+err.Error()))
			}
			set("d", b64(d))
		}
	case "Ed25519":
		set("kty", "OKP")
		set("crv", "Ed25519")
		set("x", b64(k.pub.(ed25519.PublicKey)))
		if priv, ok := k.priv.(ed25519.PrivateKey); ok {
			set("d", b64(priv.Seed()))
		}
	}
	ops := make([]any, len(k.usages))
	for i, u := range k.usages {
		ops[i] = u
	}
	set("key_ops", a.vm.NewArray(ops...))
	set("ext", true)
	return j
}
