// Package store keeps scriptrun's providers and outbound tokens in a bbolt
// file, with every secret sealed by AES-256-GCM.
//
// A record is JSON: its public fields in clear, its secret fields (client
// secrets, access and refresh tokens, extra token-response fields, and the
// passwords, API keys, bearer tokens and HMAC API tokens and secrets of the
// other token types) in one sealed blob whose additional data names the
// record, so a sealed blob cannot be moved from one record to another. Fields
// are added with omitempty, so records written before a field existed read
// unchanged.
//
// # Several processes, one home
//
// bbolt lets one process at a time hold a file open for writing. A script, the
// REPL and `scriptrun serve` must share a home, so a DB never keeps the file
// open: every View and Update opens it, runs one transaction and closes it.
// Opens are serialised by a lock file beside the database (shared for View,
// exclusive for Update) polled in steps of at most 4 ms, so a waiting
// process gets the file soon after it is free rather than at bbolt's next
// 50 ms lock poll (bbolt's own lock is then never contended). LockToken gives the
// token manager a per-token lock that holds across processes, so that one
// refresh happens at a time.
//
// # Caveats
//
//   - Locks are flock(2) locks: Unix only, and not reliable on network file
//     systems.
//   - An open costs tens of microseconds; callers on hot paths cache what they
//     read (the token manager caches valid access tokens in memory).
package store
