package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// manyTokens is how many tokens the home of the tokens measure holds.
const manyTokens = 10000

// tokenListTarget is issue 17's bound on `token list` in that home.
const tokenListTarget = 200 * time.Millisecond

// tokens lists the tokens of a home holding manyTokens: all of them with
// `token list`, and one page with `token list --limit 50 --after NAME`,
// wall time per process (start-up included). The console's page is
// measured in-process (`go test -bench TokenList10k ./web`).
func (b *bench) tokens() (result, error) {
	home, err := b.tokenHome()
	if err != nil {
		return result{}, err
	}
	list := func(args ...string) func() (float64, error) {
		return func() (float64, error) {
			w, _, err := coldRun(b.bin, append([]string{"--home", home, "token", "list"}, args...)...)
			return float64(w) / float64(time.Millisecond), err
		}
	}
	s, err := b.interleave([]peer{
		{"all", list()},
		{"page", list("--limit", "50", "--after", fmt.Sprintf("token-%05d", manyTokens/2))},
	})
	if err != nil {
		return result{}, err
	}
	all := median(s["all"])
	return result{
		measure: fmt.Sprintf("%d tokens in one home: `token list` (all), and one page (`--limit 50 --after`)", manyTokens),
		cells:   []string{fmt.Sprintf("all %s; page %s", spread(s["all"], "%.0f", " ms"), spread(s["page"], "%.0f", " ms")), "", ""},
		target:  fmt.Sprintf("`token list` ≤ %d ms; console page ≤ 50 ms (`go test -bench TokenList10k ./web`)", tokenListTarget.Milliseconds()),
		met:     verdict(all <= float64(tokenListTarget.Milliseconds())),
	}, nil
}

// tokenHome makes a home of its own holding manyTokens bearer tokens,
// written in one transaction.
func (b *bench) tokenHome() (string, error) {
	home := filepath.Join(b.dir, "home-tokens")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return "", err
	}
	key, err := store.LoadKey(filepath.Join(home, "master.key"))
	if err != nil {
		return "", err
	}
	db, err := store.Open(filepath.Join(home, "scriptrun.db"), key, store.Options{})
	if err != nil {
		return "", err
	}
	defer db.Close()
	err = db.Update(func(tx *store.Tx) error {
		for i := range manyTokens {
			t := store.Token{Name: fmt.Sprintf("token-%05d", i), Type: store.TypeBearer, Active: true, State: store.StateAuthorized,
				BaseURL: "https://api.example.com", LastMessage: "provider answered invalid_grant: the refresh token expired"}
			t.Secret.AccessToken = fmt.Sprintf("bearer-secret-%05d", i)
			if err := tx.CreateToken(t); err != nil {
				return fmt.Errorf("token %d: %w", i, err)
			}
		}
		return nil
	})
	return home, err
}
