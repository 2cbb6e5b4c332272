package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Ephemeral state (ETCD-DESIGN.md §5).
//
// The console's sessions, pending authorizations (OAuth state and PKCE
// verifier) and sign-in delays must be seen by every node that shares the
// store, survive a node's restart, and disappear on their own. They live in
// the space "ephemeral" under "KIND/HEX(SHA-256(NAME))": the name (a session
// id, an OAuth state) is never stored, only its hash. Each value is stored as
//
//	expiry (8 bytes, big-endian Unix nanoseconds) | seal(value, ad)
//	ad = "scriptrun ephemeral v1" 0x00 | stored key | expiry
//
// sealed with the master key (AES-256-GCM, as token secrets), so the value
// is secret, cannot be moved to another key, and its expiry cannot be
// extended without the key. A value past its expiry is never returned, on
// any backend. On etcd the key is also attached to a lease that deletes it
// soon after (ephemeral_etcd.go); on bbolt expired values are swept from
// time to time by writes (ephemeral_bolt.go).
//
// Expiry is judged by each node's clock: nodes whose clocks differ see a
// value expire that much apart.
const spaceEphemeral = "ephemeral"

const ephemeralAD = "scriptrun ephemeral v1\x00"

// Ephemeral keeps short-lived values that expire on their own, shared by
// every process using the store. It is safe for concurrent use. Keys are
// "kind/name": kind is a short lower-case word (session, oauth, signin),
// name any string, kept only as its SHA-256.
type Ephemeral struct {
	db *DB
	kv ephemeralKV
}

// ephemeralKV keeps the stored (encoded) values of ephemeral state. k is the
// full backend key; values are opaque except for their expiry prefix
// (expiryOf), which an implementation reads to treat an expired value as
// absent.
type ephemeralKV interface {
	// put stores v under k for ttl; with createOnly it fails with an error
	// wrapping ErrExists while an unexpired value is there.
	put(k string, v []byte, ttl time.Duration, createOnly bool) error
	// replace stores v under k for ttl only while an unexpired value is
	// there, else fails with an error wrapping ErrNotFound: a value
	// deleted meanwhile, on any host, stays deleted.
	replace(k string, v []byte, ttl time.Duration) error
	// get returns the value under k, nil when there is none.
	get(k string) ([]byte, error)
	// take removes k and returns the value it had (nil: none); of any
	// number of concurrent takers of one value, on any host, one gets it.
	take(k string) ([]byte, error)
	// del removes k; a missing key is no error.
	del(k string) error
	// list calls fn with every value whose key starts with prefix.
	list(prefix string, fn func(v []byte)) error
}

// ephemeralBackend is a backend that keeps ephemeral state natively (etcd:
// leases). A backend without it keeps it in ordinary keys, with the expiry
// checked on read and swept by writes (ephemeral_bolt.go).
type ephemeralBackend interface {
	ephemeral(now func() time.Time) ephemeralKV
}

// Ephemeral returns the store's ephemeral values. Keep the handle: it
// remembers leases and sweeps between calls.
func (db *DB) Ephemeral() *Ephemeral {
	if b, ok := db.kv.(ephemeralBackend); ok {
		return &Ephemeral{db: db, kv: b.ephemeral(db.now)}
	}
	return &Ephemeral{db: db, kv: newKVEphemeral(db.kv, db.now)}
}

// maxEphemeralValue bounds a value: ephemeral state is a few hundred bytes.
const maxEphemeralValue = 64 << 10

// storedKey checks key and returns the backend key it is kept under.
func storedKey(key string) (string, error) {
	kind, name, ok := strings.Cut(key, "/")
	if !ok || name == "" || kind == "" || len(kind) > 32 || strings.Trim(kind, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return "", fmt.Errorf("ephemeral key %q: want KIND/NAME with KIND of lower-case letters, digits and '-'", kindOf(key))
	}
	sum := sha256.Sum256([]byte(name))
	return key2(kind, hex.EncodeToString(sum[:])), nil
}

// key2 is the backend key of a hashed name of kind.
func key2(kind, hashed string) string { return key(spaceEphemeral, kind+"/"+hashed) }

// kindOf is what an error may show of a key: its kind, never its name.
func kindOf(key string) string {
	kind, _, ok := strings.Cut(key, "/")
	if !ok {
		return "…"
	}
	if len(kind) > 32 {
		kind = kind[:32] + "…"
	}
	return kind + "/…"
}

// PutTTL stores value under key until ttl from now. With createOnly it
// fails with an error wrapping ErrExists while an unexpired value is there
// (an id already taken); otherwise it replaces the value and its expiry.
func (e *Ephemeral) PutTTL(key string, value []byte, ttl time.Duration, createOnly bool) error {
	k, v, err := e.prepare(key, value, ttl)
	if err != nil {
		return err
	}
	if err := e.kv.put(k, v, ttl, createOnly); err != nil {
		return fmt.Errorf("store %s in %s: %w", kindOf(key), e.db.path, err)
	}
	return nil
}

