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
// # Token types
//
// TokenTypes (tokentype.go) is the one table of token types: for each, its
// settings and credential parts with their command-line flags, console
// fields, labels and file keys, and its validation. The command line, the
// console, `token show`, export and apply read it; package tokens adds one
// signing function per type. A new type is an entry there and a signer.
//
// # Validation
//
// The rules of providers and tokens live here, once. Provider.Validate and
// Token.Validate return every problem at once as FieldErrors, each naming
// its field by its export/apply key (tokenUrl, rejection.statuses,
// username) with a label and a message that never holds a secret; the
// command line shows each after its flag, the console next to its form
// field, apply on its document path. Tx.TokenWithProvider is the one read
// of a token with its provider.
//
// # Record authentication (schema 2)
//
// Encryption keeps secrets secret but not where they go: the token URL,
// base URL, type, scopes, expiry and a job's script are plain. So every
// provider, token, job, run request and the admin password record is stored
// as "hmac-sha256:MAC:JSON" (record.go): an HMAC-SHA256, with a key derived
// from the master key by HKDF (not the encryption key; salted with the
// home's random id, sealed in the key check), over the record's
// kind, its key and its whole JSON, so that fields added later are covered
// too. A record that fails is refused with a *RecordError (ErrDamaged)
// naming it and the fix; list reads go past it and report it
// (DamagedRecords); CheckRecords reads them all and reports every damaged
// one, as tests do when they end (store/storetest). A schema 1 file is migrated on its first open with the
// key, in one transaction; the sealed key check records the schema, so that
// setting the schema number back cannot get forged records migrated.
//
// Not authenticated, on purpose: runs, their output and index, the active
// run set (history: a forged run misinforms but runs and sends nothing); a
// job's scheduling state (LastScheduled only decides which past due times
// are recorded as missed, never what runs); the cron version counter (a
// hint to re-read); the schema number (checked against the sealed key
// check).
//
// Before bbolt maps the file, its meta pages are read and a file shorter
// than its high-water mark is refused as damaged (filecheck.go); a page
// fault under bbolt is turned into an error too.
//
// # Jobs
//
// Job.Check states a job's rules once: it returns every problem at once as
// FieldErrors, keyed as export and apply name the fields, for the
// console, the command line and apply to show next to their own names of
// them. What store cannot check itself (parse the schedule, compile the
// script) package cron hands in as JobChecks (cron.CheckJob); PutJob runs
// the rest. ReadJobScript is the one reader of a script file a job
// captures, and Job.ScriptFile the one comparison of that file with the
// captured source.
//
// # Reconnect links
//
// A reconnect link (link.go) lets someone other than the admin sign in
// for one oauth2 token. Only the SHA-256 of its 32-byte secret is stored,
// as the key of an authenticated record (kind "reconnect link"); it
// expires (5 minutes to 7 days), is claimed before the code exchange and
// given back if that fails, so one success uses it up, and is removed with
// its token.
//
// # Backends
//
// The record layer (model, validation, sealing, record MACs, key layout,
// trimming, sequences) is written once over an unexported backend
// interface (backend.go) of raw keys and bytes: View and Update closures
// over Get, List, Keys (no values), GetMany, Put, Delete and NextSequence. Each key is "space/name";
// the bbolt backend (bolt.go) keeps each space in a bucket of that name, so
// files written before the interface existed read unchanged. The etcd
// backend (etcd.go, over store/etcdkv; ETCD-DESIGN.md) implements the same
// interface with optimistic transactions: an Update's function may run
// more than once there, and must only write through its Tx and set
// variables it owns. It runs each View and Update in short attempts, so a
// leader's failover costs about one; a commit whose answer was lost is read
// back, and counted as done when the cluster holds what it wrote.
//
// # Fenced token writes
//
// LockToken returns a Lock, which on etcd is held by a lease and can be
// Lost while its holder still works. So a write decided under it is fenced
// on what was read: every token read carries its Revision (etcd's
// ModRevision; on bbolt a number from the tokens bucket's sequence, kept in
// the record under its MAC), and Tx.ReplaceToken writes only while the
// stored token still has it, else ErrConflict, which no retry turns into a
// write over the other writer's record.
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
//   - Authentication proves a record was written with the key for this home
//     (the MAC key is salted with the home's id), not that it is the latest:
//     the file, or a record in it, can be rolled back to an older authentic
//     state from a backup of the same home. The migration trusts the schema
//     1 file it finds.
package store
