package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
)

// seedPageTokens stores the named oauth2 tokens (of provider graph) and a
// damaged record under the name "bad-7".
func seedPageTokens(t testing.TB, db *DB, kv backend, names []string) {
	t.Helper()
	mustTB(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(testProvider("graph")); err != nil {
			return err
		}
		for _, n := range names {
			if err := tx.CreateToken(testToken(n, "graph")); err != nil {
				return err
			}
		}
		return nil
	}))
	if kv != nil {
		mustTB(t, kv.update(func(tx kvTx) error { return tx.Put(key(spaceTokens, "bad-7"), []byte("{not json")) }))
	}
}

func pageNames(p TokenPage) []string {
	var out []string
	for _, t := range p.Tokens {
		out = append(out, t.Name)
	}
	return out
}

func TestContractTokensPage(t *testing.T) {
	cheapArgon(t)
	forEachBackend(t, func(t *testing.T, kv backend, file *boltBackend) {
		db, err := open(kv, file, testKey(7), Options{LockTimeout: 2 * time.Second})
		must(t, err)
		seedPageTokens(t, db, kv, []string{"alpha-1", "alpha-2", "Beta-3", "beta-4", "gamma-5", "gamma-6"})
		tests := []struct {
			name      string
			q         TokenQuery
			want      []string
			total     int
			before    int
			more      bool
			last      string
			wantError bool // the page holds the damaged record
		}{
			{"first page", TokenQuery{Limit: 2}, []string{"Beta-3", "alpha-1"}, 7, 0, true, "alpha-1", false},
			{"after a name", TokenQuery{After: "alpha-1", Limit: 2}, []string{"alpha-2"}, 7, 2, true, "bad-7", true},
			{"last page", TokenQuery{After: "bad-7", Limit: 10}, []string{"beta-4", "gamma-5", "gamma-6"}, 7, 4, false, "gamma-6", false},
			{"offset", TokenQuery{Offset: 5, Limit: 1}, []string{"gamma-5"}, 7, 5, true, "gamma-5", false},
			{"offset past the end", TokenQuery{Offset: 50, Limit: 5}, nil, 7, 7, false, "", false},
			{"no limit", TokenQuery{}, []string{"Beta-3", "alpha-1", "alpha-2", "beta-4", "gamma-5", "gamma-6"}, 7, 0, false, "gamma-6", true},
			{"search ignores case", TokenQuery{Match: "BETA"}, []string{"Beta-3", "beta-4"}, 2, 0, false, "beta-4", false},
			{"search, paged", TokenQuery{Match: "a-", Limit: 2, After: "alpha-1"}, []string{"alpha-2", "beta-4"}, 6, 2, true, "beta-4", false},
			{"search, no match", TokenQuery{Match: "zzz", Limit: 2}, nil, 0, 0, false, "", false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var p TokenPage
				err := db.View(func(tx *Tx) (err error) { p, err = tx.TokensPage(tc.q); return err })
				var re *RecordError
				if tc.wantError != (err != nil) || (err != nil && (!errors.As(err, &re) || re.Name != "bad-7")) {
					t.Fatalf("error = %v, want a damaged bad-7: %v", err, tc.wantError)
				}
				if got := pageNames(p); !slices.Equal(got, tc.want) || p.Total != tc.total || p.Before != tc.before || p.More != tc.more || p.Last != tc.last {
					t.Errorf("page = %v total %d before %d more %v last %q; want %v total %d before %d more %v last %q",
						got, p.Total, p.Before, p.More, p.Last, tc.want, tc.total, tc.before, tc.more, tc.last)
				}
				for _, tok := range p.Tokens {
					if tok.Secret.RefreshToken != testToken(tok.Name, "graph").Secret.RefreshToken {
						t.Errorf("token %s: secret not decrypted", tok.Name)
					}
				}
			})
		}
	})
}

// summaryOf is what TokenSummariesPage must show of t: its fields of the
// same names as TokenSummary's.
func summaryOf(t Token) TokenSummary {
	var s TokenSummary
	sv, tv := reflect.ValueOf(&s).Elem(), reflect.ValueOf(t)
	for i := range sv.NumField() {
		sv.Field(i).Set(tv.FieldByName(sv.Type().Field(i).Name))
	}
	return s
}

// TestTokenSummaryFieldsAreTokens: every field of TokenSummary is Token's
// field of the same name, type and JSON name, so a summary reads from a
// record what the token read from it shows.
func TestTokenSummaryFieldsAreTokens(t *testing.T) {
	st, tt := reflect.TypeFor[TokenSummary](), reflect.TypeFor[Token]()
	for i := range st.NumField() {
		f := st.Field(i)
		tf, ok := tt.FieldByName(f.Name)
		if !ok || tf.Type != f.Type || tf.Tag.Get("json") != f.Tag.Get("json") {
			t.Errorf("TokenSummary.%s (%s, json %q) is not Token's (found %v: %s, json %q)", f.Name, f.Type, f.Tag.Get("json"), ok, tf.Type, tf.Tag.Get("json"))
		}
	}
}

