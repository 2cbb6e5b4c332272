package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// apply refuses a token whose base URL has a path servers read in more than
// one way, on the line that sets it, and changes nothing; a plain path is
// applied as given (it binds the token).
func TestApplyBaseURLPath(t *testing.T) {
	const head = "providers:\n  - name: g\n    clientId: c\n    authorizationUrl: https://a.example.com/a\n    tokenUrl: https://a.example.com/t\ntokens:\n  - name: t\n    provider: g\n"
	db := newDB(t)
	_, err := Apply(db, []byte(head+"    baseUrl: https://gitlab.example.com/api/v4/projects/42/../43/\n"), Options{Getenv: func(string) string { return "" }})
	var es Errors
	if !errors.As(err, &es) || !strings.Contains(err.Error(), "dot segment") || es[0].Line != 9 || es[0].Path != "tokens[0].baseUrl" {
		t.Fatalf("Apply: %v; want an error on line 9, tokens[0].baseUrl, about the dot segment", err)
	}
	if _, err := Apply(db, []byte(head+"    baseUrl: https://gitlab.example.com/api/v4/projects/42/\n"), Options{Getenv: func(string) string { return "" }}); err != nil {
		t.Fatalf("Apply with a plain path: %v", err)
	}
	db.View(func(tx *store.Tx) error {
		tk, err := tx.Token("t")
		if err != nil || tk.BaseURL != "https://gitlab.example.com/api/v4/projects/42/" {
			t.Errorf("token t: %+v, %v", tk, err)
		}
		return nil
	})
}
