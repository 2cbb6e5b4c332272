package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// TestTokenListPages pages through tokens with --limit and --after, and
// searches them with --search: each page holds its own names, standard
// error names the next page's --after while more follow.
func TestTokenListPages(t *testing.T) {
	c := newCLI(t)
	c.env["SR_SECRET"] = "bearer-secret-value-1234"
	for _, n := range []string{"alpha-1", "alpha-2", "beta-3", "beta-4", "gamma-5"} {
		c.must("token", "add", n, "--type", "bearer", "--token-env", "SR_SECRET", "--base-url", "https://api.example.com")
	}
	names := func(args ...string) ([]string, string) {
		t.Helper()
		code, out, errs := c.run(append([]string{"token", "list", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("token list %v: exit %d: %s", args, code, errs)
		}
		var list []tokenView
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("token list %v: %v in %q", args, err, out)
		}
		var got []string
		for _, v := range list {
			got = append(got, v.Name)
		}
		return got, errs
	}
	tests := []struct {
		args     []string
		want     string
		nextHint string // "" = no "more tokens follow"
	}{
		{nil, "alpha-1 alpha-2 beta-3 beta-4 gamma-5", ""},
		{[]string{"--limit", "2"}, "alpha-1 alpha-2", "--after alpha-2"},
		{[]string{"--limit", "2", "--after", "alpha-2"}, "beta-3 beta-4", "--after beta-4"},
		{[]string{"--limit", "2", "--after", "beta-4"}, "gamma-5", ""},
		{[]string{"--search", "BETA"}, "beta-3 beta-4", ""},
		{[]string{"--search", "a-", "--limit", "1", "--after", "alpha-2"}, "beta-3", "--after beta-3"},
		{[]string{"--search", "nothing"}, "", ""},
	}
	for _, tc := range tests {
		got, errs := names(tc.args...)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("token list %v = %v, want %s", tc.args, got, tc.want)
		}
		if hint := strings.Contains(errs, "more tokens follow"); hint != (tc.nextHint != "") || !strings.Contains(errs, tc.nextHint) {
			t.Errorf("token list %v: standard error %q, want the hint %q", tc.args, errs, tc.nextHint)
		}
	}
	if out := c.must("token", "list", "--limit", "1"); !strings.Contains(out, "alpha-1") || strings.Contains(out, "alpha-2") {
		t.Errorf("token list --limit 1 (table):\n%s", out)
	}
	if code, _, errs := c.run("token", "list", "--limit", "-1"); code != exitUsage || !strings.Contains(errs, "--limit -1") {
		t.Errorf("token list --limit -1: exit %d, %q", code, errs)
	}
}

// TestTokenListTableFromSummaries: token list's table, read from the
// tokens' summaries (authenticated, secrets left sealed), is the table the
// fully decoded tokens make, for every kind of page of a home holding every
// type, state, expiry and message, and a forged record, shown damaged.
func TestTokenListTableFromSummaries(t *testing.T) {
	c := newCLI(t)
	key := storetest.Key()
	c.env["SCRIPTRUN_MASTER_KEY"] = hex.EncodeToString(key)
	db := storetest.OpenIn(t, c.home, key)
	storetest.AllowDamaged(t, db) // forged below
	seedListHome(t, db)
	forgeByte(t, filepath.Join(c.home, "scriptrun.db"), "tok-07")
	for _, args := range [][]string{nil, {"--limit", "5"}, {"--limit", "4", "--after", "tok-05"}, {"--search", "1"}, {"--search", "TOK-1", "--limit", "3"}, {"--after", "tok-99"}} {
		code, out, errs := c.run(append([]string{"token", "list"}, args...)...)
		if code != 0 {
			t.Fatalf("token list %v: exit %d: %s", args, code, errs)
		}
		q := store.TokenQuery{}
		for i := 0; i+1 < len(args); i += 2 {
			switch args[i] {
			case "--limit":
				fmt.Sscan(args[i+1], &q.Limit)
			case "--after":
				q.After = args[i+1]
			case "--search":
				q.Match = args[i+1]
			}
		}
		var want bytes.Buffer
		err := db.View(func(tx *store.Tx) error {
			page, err := tx.TokensPage(q)
			damaged, other := store.DamagedRecords(err)
			if other != nil {
				return other
			}
			var sums []store.TokenSummary
			for _, tok := range page.Tokens {
				sums = append(sums, summaryOf(tok))
			}
			return printTokenTable(&want, sums, damaged)
		})
		if err != nil {
			t.Fatal(err)
		}
		if out != want.String() {
			t.Errorf("token list %v:\n%s\nwant (from the decoded tokens):\n%s", args, out, want.String())
		}
		row := ""
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "tok-07 ") {
				row = line
			}
		}
		if (args == nil && row == "") || (row != "" && (!strings.Contains(row, "damaged") || !strings.Contains(errs, `token "tok-07"`))) {
			t.Errorf("token list %v: the forged tok-07 is not shown damaged and warned about:\n%s%s", args, out, errs)
		}
	}
}