// TestContractTokenSummariesPage: on every backend, for every kind of
// query, TokenSummariesPage holds what TokensPage holds, field for field,
// sits where it sits, and reports the same damaged records: unreadable,
// failing authentication, or authenticated under another name.
func TestContractTokenSummariesPage(t *testing.T) {
	cheapArgon(t)
	forEachBackend(t, func(t *testing.T, kv backend, file *boltBackend) {
		db, err := open(kv, file, testKey(7), Options{LockTimeout: 2 * time.Second})
		must(t, err)
		seedPageTokens(t, db, kv, nil)
		exp := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
		must(t, db.Update(func(tx *Tx) error {
			for i, tok := range []Token{
				testToken("alpha-1", "graph"),
				{Name: "Beta-2", Type: TypeBearer, Active: false, BaseURL: "https://api.example.com/v1/", LastMessage: "refused\nagain \u202e", Expires: exp, Secret: Secret{AccessToken: "bearer-SECRET-1"}},
				{Name: "basic-3", Type: TypeBasic, Active: true, Username: "svc", Secret: Secret{Password: "pw-SECRET"}},
				{Name: "key-4", Type: TypeAPIKey, Active: true, KeyHeader: "X-Key", Secret: Secret{APIKey: "k-SECRET"}},
				{Name: "oauth-5", Type: TypeOAuth2, Provider: "graph", Active: true, State: StateUnauthorized},
				{Name: "moved-6", Type: TypeBearer, Active: true},
				{Name: "flipped-8", Type: TypeBearer, Active: true},
			} {
				tok.RefreshFailures = i
				if err := tx.CreateToken(tok); err != nil {
					return err
				}
			}
			return nil
		}))
		// Damage: bad-7 is not JSON (seedPageTokens); flipped-8 fails its
		// MAC; moved-6 holds alpha-1's record with a valid MAC, as only the
		// key's holder could write it.
		must(t, kv.update(func(tx kvTx) error {
			v, err := tx.Get(key(spaceTokens, "flipped-8"))
			if err != nil {
				return err
			}
			v = bytes.Clone(v)
			v[len(v)-3] ^= 1
			if err := tx.Put(key(spaceTokens, "flipped-8"), v); err != nil {
				return err
			}
			a, err := tx.Get(key(spaceTokens, "alpha-1"))
			if err != nil {
				return err
			}
			body, err := db.mac.decode(kindToken, []byte("alpha-1"), a)
			if err != nil {
				return err
			}
			return tx.Put(key(spaceTokens, "moved-6"), db.mac.encode(kindToken, []byte("moved-6"), body))
		}))
		for _, q := range []TokenQuery{
			{}, {Limit: 2}, {Limit: 3, After: "bad-7"}, {After: "alpha-1"}, {Offset: 2, Limit: 3}, {Offset: 50},
			{Match: "E", Limit: 2}, {Match: "-", After: "basic-3"}, {Match: "zzz"}, {Limit: 100},
		} {
			var full TokenPage
			var sum TokenSummaryPage
			var fullErr, sumErr error
			must(t, db.View(func(tx *Tx) error {
				full, fullErr = tx.TokensPage(q)
				sum, sumErr = tx.TokenSummariesPage(q)
				return nil
			}))
			var want []TokenSummary
			for _, tok := range full.Tokens {
				want = append(want, summaryOf(tok))
			}
			if !reflect.DeepEqual(sum.Tokens, want) || sum.PageInfo != full.PageInfo {
				t.Errorf("%+v: summaries %+v %+v, want %+v %+v", q, sum.Tokens, sum.PageInfo, want, full.PageInfo)
			}
			fd, fo := DamagedRecords(fullErr)
			sd, so := DamagedRecords(sumErr)
			if fo != nil || so != nil || !reflect.DeepEqual(sd, fd) {
				t.Errorf("%+v: summaries' error %v, want TokensPage's %v", q, sumErr, fullErr)
			}
			if q == (TokenQuery{}) && len(fd) != 3 {
				t.Errorf("every token: %d damaged records, want bad-7, flipped-8 and moved-6: %v", len(fd), fullErr)
			}
		}
	})
}

// TestTokenSummaryLeavesSecretSealed: the one difference from TokensPage.
// A record given another token's sealed secret and a valid MAC (as only the
// key's holder could) is summarised, since its secret is never opened for
// a summary, and still refused when the token is read to be used.
func TestTokenSummaryLeavesSecretSealed(t *testing.T) {
	db := openTestDB(t)
	allowDamaged(db)
	seedPageTokens(t, db, nil, []string{"a", "b"})
	must(t, db.Update(func(tx *Tx) error {
		body := func(name string) map[string]any {
			v, _ := tx.kv.Get(key(spaceTokens, name))
			plain, err := tx.db.mac.decode(kindToken, []byte(name), v)
			must(t, err)
			var rec map[string]any
			must(t, json.Unmarshal(plain, &rec))
			return rec
		}
		b := body("b")
		b["sealed"] = body("a")["sealed"]
		v, _ := json.Marshal(b)
		return tx.kv.Put(key(spaceTokens, "b"), tx.db.mac.encode(kindToken, []byte("b"), v))
	}))
	must(t, db.View(func(tx *Tx) error {
		sum, err := tx.TokenSummariesPage(TokenQuery{})
		if err != nil || len(sum.Tokens) != 2 {
			t.Errorf("summaries = %+v, %v; want a and b", sum.Tokens, err)
		}
		if _, err := tx.Token("b"); !errors.Is(err, ErrDamaged) {
			t.Errorf("Token(b) with a's secret: err = %v, want ErrDamaged", err)
		}
		return nil
	}))
}

