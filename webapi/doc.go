// Package webapi gives scripts the parts of the Web platform that
// integration scripts reach for besides fetch: atob and btoa, TextEncoder
// and TextDecoder, crypto (randomUUID, getRandomValues and a subset of
// crypto.subtle), DOMException, AbortController and AbortSignal,
// performance.now, queueMicrotask and structuredClone. Each behaves as the WHATWG or W3C specification says, as
// in Deno and Node 20 and later.
//
// Enable defines them on a runtime as globals that are built on first use,
// so a script that uses none of them pays nothing. It returns the Globals,
// whose Signal method lets the code running a request (package bindings)
// find the Go side of an AbortSignal: a channel closed when it aborts.
//
// # crypto.subtle
//
//	digest   SHA-1, SHA-256, SHA-384, SHA-512
//	importKey
//	  HMAC                         raw, jwk
//	  RSASSA-PKCS1-v1_5, RSA-PSS   pkcs8 and jwk private keys (sign); spki and jwk public keys (verify)
//	  ECDSA P-256, P-384           pkcs8 and jwk private keys; spki, jwk and raw public keys
//	  Ed25519                      pkcs8 and jwk (OKP) private keys; spki, jwk and raw public keys
//	sign, verify  with the algorithms above; ECDSA signatures in the IEEE P1363
//	              form (r||s) that WebCrypto uses, not ASN.1 DER
//
// Keys are CryptoKey objects whose material stays in Go: scripts see type,
// extractable, algorithm and usages, never the key bytes, unless the key
// was imported with extractable true and exportKey (raw, spki, pkcs8, jwk)
// is called. generateKey, encrypt, decrypt, deriveKey, deriveBits, wrapKey
// and unwrapKey are not offered: they reject with NotSupportedError.
//
// # Caveats
//
//   - crypto.subtle's promises are settled before the call returns, on the
//     runtime's goroutine: the work (an RSA signature takes about a
//     millisecond) is done while the script waits, as no other goroutine may
//     touch the runtime. Reactions still run as microtasks.
//   - Key material, the state of TextDecoders and the Go side of
//     AbortSignals that were given to a request and never aborted live as
//     long as the runtime, even after the script drops them: a run's
//     runtime is its own, but a long REPL session or a script that makes
//     such objects in a loop keeps them.
//   - queueMicrotask's callback runs as a promise reaction: an exception in it
//     is reported as an unhandled rejection, which fails a run like any other
//     uncaught error.
//   - TextDecoder knows UTF-8 only; other labels throw RangeError.
//   - AbortSignal.timeout runs on a Go timer and aborts through Host.Later,
//     so it does not keep a run alive. While the loop is busy (a synchronous
//     .send()), the signal's Done channel closes on time and the abort event
//     fires as soon as the request's failure is reported.
//   - An exception in an abort listener is reported through Host.Later as
//     an uncaught error, after abort() returns, as the DOM says.
//   - AbortSignal has the parts of EventTarget it needs (addEventListener
//     with once and signal, removeEventListener, dispatchEvent, onabort);
//     there is no EventTarget or Event global.
//   - Nothing here reads files, the environment or the process.
package webapi
