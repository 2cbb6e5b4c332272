package etcdkv

import (
	"bytes"
	"strconv"
)

// The messages of etcd's v3 API as its JSON gateway reads and writes them
// (the proto3 JSON mapping: proto field names, bytes in base64, 64-bit
// integers as strings, zero values left out, enums by name). Only the
// fields this package uses are declared; the gateway ignores none that it
// needs and the decoder skips the rest.

// i64 is a proto int64 field: written as a JSON string, read from a string
// or a number.
type i64 int64

func (v i64) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatInt(int64(v), 10)), nil
}

func (v *i64) UnmarshalJSON(b []byte) error {
	n, err := strconv.ParseInt(string(bytes.Trim(b, `"`)), 10, 64)
	*v = i64(n)
	return err
}

// u64 is a proto uint64 field (member ids).
type u64 uint64

func (v *u64) UnmarshalJSON(b []byte) error {
	n, err := strconv.ParseUint(string(bytes.Trim(b, `"`)), 10, 64)
	*v = u64(n)
	return err
}

type pbHeader struct {
	Revision i64 `json:"revision"`
	MemberID u64 `json:"member_id"`
}

type pbKV struct {
	Key            []byte `json:"key"`
	Value          []byte `json:"value"`
	CreateRevision i64    `json:"create_revision"`
	ModRevision    i64    `json:"mod_revision"`
	Lease          i64    `json:"lease"`
}

type rangeReq struct {
	Key               []byte `json:"key"`
	RangeEnd          []byte `json:"range_end,omitempty"`
	Limit             i64    `json:"limit,omitempty"`
	Revision          i64    `json:"revision,omitempty"`
	SortOrder         string `json:"sort_order,omitempty"`  // ASCEND, DESCEND
	SortTarget        string `json:"sort_target,omitempty"` // KEY, CREATE, MOD
	Serializable      bool   `json:"serializable,omitempty"`
	KeysOnly          bool   `json:"keys_only,omitempty"`
	CountOnly         bool   `json:"count_only,omitempty"`
	MaxCreateRevision i64    `json:"max_create_revision,omitempty"`
}

type rangeResp struct {
	Header pbHeader `json:"header"`
	Kvs    []pbKV   `json:"kvs"`
	More   bool     `json:"more"`
	Count  i64      `json:"count"`
}

type putReq struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value,omitempty"`
	Lease i64    `json:"lease,omitempty"`
}

type deleteReq struct {
	Key      []byte `json:"key"`
	RangeEnd []byte `json:"range_end,omitempty"`
	PrevKV   bool   `json:"prev_kv,omitempty"`
}

type deleteResp struct {
	Header  pbHeader `json:"header"`
	Deleted i64      `json:"deleted"`
	PrevKvs []pbKV   `json:"prev_kvs"`
}

// compare is one condition of a txn. Exactly one of the revision fields is
// set, the one Target names.
type compare struct {
	Result         string `json:"result"` // EQUAL, GREATER, LESS, NOT_EQUAL
	Target         string `json:"target"` // CREATE, MOD
	Key            []byte `json:"key"`
	RangeEnd       []byte `json:"range_end,omitempty"`
	CreateRevision *i64   `json:"create_revision,omitempty"`
	ModRevision    *i64   `json:"mod_revision,omitempty"`
}

func cmpMod(key []byte, result string, rev int64) compare {
	r := i64(rev)
	return compare{Result: result, Target: "MOD", Key: key, ModRevision: &r}
}

func cmpCreate(key []byte, rev int64) compare {
	r := i64(rev)
	return compare{Result: "EQUAL", Target: "CREATE", Key: key, CreateRevision: &r}
}

type requestOp struct {
	Range  *rangeReq  `json:"request_range,omitempty"`
	Put    *putReq    `json:"request_put,omitempty"`
	Delete *deleteReq `json:"request_delete_range,omitempty"`
}

type responseOp struct {
	Range  *rangeResp  `json:"response_range"`
	Delete *deleteResp `json:"response_delete_range"`
}

type txnReq struct {
	Compare []compare   `json:"compare,omitempty"`
	Success []requestOp `json:"success,omitempty"`
	Failure []requestOp `json:"failure,omitempty"`
}

type txnResp struct {
	Header    pbHeader     `json:"header"`
	Succeeded bool         `json:"succeeded"`
	Responses []responseOp `json:"responses"`
}

// rangeAt is the i-th response of a txn as a range (empty if it is not one).
func (r *txnResp) rangeAt(i int) []pbKV {
	if i < len(r.Responses) && r.Responses[i].Range != nil {
		return r.Responses[i].Range.Kvs
	}
	return nil
}

type leaseReq struct {
	TTL i64 `json:"TTL,omitempty"`
	ID  i64 `json:"ID,omitempty"`
}

type leaseResp struct {
	Header pbHeader `json:"header"`
	ID     i64      `json:"ID"`
	TTL    i64      `json:"TTL"`
	Error  string   `json:"error"`
}

type watchReq struct {
	Create watchCreate `json:"create_request"`
}

type watchCreate struct {
	Key           []byte   `json:"key"`
	RangeEnd      []byte   `json:"range_end,omitempty"`
	StartRevision i64      `json:"start_revision,omitempty"`
	Filters       []string `json:"filters,omitempty"` // NOPUT, NODELETE
}

type watchResp struct {
	Header          pbHeader `json:"header"`
	Created         bool     `json:"created"`
	Canceled        bool     `json:"canceled"`
	CompactRevision i64      `json:"compact_revision"`
	CancelReason    string   `json:"cancel_reason"`
	Events          []struct {
		Type string `json:"type"` // "" (PUT) or DELETE
		Kv   pbKV   `json:"kv"`
	} `json:"events"`
}

type authReq struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

type authResp struct {
	Token string `json:"token"`
}

type statusResp struct {
	Header  pbHeader `json:"header"`
	Version string   `json:"version"`
	Leader  u64      `json:"leader"`
}

// prefixEnd is the range end that makes key a prefix (etcd's
// GetPrefixRangeEnd): key with its last byte below 0xff incremented, or
// "\x00" (every key) if there is none.
func prefixEnd(key []byte) []byte {
	end := bytes.Clone(key)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}
