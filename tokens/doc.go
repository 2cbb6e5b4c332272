// Package tokens owns the life of outbound credentials: it looks a token up,
// refuses it when it cannot be used, refreshes it when it is about to expire,
// stores the new token set durably before anyone uses it, and signs requests.
// It also runs the authorization-code flow (with PKCE) that first fills a
// token, fetches the tokens of client_credentials providers (same flight,
// lock and persistence as a refresh), and revokes tokens (RFC 7009).
//
// # Token types
//
// Every type signs through Manager.Sign, after the same refusals (missing,
// inactive, no credential) and the same host binding: oauth2 (a provider's
// access token), basic, api-key (a header or a query parameter), bearer (a
// fixed token, optionally until an expiry: CodeExpired after it) and
// hmac-body (package hmacsig signs the method, path, time, nonce and body).
// The types other than oauth2 are static: an admin stores the credential
// as it is; there is nothing to refresh and nothing to authorize.
//
// # Binding
//
// A token with a base URL signs only requests to its scheme, host and port
// and, when the base URL has a path, to paths under it, compared segment by
// segment in every reading a server may take of the request path (dot
// segments, percent-encoding, encoded slashes, path parameters: binding.go).
// Anything else is refused with CodeHostMismatch before any refresh, and a
// request whose Host header names another host than its URL with
// CodeHostHeader. Manager.Permits answers the same question for the
// redirects bindings follow.
//
// golang.org/x/oauth2 speaks the protocol; this package owns the lifecycle
// around it, because x/oauth2 keeps a rotated refresh token only in memory and
// treats tokens as expired ten seconds early.
//
// # One refresh at a time
//
// Within a process, callers that need the same token refreshed share one
// flight. The flight takes the token's lock in the store (a lock file that
// excludes other processes too), reads the token again (another process may
// have refreshed it meanwhile), and only then calls the token endpoint. The
// flight runs on its own context: a script that times out while waiting does
// not abandon a refresh whose answer the provider has already committed to.
//
// # Messages
//
// A failure's message (Error.Msg, and the token's lastMessage) quotes the
// provider's error code and description, never a response body. Provider
// text goes through providerText: every secret of the request (the refresh
// or access token, the client secret, the code and PKCE verifier) is
// masked first, as sent, percent- or JSON-escaped, and any piece of 8 bytes
// or more of one; then controls are replaced and at most 1 KiB kept, cut
// between runes. Masking before the cut matters: a cut through an echoed
// secret would leave a piece the mask no longer matches. A piece shorter
// than 8 bytes is left alone, as such pieces turn up in any text.
//
// # The unavoidable window
//
// If the process dies after the provider answered a refresh and before the
// answer was committed to the database, a provider that rotates refresh
// tokens has invalidated the old one and the new one is gone. The window is
// kept to parsing one response and one bbolt commit; nothing else runs in it.
package tokens
