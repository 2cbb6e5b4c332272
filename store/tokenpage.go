package store

import (
	"strings"
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

// TokenPage is one page of tokens and where it sits among the tokens the
// query's Match keeps.
type TokenPage struct {
	// Tokens are the page's tokens, ordered by name. Damaged records are
	// left out of it and reported in TokensPage's error, as Tokens does;
	// they still take their place on the page.
	Tokens []Token
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

// TokensPage returns one page of tokens. It walks the token names once and
// decodes (and decrypts) only the records on the page, so a page of a home
// with 10,000 tokens costs about what a home with a page's worth does, plus
// a walk of the keys. Damaged records on the page are left out of
// page.Tokens and reported like Tokens reports them (splittable with
// errors.As into *RecordError); other errors end the read.
func (tx *Tx) TokensPage(q TokenQuery) (TokenPage, error) {
	var page TokenPage
	var damaged []error
	match := strings.ToLower(q.Match)
	skip, onPage := max(q.Offset, 0), 0
	err := tx.kv.List(key(spaceTokens, ""), func(name string, v []byte) error {
		if match != "" && !strings.Contains(strings.ToLower(name), match) {
			return nil
		}
		page.Total++
		switch {
		case q.After != "" && name <= q.After:
			page.Before++
			return nil
		case skip > 0:
			skip--
			page.Before++
			return nil
		case q.Limit > 0 && onPage >= q.Limit:
			page.More = true
			return nil
		}
		onPage++
		page.Last = name
		t, err := tx.decodeToken(name, v)
		if err != nil && !asRecordError(err, &damaged) {
			return err
		}
		if err == nil {
			page.Tokens = append(page.Tokens, t)
		}
		return nil
	})
	if err != nil {
		return page, err
	}
	return page, listDamaged(damaged)
}
