package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// addTokens stores n oauth2 tokens of provider, named prefix-0000…, in one
// transaction.
func (e *env) addTokens(prefix, provider string, n int) {
	e.t.Helper()
	err := e.db.Update(func(tx *store.Tx) error {
		for i := range n {
			tok := store.Token{Name: fmt.Sprintf("%s-%04d", prefix, i), Type: store.TypeOAuth2, Provider: provider, Active: true, State: store.StateUnauthorized,
				BaseURL: "https://api.example.com", LastMessage: "provider answered invalid_grant: the refresh token expired"}
			if err := tx.CreateToken(tok); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestTokenListPages pages through 120 tokens (50 a page) and searches
// them: each page lists its own tokens only, its links lead to its
// neighbours and keep the search.
func TestTokenListPages(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.addProvider("p", "https://login.example.com")
	e.addTokens("tok", "p", 120)
	e.addTokens("other", "p", 3)
	b := e.signedIn()
	tests := []struct {
		path       string
		first      string // the first and last token on the page
		last       string
		notOn      []string // tokens not on it
		want       []string // other text on the page
		wantAbsent []string
	}{
		{"/tokens", "other-0000", "tok-0046", []string{"tok-0047"},
			[]string{`1–50 of 123 · page 1 of 3`, `href="/tokens?page=2"`, `id="token-search"`}, []string{`rel="prev"`}},
		{"/tokens?page=2", "tok-0047", "tok-0096", []string{"tok-0046", "tok-0097"},
			[]string{`51–100 of 123`, `href="/tokens"`, `href="/tokens?page=3"`}, nil},
		{"/tokens?page=3", "tok-0097", "tok-0119", []string{"tok-0096"},
			[]string{`101–123 of 123 · page 3 of 3`, `href="/tokens?page=2"`}, []string{`rel="next"`}},
		{"/tokens?q=TOK-001", "tok-0010", "tok-0019", []string{"tok-0009", "tok-0020", "other-0000"},
			[]string{`value="TOK-001"`, `Show all`}, []string{`id="token-pages"`}},
		{"/tokens?q=tok&page=3", "tok-0100", "tok-0119", []string{"tok-0099", "other-0000"},
			[]string{`101–120 of 120`, `href="/tokens?page=2&amp;q=tok"`}, []string{`rel="next"`}},
		{"/tokens?q=nothing-like-it", "", "", []string{"tok-0000"}, []string{`No token name contains “nothing-like-it”`}, []string{"No tokens yet"}},
		{"/tokens?page=junk", "other-0000", "tok-0046", nil, []string{`page 1 of 3`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := b.get(tc.path)
			if r.status != http.StatusOK {
				t.Fatalf("GET %s: %d", tc.path, r.status)
			}
			for _, name := range []string{tc.first, tc.last} {
				if name != "" && !strings.Contains(r.body, `id="token-`+name+`"`) {
					t.Errorf("GET %s: no row for %s", tc.path, name)
				}
			}
			if tc.first != "" && strings.Index(r.body, `id="token-`+tc.first+`"`) > strings.Index(r.body, `id="token-`+tc.last+`"`) {
				t.Errorf("GET %s: %s not before %s", tc.path, tc.first, tc.last)
			}
			for _, name := range tc.notOn {
				if strings.Contains(r.body, `id="token-`+name+`"`) {
					t.Errorf("GET %s: row for %s, which belongs to another page", tc.path, name)
				}
			}
			for _, s := range tc.want {
				if !strings.Contains(r.body, s) {
					t.Errorf("GET %s: no %q in the page", tc.path, s)
				}
			}
			for _, s := range tc.wantAbsent {
				if strings.Contains(r.body, s) {
					t.Errorf("GET %s: %q in the page", tc.path, s)
				}
			}
		})
	}
}

// TestTokenListFewTokens: a home with one page of tokens shows neither the
// search nor page links (the page looks as it did before paging).
func TestTokenListFewTokens(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.addProvider("p", "https://login.example.com")
	e.addTokens("tok", "p", 3)
	r := e.signedIn().get("/tokens")
	for _, s := range []string{`id="token-search"`, `id="token-pages"`} {
		if strings.Contains(r.body, s) {
			t.Errorf("%q on a page of 3 tokens", s)
		}
	}
	if !strings.Contains(r.body, `id="token-tok-0002"`) {
		t.Error("token tok-0002 missing")
	}
}

// BenchmarkTokenList10k is the console's tokens page in a home of 10,000
// tokens: the first page, a later page and a search.
func BenchmarkTokenList10k(b *testing.B) {
	e := newEnv(b, envOpts{})
	e.addProvider("p", "https://login.example.com")
	e.addTokens("token", "p", 10000)
	_, cookie := e.srv.sessions.create(e.adminSet(), "127.0.0.1")
	for _, path := range []string{"/tokens", "/tokens?page=100", "/tokens?q=token-99"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := e.request("GET", path, nil)
				req.AddCookie(&http.Cookie{Name: e.srv.sessionCookie(), Value: cookie})
				rec := httptest.NewRecorder()
				e.srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", path, rec.Code)
				}
			}
		})
	}
}
