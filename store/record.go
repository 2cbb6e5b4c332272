package store

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// Record authentication (schema 2).
//
// Encryption keeps secrets secret, but where a secret goes (token URL, base
// URL, type, scopes) and what runs (a job's script) are plain fields: anyone
// who can write scriptrun.db could change them. So every record that decides
// where a credential goes or what runs is stored as
//
//	hmac-sha256:MAC:JSON
//
// where JSON is the record exactly as before and MAC (43 characters of
// unpadded standard base64) is
//
//	HMAC-SHA256(macKey, "scriptrun record" 0x00 | uvarint(len(kind)) kind | uvarint(len(key)) key | JSON)
//	macKey = HKDF-SHA256(secret: master key, salt: home id, info: "scriptrun record authentication v1")
//
// kind is the record's kind ("provider", "token", "job", "run request",
// "admin password") and key is its key in the store (the name; a run
// request's 8-byte big-endian id). The MAC covers the whole stored record, so
// fields added later are covered without any change here, and it names the
// record, so a record cannot be moved to another name or kind. The MAC key
// is separate from the encryption key (the master key itself), derived so
// that one key can never be used for the other's purpose, and salted with
// the home's random 16-byte id (sealed in the key check, written when the
// file is created or migrated), so a record cannot be copied from another
// home that uses the same master key. The encoding is a
// byte string with nothing bbolt-specific in it: any store keeping values
// under keys can carry it.
const recordPrefix = "hmac-sha256:"

// Kinds of authenticated records.
const (
	kindProvider   = "provider"
	kindToken      = "token"
	kindJob        = "job"
	kindRunRequest = "run request"
	kindAdmin      = "admin password"
)

// authenticatedBuckets lists the buckets whose every value is an
// authenticated record, with the kind their records are. Runs, their output,
// the run index, the active-run set, the jobs' scheduling state and the cron
// version counter are not in it: they are history and hints (see doc.go).
// The names are converted here, not copied from bucketProviders and the
// rest: a copy of another variable would make it init work.
var authenticatedBuckets = []struct {
	bucket []byte
	kind   string
}{
	{[]byte(spaceProviders), kindProvider},
	{[]byte(spaceTokens), kindToken},
	{[]byte(spaceCronJobs), kindJob},
	{[]byte(spaceCronRequests), kindRunRequest},
	{[]byte(spaceAdmin), kindAdmin},
}

const (
	macSize    = sha256.Size
	macTextLen = 43 // base64.RawStdEncoding.EncodedLen(macSize)
	headerLen  = len(recordPrefix) + macTextLen + 1
	macKeyInfo = "scriptrun record authentication v1"
)

// recordMAC computes and checks record MACs. It is safe for concurrent use.
type recordMAC struct {
	pool sync.Pool // of *macState
}

// macState is a hash keyed with the MAC key, reset before use, and a
// buffer for what is hashed before the body and for the sum, so that a
// MAC allocates nothing.
type macState struct {
	h   hash.Hash
	buf []byte
}

func newRecordMAC(master, homeID []byte) (*recordMAC, error) {
	key, err := hkdf.Key(sha256.New, master, homeID, macKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive the record authentication key: %w", err)
	}
	m := &recordMAC{}
	m.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return m, nil
}

func (m *recordMAC) sum(kind string, key, body []byte) [macSize]byte {
	s := m.pool.Get().(*macState)
	s.h.Reset()
	b := append(s.buf[:0], "scriptrun record\x00"...)
	b = binary.AppendUvarint(b, uint64(len(kind)))
	b = append(b, kind...)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	s.h.Write(b)
	s.h.Write(body)
	var out [macSize]byte
	s.buf = s.h.Sum(b[:0])
	copy(out[:], s.buf)
	m.pool.Put(s)
	return out
}

// encode returns the stored form of body, the JSON of the record of that
// kind under key.
func (m *recordMAC) encode(kind string, key, body []byte) []byte {
	sum := m.sum(kind, key, body)
	out := make([]byte, 0, headerLen+len(body))
	out = append(out, recordPrefix...)
	out = base64.RawStdEncoding.AppendEncode(out, sum[:])
	out = append(out, ':')
	return append(out, body...)
}

var (
	errNoMAC  = errors.New("is not authenticated (it has no MAC: written by an older scriptrun after the upgrade, or by someone without the master key)")
	errBadMAC = errors.New("fails authentication (changed without the master key, or copied from another record or database)")
)

