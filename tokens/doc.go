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
// # The shape of a signed request
//
// As in x/oauth2 (Transport, reuseTokenSource, tokenRefresher,
// retrieveToken), each layer is short and wraps the next:
//
//	Manager.Sign       manager.go   cached token (2 s) or one shared store read; refusals; host checks
//	decide             decide.go    the policy: use, keep, refresh, fetch, reload, refuse or fail
//	Manager.renew      refresh.go   one flight per token in this process, detached from the caller
//	renewWithTokenLock refresh.go   under the token's file lock: re-read, decide, call, save
//	tokenCall          endpoint.go  the x/oauth2 request, raw answer kept for extras and expires_in
//
// # The policy
//
// decide(token, provider, reason, now) is the one answer to "sign with it,
// renew it, or refuse it?", for every type and every reason a token is
// asked for: due (a request is being signed), forced (`token refresh`) and
// rejected (an API refused the access token). It is pure, so callers ask it
// before taking any lock, the flight asks it again on what it re-read under
// the lock, and after a failed call it says whether the old access token may
// still sign (keep: a failure that may pass, before the token expires;
// failures back off exponentially meanwhile, and no sooner than a 429 or
// 503's Retry-After, at most an hour; see NextAttempt).
//
// # One refresh at a time
//
// Within a process, callers that need the same token refreshed share one
// flight (x/sync/singleflight; store reads on a cache miss are shared the
// same way). The flight takes the token's lock in the store (a lock file
// that excludes other processes too), reads the token again (another process
// may have refreshed it meanwhile), and only then calls the token endpoint.
// The flight runs on its own context: a script that times out while waiting
// does not abandon a refresh whose answer the provider has already committed
// to, and Close waits for flights in progress.
//
// On etcd the token's lock is a lease that a stalled holder can lose while
// its call is in flight, so the lock only saves others a call; the answer
// is stored fenced on the token as read (store.Tx.ReplaceToken). If the
// fence holds it is stored even after the lock was lost (EventLockLost):
// the provider has already rotated. If another process stored a new
// credential first, the answer is dropped (EventReplaySuspected, "possible
// refresh-token replay") and the flight reads the token and decides again.
// Other changes meanwhile (a last-use time, an admin's edit) keep the
// credential as read: the answer is written over them.
//
// Two locks, named apart: the token's store lock (store.LockToken, taken
// by the functions named ...WithTokenLock, and said in the comment of every
// function called under it) and Manager.mu, a mutex that guards the cache
// only and is never held across a store access or a call.
//
// # Dead refresh tokens
//
// A refresh refused with invalid_grant, or with any 400 whose error is
// neither the client's (invalid_client, unauthorized_client) nor transient
// (temporarily_unavailable, server_error, slow_down), means the refresh
// token is dead: dex, for one, answers invalid_request for one that expired
// from inactivity, was reused or did not survive a restart. The token moves
// to reauth_required under its lock, so no process sends that refresh token
// again. Other failures leave it authorized.
//
// # Refused access tokens
//
// An API that refuses an access token the manager believed valid (revoked,
// expired early, rotated by another client) makes bindings call Rejected,
// which renews the token unless another caller already has (decide, reason
// rejected, compares the refused access token with the stored one), so a
// burst of refusals costs one refresh; bindings then retry once. Which
// answers are refusals is the provider's to say (store.Rejection), and
// Manager.Rejects answers bindings for each signed response:
//
//   - by default a 401 alone, as RFC 6750 says; a provider may list other
//     statuses instead (Django OAuth Toolkit behind Django REST framework
//     answers 403: 401,403);
//   - a provider may add a body pattern for APIs that answer a refused token
//     with a success (Marketo: 200 with error 601 or 602). It is searched
//     only in answers whose status the provider names (200 by default), only
//     in their first store.RejectionPeekBytes (4 KiB), and it is an RE2
//     expression (no backtracking) of at most 256 bytes and 100 compiled
//     instructions that must not match an empty body: whatever an API
//     sends, one search is bounded (4 KiB × 100 steps, about 3 ms for the
//     worst pattern; well under a microsecond for an error-code pattern),
//     and no answer can make every call a refusal by being empty.
//
// The rule is compiled once per cached entry. For the default rule Rejects
// reads the cache and allocates nothing, and bindings read nothing of the
// body; only for a status with a body rule does bindings read the start of
// the body (and hand it back to the script with the rest). A static
// credential's refusal only drops its cached copy (decide: reload), since
// there is nothing to refresh.
//
// # Events
//
// Options.OnEvent receives an Event for every outcome (refreshed, fetched,
// authorized, revoked, each failure, reauth_required, an API's rejection),
// with the token's name, provider, the endpoint's duration and a failure's
// code and message, never a secret. The Manager's log records are written
// from the same events, so metrics need not parse them.
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
