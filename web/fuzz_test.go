package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/tokens"
)

// FuzzCallbackQuery sends arbitrary queries to /oauth/callback from a
// signed-in session with one authorization pending: the console must never
// fail (5xx) or panic, must accept only well-formed callbacks, and only the
// state it issued may consume the pending authorization.
func FuzzCallbackQuery(f *testing.F) {
	const issued = "issued-state-0123456789"
	for _, seed := range []string{
		"state=" + issued + "&code=abc",
		"state=" + issued + "&error=access_denied&error_description=The+user+said+no",
		"state=" + issued + "&error=server_error&error_uri=https%3A%2F%2Fx&iss=https%3A%2F%2Fissuer",
		"state=other&code=abc",
		"", "code=abc", "state=", "state=%zz&code=1", "state=a&state=b&code=c", "state=" + issued + ";code=c",
		"state=" + issued + "&code=a&code=b", "error=access_denied", "state=" + strings.Repeat("é", 300) + "&code=x",
		"state=" + issued + "&code=%00%ff", "&&&=&=",
	} {
		f.Add(seed)
	}
	e := newEnv(f, envOpts{})
	// The token endpoint refuses connections at once, so an exchange fails fast.
	e.addProvider("p", "http://127.0.0.1:1")
	e.addToken("api", "p", nil)
	sess, cookie := e.srv.sessions.create(e.adminSet(), "127.0.0.1")
	issue := func() {
		e.srv.pending.add(&tokens.Authorization{Token: "api", State: issued, RedirectURI: e.srv.callback, Created: e.clock.Now()}, sess.id, e.clock.Now())
	}
	issue()
	f.Fuzz(func(t *testing.T, raw string) {
		req := e.request("GET", "/oauth/callback", nil)
		req.URL.RawQuery = raw
		req.AddCookie(&http.Cookie{Name: e.srv.sessionCookie(), Value: cookie})
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusSeeOther, http.StatusBadRequest, http.StatusForbidden:
		default:
			t.Fatalf("callback ?%q: status %d\n%s", raw, rec.Code, rec.Body)
		}
		q, err := parseCallback(raw)
		if err == nil {
			if s := q.Get("state"); s == "" || len(s) > 512 || len(q["state"]) != 1 || q.Get("code")+q.Get("error") == "" {
				t.Fatalf("parseCallback accepted %q", raw)
			}
		} else if rec.Code != http.StatusBadRequest {
			t.Fatalf("malformed callback ?%q (%v) answered %d, want 400", raw, err, rec.Code)
		}
		consumed := pendingIn(t, e.db) == 0
		if want := err == nil && q.Get("state") == issued; consumed != want {
			t.Fatalf("callback ?%q: pending authorization consumed = %v, want %v", raw, consumed, want)
		}
		if consumed {
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/tokens/api" {
				t.Fatalf("the issued state answered %d to %q, want the token page", rec.Code, rec.Header().Get("Location"))
			}
			issue()
		}
	})
}
