package store

import (
	"errors"
	"testing"
)

// TestTokenWithProvider covers the one read of a token with its provider
// that the token manager, the console and the command line share.
func TestTokenWithProvider(t *testing.T) {
	db := openTestDB(t)
	must(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateProvider(testProvider("graph")); err != nil {
			return err
		}
		if err := tx.CreateProvider(testProvider("gone")); err != nil {
			return err
		}
		for _, tk := range []Token{testToken("mail", "graph"), testToken("orphan", "gone"),
			{Name: "static", Type: TypeBearer, Active: true, Secret: Secret{AccessToken: "bearer-SECRET"}}} {
			if err := tx.CreateToken(tk); err != nil {
				return err
			}
		}
		return tx.DeleteProvider("gone", true)
	}))
	tests := []struct {
		token        string
		wantProvider string // "" for none
		wantErr      error
	}{
		{"mail", "graph", nil},
		{"orphan", "", nil},
		{"static", "", nil},
		{"missing", "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			var tk Token
			var p *Provider
			err := db.View(func(tx *Tx) (err error) { tk, p, err = tx.TokenWithProvider(tt.token); return err })
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("TokenWithProvider(%q): err = %v, want %v", tt.token, err, tt.wantErr)
			}
			if err == nil && tk.Name != tt.token {
				t.Errorf("TokenWithProvider(%q) returned token %q", tt.token, tk.Name)
			}
			switch {
			case tt.wantProvider == "" && p != nil:
				t.Errorf("TokenWithProvider(%q): provider %q, want none", tt.token, p.Name)
			case tt.wantProvider != "" && (p == nil || p.Name != tt.wantProvider || p.ClientSecret == ""):
				t.Errorf("TokenWithProvider(%q): provider %+v, want %q with its secret", tt.token, p, tt.wantProvider)
			}
		})
	}

	t.Run("damaged provider", func(t *testing.T) {
		tamper(t, db.Path(), bucketProviders, []byte("graph"), func(rec map[string]any) { rec["clientId"] = "forged" })
		var tk Token
		var p *Provider
		err := db.View(func(tx *Tx) (err error) { tk, p, err = tx.TokenWithProvider("mail"); return err })
		if !IsProviderDamaged(err) || !errors.Is(err, ErrDamaged) {
			t.Fatalf("TokenWithProvider with a damaged provider: err = %v, want a damaged provider", err)
		}
		if tk.Name != "mail" || p != nil {
			t.Errorf("TokenWithProvider with a damaged provider: token %q, provider %v; want the token and no provider", tk.Name, p)
		}
		must(t, db.Update(func(tx *Tx) error { return tx.DeleteProvider("graph", true) }))
	})
}