// decode checks stored (the value under key) and returns the record's JSON,
// which shares stored's memory.
func (m *recordMAC) decode(kind string, key, stored []byte) ([]byte, error) {
	if len(stored) < headerLen || !bytes.HasPrefix(stored, []byte(recordPrefix)) || stored[headerLen-1] != ':' {
		return nil, errNoMAC
	}
	var want [macSize]byte
	if n, err := base64.RawStdEncoding.Decode(want[:], stored[len(recordPrefix):headerLen-1]); err != nil || n != macSize {
		return nil, errBadMAC
	}
	body := stored[headerLen:]
	got := m.sum(kind, key, body)
	if !hmac.Equal(got[:], want[:]) {
		return nil, errBadMAC
	}
	return body, nil
}

// RecordError reports a record that cannot be used: it is unreadable, or it
// fails authentication. It wraps ErrDamaged. Its message names the record
// and the fix, and never shows the record's content.
type RecordError struct {
	Kind   string // provider, token, job, run request, admin password
	Name   string
	Path   string // the database file
	Reason string // what is wrong, in words
}

func (e *RecordError) Error() string {
	what := e.Kind
	if e.Name != "" {
		what = fmt.Sprintf("%s %q", e.Kind, e.Name)
	}
	return fmt.Sprintf("%s: %s in %s %s: %s", ErrDamaged, what, e.Path, e.Reason, e.Fix())
}

// Unwrap returns ErrDamaged.
func (e *RecordError) Unwrap() error { return ErrDamaged }

// Fix says what to do about the record: nothing is sent or run with it until
// then.
func (e *RecordError) Fix() string {
	restore := "restore scriptrun.db from a backup, or re-create it: "
	switch e.Kind {
	case kindProvider:
		return restore + fmt.Sprintf("`scriptrun provider rm %s --force`, then `scriptrun provider add %s ...`", e.Name, e.Name)
	case kindToken:
		return restore + fmt.Sprintf("`scriptrun token rm %s`, then `scriptrun token add %s ...` (and authorize it again)", e.Name, e.Name)
	case kindJob:
		return restore + fmt.Sprintf("`scriptrun cron rm %s`, then `scriptrun cron add %s ...`", e.Name, e.Name)
	case kindAdmin:
		return "set the admin password again with `scriptrun admin password`"
	case kindRunRequest:
		return "it is ignored and removed; request the run again with `scriptrun cron run JOB`"
	}
	return "restore scriptrun.db from a backup"
}

// DamagedRecords splits the error of a list read (Providers, Tokens, Jobs,
// RunRequests) into the damaged records it reports and any other error. When
// other is nil, the list returned with err holds every record but the
// damaged ones, so a caller can show them and the damaged ones beside them.
func DamagedRecords(err error) (damaged []*RecordError, other error) {
	if err == nil {
		return nil, nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var rest []error
	for _, e := range errs {
		if re, ok := e.(*RecordError); ok {
			damaged = append(damaged, re)
		} else {
			rest = append(rest, e)
		}
	}
	return damaged, errors.Join(rest...)
}

func (tx *Tx) recordError(kind, name string, reason error) *RecordError {
	return &RecordError{Kind: kind, Name: name, Path: tx.db.path, Reason: reason.Error()}
}

var errUnreadable = errors.New("is unreadable")

// getRecord authenticates the stored value v of the record of kind under key
// and decodes its JSON into rec. Errors are *RecordError.
func (tx *Tx) getRecord(kind string, key []byte, name string, v []byte, rec any) error {
	body, err := tx.db.mac.decode(kind, key, v)
	if err != nil {
		return tx.recordError(kind, name, err)
	}
	if err := json.Unmarshal(body, rec); err != nil {
		return tx.recordError(kind, name, errUnreadable)
	}
	return nil
}

// putRecord stores rec as an authenticated record of kind under name in
// space. The MAC covers name, not the space: records written before the
// backend existed authenticate unchanged.
func (tx *Tx) putRecord(space, kind, name string, rec any) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", kind, name, err)
	}
	return tx.kv.Put(key(space, name), tx.db.mac.encode(kind, []byte(name), v))
}

// listDamaged is the error of a list read that went past damaged records.
func listDamaged(damaged []error) error { return errors.Join(damaged...) }

// asRecordError reports whether err is a damaged record that a list read goes
// past (collecting it), rather than a failure that ends the read.
func asRecordError(err error, damaged *[]error) bool {
	var re *RecordError
	if errors.As(err, &re) {
		*damaged = append(*damaged, re)
		return true
	}
	return false
}
