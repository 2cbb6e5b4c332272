package store

import (
	"strings"
	"time"
)

// TokenQuery selects one page of tokens, in name order.
type TokenQuery struct {
	// Match keeps only the tokens whose name contains it, ignoring case;
	// empty keeps every token.
	Match string
	// After keeps only the names that sort after it (keyset paging: pass
	// the last name of the previous page).
	After string
	// Offset skips that many of the kept tokens (page numbers).
	Offset int
	// Limit is the most tokens a page holds; 0 or less means no limit.
	Limit int
}

// everything reports whether q's page is every token, so that reading the
// values with the keys costs nothing extra.
func (q TokenQuery) everything() bool {
	return q.Match == "" && q.After == "" && q.Offset <= 0 && q.Limit <= 0
}

// PageInfo says where a page of tokens sits among the tokens the query's
// Match keeps.
type PageInfo struct {
	// Total is how many token names the Match keeps (After, Offset and
	// Limit aside).
	Total int
	// Before is how many of those sort before the page (After, Offset).
	Before int
	// More reports whether names the query keeps follow the page.
	More bool
	// Last is the page's last name (damaged included): the After of the
	// next page.
	Last string
}

// TokenPage is one page of tokens and where it sits (PageInfo).
type TokenPage struct {
	// Tokens are the page's tokens, ordered by name. Damaged records are
	// left out of it and reported in TokensPage's error, as Tokens does;
	// they still take their place on the page.
	Tokens []Token
	PageInfo
}

// TokenSummary is what a list of tokens shows of one: its settings and
// state, without its credential. The fields are Token's, read from the
// same record under the same names.
type TokenSummary struct {
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Provider    string    `json:"provider"`
	Active      bool      `json:"active"`
	State       State     `json:"state"`
	Expires     time.Time `json:"expires,omitzero"`
	BaseURL     string    `json:"baseUrl,omitempty"`
	LastMessage string    `json:"lastMessage,omitempty"`
}

// TokenSummaryPage is one page of token summaries and where it sits
// (PageInfo).
type TokenSummaryPage struct {
	// Tokens are the page's tokens, ordered by name, damaged records left
	// out as in TokenPage.
	Tokens []TokenSummary
	PageInfo
}

// TokensPage returns one page of tokens. It walks the token names once and
// decodes (and decrypts) only the records on the page, so a page of a home
// with 10,000 tokens costs about what a home with a page's worth does, plus
// a walk of the keys (on etcd a keys-only range, then the page's values).
// Damaged records on the page are left out of page.Tokens and reported
// like Tokens reports them (splittable with errors.As into *RecordError);
// other errors end the read.
func (tx *Tx) TokensPage(q TokenQuery) (TokenPage, error) {
	ts, info, err := tokensPage(tx, q, tx.decodeToken)
	return TokenPage{Tokens: ts, PageInfo: info}, err
}

// TokenSummariesPage is TokensPage for a list that shows no credential:
// each record on the page is authenticated (its MAC checked, a damaged one
// reported as TokensPage reports it) and only the summary's fields are
// decoded. The sealed secret is neither decoded nor decrypted: a record
// that authenticates but would not decode whole (a secret that does not
// decrypt, a field the summary does not read that is malformed), which
// only a holder of the master key could write, is summarised here and
// refused by Token when used.
func (tx *Tx) TokenSummariesPage(q TokenQuery) (TokenSummaryPage, error) {
	ts, info, err := tokensPage(tx, q, tx.decodeTokenSummary)
	return TokenSummaryPage{Tokens: ts, PageInfo: info}, err
}

func (tx *Tx) decodeTokenSummary(name string, v []byte) (TokenSummary, error) {
	var s TokenSummary
	if err := tx.getRecord(kindToken, []byte(name), name, v, &s); err != nil {
		return TokenSummary{}, err
	}
	if s.Name != name {
		return TokenSummary{}, tx.recordError(kindToken, name, errUnreadable)
	}
	return s, nil
}

// tokensPage selects q's page and decodes its records with decode.
func tokensPage[T any](tx *Tx, q TokenQuery, decode func(name string, v []byte) (T, error)) ([]T, PageInfo, error) {
	recs, info, err := tx.pageRecords(q)
	if err != nil {
		return nil, info, err
	}
	items, err := decodeRecords(recs, decode)
	return items, info, err
}

// storedRecord is a record as stored: its name and value, valid inside the
// transaction.
type storedRecord struct {
	name string
	v    []byte
}

// pageRecords returns the stored records on q's page, in name order. When
// the page is every token it reads keys and values in one walk; else it
// walks the keys alone and reads only the page's values.
func (tx *Tx) pageRecords(q TokenQuery) ([]storedRecord, PageInfo, error) {
	sel := pageSelector{q: q, match: strings.ToLower(q.Match), skip: max(q.Offset, 0)}
	prefix := key(spaceTokens, "")
	var recs []storedRecord
	if q.everything() {
		err := tx.kv.List(prefix, func(name string, v []byte) error {
			if sel.take(name) {
				recs = append(recs, storedRecord{name: name, v: v})
			}
			return nil
		})
		return recs, sel.info, err
	}
	var keys []string
	err := tx.kv.Keys(prefix, func(name string) error {
		if sel.take(name) {
			keys = append(keys, key(spaceTokens, name))
		}
		return nil
	})
	if err != nil {
		return nil, sel.info, err
	}
	recs = make([]storedRecord, 0, len(keys))
	err = tx.kv.GetMany(keys, func(k string, v []byte) error {
		recs = append(recs, storedRecord{name: k[len(prefix):], v: v})
		return nil
	})
	return recs, sel.info, err
}

// pageSelector decides, name by name in order, which names a query's page
// holds, and counts where the page sits.
type pageSelector struct {
	q      TokenQuery
	match  string // q.Match in lower case
	skip   int    // of q.Offset, still to skip
	onPage int
	info   PageInfo
}

// take reports whether name, the next name in order, is on the page.
func (s *pageSelector) take(name string) bool {
	if s.match != "" && !strings.Contains(strings.ToLower(name), s.match) {
		return false
	}
	s.info.Total++
	switch {
	case s.q.After != "" && name <= s.q.After:
		s.info.Before++
		return false
	case s.skip > 0:
		s.skip--
		s.info.Before++
		return false
	case s.q.Limit > 0 && s.onPage >= s.q.Limit:
		s.info.More = true
		return false
	}
	s.onPage++
	s.info.Last = name
	return true
}

// decodeRecords decodes recs in order. Damaged records are left out and
// reported together in the error (listDamaged); another error ends it.
func decodeRecords[T any](recs []storedRecord, decode func(name string, v []byte) (T, error)) ([]T, error) {
	var out []T // nil for an empty page, as before
	if len(recs) > 0 {
		out = make([]T, 0, len(recs))
	}
	var damaged []error
	for _, r := range recs {
		item, err := decode(r.name, r.v)
		if err != nil {
			if asRecordError(err, &damaged) {
				continue
			}
			return out, err
		}
		out = append(out, item)
	}
	return out, listDamaged(damaged)
}