// summaryOf is a token's fields of the names of TokenSummary's.
func summaryOf(tok store.Token) store.TokenSummary {
	var s store.TokenSummary
	sv, tv := reflect.ValueOf(&s).Elem(), reflect.ValueOf(tok)
	for i := range sv.NumField() {
		sv.Field(i).Set(tv.FieldByName(sv.Type().Field(i).Name))
	}
	return s
}

// seedListHome stores 20 tokens tok-00 … tok-19 of every type, active or
// not, with and without a base URL, an expiry and a last message (one
// with control characters, one longer than the table shows).
func seedListHome(t *testing.T, db *store.DB) {
	t.Helper()
	now := time.Now().UTC()
	msgs := []string{"", "refresh failed: invalid_grant", "two\nlines\x1b[31m red \u202e", strings.Repeat("long message ", 8)}
	err := db.Update(func(tx *store.Tx) error {
		if err := tx.CreateProvider(store.Provider{Name: "graph", ClientID: "app-1", GrantType: store.GrantAuthorizationCode,
			AuthURL: "https://login.example.com/authorize", TokenURL: "https://login.example.com/token", AuthStyle: store.AuthStyleHeader}); err != nil {
			return err
		}
		for i := range 20 {
			tok := store.Token{Name: fmt.Sprintf("tok-%02d", i), Active: i%3 != 0, LastMessage: msgs[i%len(msgs)]}
			if i%4 != 0 {
				tok.BaseURL = "https://api.example.com/v1/"
			}
			switch i % 5 {
			case 0:
				tok.Type, tok.Provider, tok.State = store.TypeOAuth2, "graph", store.StateReauthRequired
				tok.Expires = now.Add(50*time.Hour + 30*time.Minute)
				tok.Secret = store.Secret{AccessToken: "access-SECRET", RefreshToken: "refresh-SECRET", TokenType: "Bearer"}
			case 1:
				tok.Type, tok.Username, tok.Secret.Password = store.TypeBasic, "svc", "password-SECRET"
				tok.Expires = now.Add(400 * 24 * time.Hour)
			case 2:
				tok.Type, tok.KeyQuery, tok.Secret.APIKey = store.TypeAPIKey, "key", "api-key-SECRET"
			case 3:
				tok.Type = store.TypeBearer // no credential: unauthorized
			case 4:
				tok.Type, tok.Secret.APIToken, tok.Secret.APISecret = store.TypeHMACBody, "tok1", "hmac-SECRET"
			}
			if err := tx.CreateToken(tok); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// forgeByte changes one byte of a token's record in the file, as someone
// without the key can.
func forgeByte(t *testing.T, path, name string) {
	t.Helper()
	storetest.Tamper(t, path, "tokens", []byte(name), func(v []byte) ([]byte, error) {
		v[len(v)-2] ^= 1
		return v, nil
	})
}