// TestTokensPageWalk pages through every token with After and finds each
// once, in order, as Tokens lists them.
func TestTokensPageWalk(t *testing.T) {
	db := openTestDB(t)
	var names []string
	for i := range 25 {
		names = append(names, fmt.Sprintf("tok-%03d", i))
	}
	seedPageTokens(t, db, nil, names)
	var got []string
	q := TokenQuery{Limit: 4}
	for range 10 {
		var p TokenPage
		must(t, db.View(func(tx *Tx) (err error) { p, err = tx.TokensPage(q); return err }))
		got = append(got, pageNames(p)...)
		if !p.More {
			break
		}
		q.After = p.Last
	}
	if !slices.Equal(got, names) {
		t.Errorf("walked %v, want %v", got, names)
	}
}

// BenchmarkTokensPage lists the first page of 50 (and a searched page) in
// a home of 10,000 tokens, against Tokens, which decodes them all.
func BenchmarkTokensPage(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "scriptrun.db"), testKey(7), Options{LockTimeout: 2 * time.Second})
	mustTB(b, err)
	var names []string
	for i := range 10000 {
		names = append(names, fmt.Sprintf("token-%05d", i))
	}
	seedPageTokens(b, db, nil, names)
	for _, bc := range []struct {
		name string
		q    TokenQuery
	}{
		{"page-50", TokenQuery{Limit: 50}},
		{"page-50-after-5000", TokenQuery{Limit: 50, After: "token-05000"}},
		{"search-50", TokenQuery{Limit: 50, Match: "99"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mustTB(b, db.View(func(tx *Tx) error { _, err := tx.TokensPage(bc.q); return err }))
			}
		})
	}
	b.Run("Tokens-all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mustTB(b, db.View(func(tx *Tx) error { _, err := tx.Tokens(); return err }))
		}
	})
}

// seedBearerTokens stores n bearer tokens token-00000 … as the bench
// driver's home holds them, in updates of 50 (etcd's 128 operations a
// transaction).
func seedBearerTokens(tb testing.TB, db *DB, n int) {
	tb.Helper()
	for start := 0; start < n; start += 50 {
		mustTB(tb, db.Update(func(tx *Tx) error {
			for i := start; i < min(start+50, n); i++ {
				t := Token{Name: fmt.Sprintf("token-%05d", i), Type: TypeBearer, Active: true, State: StateAuthorized,
					BaseURL: "https://api.example.com", LastMessage: "provider answered invalid_grant: the refresh token expired"}
				t.Secret.AccessToken = fmt.Sprintf("bearer-secret-%05d", i)
				if err := tx.CreateToken(t); err != nil {
					return err
				}
			}
			return nil
		}))
	}
}

// BenchmarkTokensList10k reads every token of a home of 10,000 (bbolt),
// as `token list` reads them (summaries: authenticated, secrets left
// sealed) and as `token list --json` does (tokens, secrets decrypted).
func BenchmarkTokensList10k(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "scriptrun.db"), testKey(7), Options{LockTimeout: 2 * time.Second})
	mustTB(b, err)
	seedBearerTokens(b, db, 10000)
	b.Run("summaries", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mustTB(b, db.View(func(tx *Tx) error { _, err := tx.TokenSummariesPage(TokenQuery{}); return err }))
		}
	})
	b.Run("tokens", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mustTB(b, db.View(func(tx *Tx) error { _, err := tx.TokensPage(TokenQuery{}); return err }))
		}
	})
}

// BenchmarkTokensPageEtcd reads one page of 50 tokens, and a searched
// page, among 10,000 on an embedded etcd: the page's values only, after
// a keys-only range.
func BenchmarkTokensPageEtcd(b *testing.B) {
	db, err := open(newEtcdBackend(etcdtest.New(b).Open(b, etcdkv.Config{})), nil, testKey(7), Options{Create: true})
	mustTB(b, err)
	seedBearerTokens(b, db, 10000)
	for _, bc := range []struct {
		name string
		q    TokenQuery
	}{
		{"page-50-after-5000", TokenQuery{Limit: 50, After: "token-05000"}},
		{"search-50", TokenQuery{Limit: 50, Match: "99"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mustTB(b, db.View(func(tx *Tx) error { _, err := tx.TokensPage(bc.q); return err }))
			}
		})
	}
}

func mustTB(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
