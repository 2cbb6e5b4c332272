package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// benchPage measures one signed-in page, through the whole handler chain:
// the session check (one store read), the page's reads and the template.
func benchPage(b *testing.B, tokens int, path string) {
	e := newEnv(b, envOpts{})
	e.addProvider("p", "https://login.example.com")
	for i := range tokens {
		e.addToken(fmt.Sprintf("token-%03d", i), "p", func(t *store.Token) {
			t.BaseURL = "https://api.example.com"
			t.LastMessage = "provider answered invalid_grant: the refresh token expired"
		})
	}
	_, cookie := e.srv.sessions.create(e.adminSet(), "127.0.0.1")
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
}

func BenchmarkTokenList50(b *testing.B)  { benchPage(b, 50, "/tokens") }
func BenchmarkTokenPage(b *testing.B)    { benchPage(b, 50, "/tokens/token-007") }
func BenchmarkProviderList(b *testing.B) { benchPage(b, 50, "/providers") }
