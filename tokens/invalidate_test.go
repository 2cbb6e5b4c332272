package tokens

import (
	"context"
	"net/http"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// TestInvalidate: a token changed behind the manager's back (by another
// host) is seen at the next use once Invalidate drops the cached copy, for
// one token or for all, without waiting out CacheTTL.
func TestInvalidate(t *testing.T) {
	for _, name := range []string{"api", ""} {
		t.Run("name="+name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.authorize(t, "api")
			sign := func() error {
				req, _ := http.NewRequest(http.MethodGet, e.srv.URL()+"/me", nil)
				return e.m.Sign(context.Background(), "api", req)
			}
			if err := sign(); err != nil {
				t.Fatal(err)
			}
			// Another host deactivates the token; the clock does not move.
			if err := e.db.Update(func(tx *store.Tx) error {
				tok, err := tx.Token("api")
				if err != nil {
					return err
				}
				tok.Active = false
				return tx.PutToken(tok)
			}); err != nil {
				t.Fatal(err)
			}
			if err := sign(); err != nil {
				t.Fatalf("within CacheTTL the cached copy signs: %v", err)
			}
			e.m.Invalidate(name)
			if err := sign(); err == nil {
				t.Error("after Invalidate a deactivated token still signs")
			}
		})
	}
}