// Replace stores value under key until ttl from now, only while an
// unexpired value is there; otherwise it fails with an error wrapping
// ErrNotFound. An update of a session so never brings back one that was
// ended (on any node) after it was read.
func (e *Ephemeral) Replace(key string, value []byte, ttl time.Duration) error {
	k, v, err := e.prepare(key, value, ttl)
	if err != nil {
		return err
	}
	if err := e.kv.replace(k, v, ttl); err != nil {
		return fmt.Errorf("replace %s in %s: %w", kindOf(key), e.db.path, err)
	}
	return nil
}

// prepare checks a write of value under key for ttl and returns the stored
// key and the sealed value.
func (e *Ephemeral) prepare(key string, value []byte, ttl time.Duration) (k string, v []byte, err error) {
	if k, err = storedKey(key); err != nil {
		return "", nil, err
	}
	switch {
	case ttl <= 0:
		return "", nil, fmt.Errorf("store %s: the time to live must be positive, not %s", kindOf(key), ttl)
	case len(value) > maxEphemeralValue:
		return "", nil, fmt.Errorf("store %s: the value has %d bytes, over the %d allowed", kindOf(key), len(value), maxEphemeralValue)
	}
	return k, e.seal(k, value, e.db.now().Add(ttl)), nil
}

// Get returns the value under key, or an error wrapping ErrNotFound when
// there is none or it expired.
func (e *Ephemeral) Get(key string) ([]byte, error) {
	k, err := storedKey(key)
	if err != nil {
		return nil, err
	}
	v, err := e.kv.get(k)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", kindOf(key), e.db.path, err)
	}
	return e.open(key, k, v)
}

// Take removes the value under key and returns it: of any number of callers
// taking one value, through any number of DBs on any hosts, exactly one
// gets it (an OAuth state is used once). A missing or expired value is an
// error wrapping ErrNotFound.
func (e *Ephemeral) Take(key string) ([]byte, error) {
	k, err := storedKey(key)
	if err != nil {
		return nil, err
	}
	v, err := e.kv.take(k)
	if err != nil {
		return nil, fmt.Errorf("take %s in %s: %w", kindOf(key), e.db.path, err)
	}
	return e.open(key, k, v)
}

// Delete removes the value under key; a missing one is no error.
func (e *Ephemeral) Delete(key string) error {
	k, err := storedKey(key)
	if err != nil {
		return err
	}
	if err := e.kv.del(k); err != nil {
		return fmt.Errorf("delete %s in %s: %w", kindOf(key), e.db.path, err)
	}
	return nil
}

// Count returns how many unexpired values of kind there are (tests,
// diagnostics).
func (e *Ephemeral) Count(kind string) (int, error) {
	if _, err := storedKey(kind + "/x"); err != nil {
		return 0, err
	}
	now := e.db.now()
	n := 0
	err := e.kv.list(key2(kind, ""), func(v []byte) {
		if exp, ok := expiryOf(v); ok && now.Before(exp) {
			n++
		}
	})
	if err != nil {
		return 0, fmt.Errorf("count %s values in %s: %w", kind, e.db.path, err)
	}
	return n, nil
}

func (e *Ephemeral) seal(k string, value []byte, exp time.Time) []byte {
	var x [8]byte
	binary.BigEndian.PutUint64(x[:], uint64(exp.UnixNano()))
	sealed := e.db.seal.seal(value, ephemeralData(k, x[:]))
	return append(x[:], sealed...)
}

// open checks and decrypts a stored value (nil: none).
func (e *Ephemeral) open(key, k string, v []byte) ([]byte, error) {
	exp, ok := expiryOf(v)
	switch {
	case v == nil:
		return nil, fmt.Errorf("%s: %w", kindOf(key), ErrNotFound)
	case !ok:
		return nil, fmt.Errorf("%w: ephemeral value %s in %s is unreadable: it is ignored; delete it or let it expire", ErrDamaged, kindOf(key), e.db.path)
	case !e.db.now().Before(exp):
		return nil, fmt.Errorf("%s: expired: %w", kindOf(key), ErrNotFound)
	}
	plain, err := e.db.seal.open(v[8:], ephemeralData(k, v[:8]))
	if err != nil {
		return nil, fmt.Errorf("%w: ephemeral value %s in %s fails authentication (changed without the master key, or moved from another key): it is ignored", ErrDamaged, kindOf(key), e.db.path)
	}
	return plain, nil
}

func ephemeralData(k string, exp []byte) []byte {
	ad := make([]byte, 0, len(ephemeralAD)+len(k)+len(exp))
	ad = append(append(append(ad, ephemeralAD...), k...), exp...)
	return ad
}

// expiryOf reads a stored value's expiry; false if it has none.
func expiryOf(v []byte) (time.Time, bool) {
	if len(v) < 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v[:8]))), true
}

// live reports whether v is a stored value that has not expired at now.
func live(v []byte, now time.Time) bool {
	exp, ok := expiryOf(v)
	return ok && now.Before(exp)
}
