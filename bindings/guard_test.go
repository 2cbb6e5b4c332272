package bindings_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/scriptrun/scriptrun/bindings"
)

// The client that guards a signed request's redirects is built once and
// reused (guardRedirects), so one runtime's signed requests share it: it
// must be the one for their own token, origin and Signer's headers. One
// script sends, in turn and each several times, requests signed with two
// tokens at two origins, whose Signer sets a header named after the
// request's number half of the time, all redirected within their origin,
// to the other origin, and out of one token's permitted path; each
// arrival is checked against what that request alone allows.
func TestRedirectGuardPerTokenOriginAndHeaders(t *testing.T) {
	type seen struct {
		Server string
		Path   string
		Keys   map[string]string // the credential headers received
	}
	var mu sync.Mutex
	var got []seen
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/redirect" {
				w.Header().Set("Location", r.URL.Query().Get("to"))
				w.WriteHeader(http.StatusFound)
				return
			}
			s := seen{Server: name, Path: r.URL.Path, Keys: map[string]string{}}
			for k, v := range r.Header {
				if k == "Authorization" || strings.HasPrefix(k, "X-Key") {
					s.Keys[k] = v[0]
				}
			}
			mu.Lock()
			got = append(got, s)
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(s)
		})
	}
	a, b := httptest.NewServer(handler("a")), httptest.NewServer(handler("b"))
	defer a.Close()
	defer b.Close()
	var n int
	var nmu sync.Mutex
	signer := &fakeSigner{
		SignFn: func(_ context.Context, token string, req *http.Request) error {
			nmu.Lock()
			n++
			i := n
			nmu.Unlock()
			// 127.0.0.1 at either port is one domain to net/http, which
			// then keeps Authorization on a redirect: only the guard drops it.
			req.Header.Set("Authorization", "Bearer "+token+"-secret")
			if i%2 == 0 {
				req.Header.Set("X-Key-"+strconv.Itoa(i%4), token+"-secret")
			}
			return nil
		},
		PermitsFn: func(token string, u *neturl.URL) bool {
			return token != "bound" || !strings.HasPrefix(u.Path, "/private/")
		},
	}
	src := `
const tokens = ['free', 'bound'];
const sends = [
  (u, tok) => http.get(u).apiTokenAuth(tok).send().json(),
  async (u, tok) => (await http.get(u).apiTokenAuth(tok).sendAsync()).json(),
  async (u, tok) => (await fetch(u, {apiTokenAuth: tok})).json(),
];
(async () => {
  for (let round = 0; round < 3; round++) {
    for (const send of sends) {
      for (const tok of tokens) {
        for (const [from, to] of [[A, A + '/echo'], [A, B + '/echo'], [B, B + '/echo'], [B, A + '/echo'], [A, A + '/private/echo'], [B, B + '/private/echo']]) {
          const res = await send(from + '/redirect?to=' + encodeURIComponent(to), tok);
          record(tok, from, to, JSON.stringify(res.Keys));
        }
      }
    }
  }
})();
`
	type call struct{ token, from, to, keys string }
	var calls []call
	globals := map[string]any{"A": a.URL, "B": b.URL, "record": func(tok, from, to, keys string) { calls = append(calls, call{tok, from, to, keys}) }}
	if err := runJS(context.Background(), "guard.js", src, bindings.Options{Signer: signer}, globals); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3*3*2*6 {
		t.Fatalf("%d calls recorded, want %d", len(calls), 3*3*2*6)
	}
	kept := 0
	for _, c := range calls {
		var keys map[string]string
		if err := json.Unmarshal([]byte(c.keys), &keys); err != nil {
			t.Fatal(err)
		}
		sameOrigin := strings.HasPrefix(c.to, c.from+"/")
		permitted := c.token != "bound" || !strings.Contains(c.to, "/private/")
		for k, v := range keys {
			if !sameOrigin || !permitted {
				t.Errorf("%s from %s to %s: the credential %s arrived", c.token, c.from, c.to, k)
			} else if v != "Bearer "+c.token+"-secret" && v != c.token+"-secret" {
				t.Errorf("%s from %s to %s: %s is %q, another token's", c.token, c.from, c.to, k, v)
			}
		}
		if sameOrigin && permitted {
			if keys["Authorization"] == "" {
				t.Errorf("%s from %s to %s: the credential was dropped on a redirect that keeps it", c.token, c.from, c.to)
			}
			kept++
		}
	}
	if kept == 0 || kept == len(calls) {
		t.Fatalf("%d of %d calls kept the credential: the test proves nothing", kept, len(calls))
	}
}
