// Package hmacsig signs HTTP requests with an API token and an API secret
// (scriptrun's "hmac-body" outbound tokens, Servicely's "HMAC Body") and
// verifies them on the receiving side.
//
// # The scheme, version 1
//
// The sender adds one header:
//
//	Authorization: HMAC-SHA256 token=<api token>, ts=<unix seconds>, nonce=<nonce>, sig=<hex>
//
// (HMAC-SHA512 for the SHA-512 variant). The signature is
//
//	sig = lower-case hex( HMAC-SHA-x( key = API secret (its UTF-8 bytes), message = canonical ) )
//
// where canonical is these seven lines joined by a single LF ("\n"), with no
// LF after the last one:
//
//	HMAC-SHA256                     the scheme, as in the header (fixes the algorithm)
//	<api token>                     as in token=
//	<ts>                            as in ts=: decimal Unix seconds
//	<nonce>                         as in nonce=
//	<METHOD>                        the request method as sent, e.g. POST
//	<request-target>                path and query exactly as on the request line, e.g. /v1/items?a=1&b=%20
//	<body hash>                     lower-case hex SHA-x of the body bytes (of "" when there is none)
//
// SHA-x is SHA-256 for HMAC-SHA256 and SHA-512 for HMAC-SHA512, both for the
// body hash and for the HMAC. Values:
//
//   - api token: 1 to 256 characters from A-Z a-z 0-9 . _ ~ + / = -
//   - ts: the sender's clock when signing, 1 to 19 decimal digits
//   - nonce: 16 to 128 characters from A-Z a-z 0-9 _ - ; scriptrun sends 16
//     random bytes in unpadded base64url (22 characters)
//   - sig: 64 (SHA-256) or 128 (SHA-512) hex digits
//
// Header grammar (RFC 9110 auth-scheme and auth-params): the scheme name
// (case-insensitive), one or more spaces, then name=value pairs separated by
// commas with optional spaces or tabs around them. Parameter names are
// case-insensitive; token, ts, nonce and sig must each appear exactly once;
// other parameters are ignored. A value is bare, or an RFC 9110
// quoted-string (scriptrun always sends bare values).
//
// # Verifying
//
// A receiver recomputes the body hash from the bytes it received and the
// signature from the canonical string, compares in constant time, and
// refuses a request whose ts is more than a few minutes (Verifier.MaxSkew,
// default 5) from its own clock or whose nonce it has seen before for that
// token: together they make every signed request usable once. The
// request-target must be the one the sender used: behind a proxy that
// rewrites paths, verify the original one. testdata/vectors.json holds
// worked examples, and requests that must be refused, for implementations
// in other languages.
//
// Signed: the method, the path and query, the body, the time and the nonce.
// Not signed: the host (token binding and TLS decide where a request goes,
// and proxies rewrite Host) and the other headers, such as Content-Type.
package hmacsig
