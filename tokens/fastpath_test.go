package tokens

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/internal/weborigin"
	"github.com/scriptrun/scriptrun/store"
)

// The fast paths of Sign answer exactly as the checks they shortcut: these
// tests hold each one against the slow check it stands for.

// plainPathCases are request paths for pathPrefixBase's prefix; settled says
// whether plainPathHasPrefix answers them itself (the common paths must, or
// the fast path is never taken).
var plainPathCases = []struct {
	path    string
	settled bool
}{
	{"/api/v4/projects/42/issues", true},
	{"/api/v4/projects/42/", true},
	{"/api/v4/projects/42", true},
	{"/api/v4/projects/42/issues/7/notes.json", true},
	{"/api/v4/projects/42/a-b_c~d!$&'()*+,=:@", true},
	{"/api/v4/projects/43/issues", true},
	{"/api/v4/projects/420", true},
	{"/api/v4/projects", true},
	{"/api/v4/Projects/42/issues", true},
	{"/", true},
	{"/api/v4/projects/42/.../x", true}, // "..." is a name, not a dot segment
	{"", false},
	{"api/v4/projects/42", false},
	{"/api/v4/projects/42//issues", false},
	{"//api/v4/projects/42", false},
	{"/api/v4/projects/42/./issues", false},
	{"/api/v4/projects/42/../43", false},
	{"/api/v4/projects/42/..", false},
	{"/api/v4/projects/42/.", false},
	{"/api/v4/projects/%34%32/issues", false},
	{"/api/v4/projects/42/..%2F43", false},
	{"/api/v4/projects/42/..;/43", false},
	{"/api/v4/projects/42;x/issues", false},
	{`/api/v4/projects/42/..\43`, false},
	{"/api/v4/projects/42/caf\u00e9", false},
	{"/api/v4/projects/42/\uff0e\uff0e/43", false},
	{"/api/v4/projects/42/a b", false},
	{"/api/v4/projects/42/\x00", false},
	{"/api/v4/projects/42/\x7f", false},
}

// plainPathHasPrefix settles the plain paths, and only with the answer both
// readings give; every spelling of TestBindingPathPrefix agrees too.
func TestPlainPathHasPrefix(t *testing.T) {
	b, err := newBinding(pathPrefixBase)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range plainPathCases {
		inside, settled := plainPathHasPrefix(tt.path, b.prefix)
		if settled != tt.settled {
			t.Errorf("%q: settled %v, want %v", tt.path, settled, tt.settled)
		}
		if want := readingsHavePrefix(tt.path, b.prefix); settled && inside != want {
			t.Errorf("%q: fast path says inside=%v, both readings %v", tt.path, inside, want)
		}
	}
	for _, tt := range pathPrefixTargets {
		u, err := url.Parse(tt.target)
		if err != nil {
			t.Fatal(err)
		}
		p := u.EscapedPath()
		if inside, settled := plainPathHasPrefix(p, b.prefix); settled && inside != readingsHavePrefix(p, b.prefix) {
			t.Errorf("%q: fast path says inside=%v, both readings disagree", p, inside)
		}
	}
}

// FuzzPlainPath: whenever plainPathHasPrefix settles a path, for any
// prefix, its answer is the answer of both readings.
func FuzzPlainPath(f *testing.F) {
	for _, tt := range plainPathCases {
		f.Add("api/v4/projects/42", tt.path)
	}
	f.Add("a//b", "/a//b/c")
	f.Add("a/", "/a/")
	f.Add("", "/")
	f.Fuzz(func(t *testing.T, prefix, path string) {
		segs := trimEmpty(strings.Split(prefix, "/"))
		if inside, settled := plainPathHasPrefix(path, segs); settled && inside != readingsHavePrefix(path, segs) {
			t.Fatalf("prefix %q, path %q: fast path says inside=%v, both readings disagree", segs, path, inside)
		}
	})
}

// originCases pair a base URL with a target; built by hand where url.Parse
// would normalise what the case is about (an upper-case scheme).
var originCases = []struct{ base, target *url.URL }{
	{mustURL("https://api.example.com"), mustURL("https://api.example.com/x")},
	{mustURL("https://api.example.com"), mustURL("https://API.example.com:443/x")},
	{mustURL("https://api.example.com"), mustURL("http://api.example.com/x")},
	{mustURL("https://api.example.com"), &url.URL{Scheme: "HTTPS", Host: "api.example.com"}},
	{mustURL("https://api.example.com"), mustURL("https://api.example.com.evil.io/x")},
	{mustURL("https://api.example.com:8443"), mustURL("https://api.example.com:08443/x")},
	{mustURL("http://127.0.0.1:8080"), mustURL("http://127.0.0.1:8080/x")},
	{mustURL("http://127.0.0.1:8080"), mustURL("http://127.0.0.2:8080/x")},
	{mustURL("http://[::1]:8080"), mustURL("http://[0:0:0:0:0:0:0:1]:8080/x")},
	{mustURL("http://:80"), mustURL("http://:80/x")}, // no host: never the same origin
	{mustURL("http:///x"), mustURL("http:///x")},
	{mustURL("mailto:a@example.com"), mustURL("mailto:a@example.com")},
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// binding.sameOrigin and sameAuthority answer as weborigin does.
func TestSameOriginAgrees(t *testing.T) {
	for _, tt := range originCases {
		checkOriginAgrees(t, tt.base, tt.target)
		checkOriginAgrees(t, tt.target, tt.base)
	}
}

// FuzzSameOrigin: binding.sameOrigin and sameAuthority answer as weborigin
// does for any pair of URLs.
func FuzzSameOrigin(f *testing.F) {
	for _, tt := range originCases {
		f.Add(tt.base.String(), tt.target.String())
	}
	f.Fuzz(func(t *testing.T, base, target string) {
		bu, err := url.Parse(base)
		if err != nil {
			return
		}
		tu, err := url.Parse(target)
		if err != nil {
			return
		}
		checkOriginAgrees(t, bu, tu)
	})
}

func checkOriginAgrees(t *testing.T, base, target *url.URL) {
	t.Helper()
	b := &binding{origin: base, want: weborigin.Of(base)}
	if got, want := b.sameOrigin(target), weborigin.Same(base, target); got != want {
		t.Errorf("sameOrigin(%q, %q) = %v, weborigin.Same %v", base, target, got, want)
	}
	if got, want := sameAuthority(base.Host, target), weborigin.SameAuthority(base.Host, target); got != want {
		t.Errorf("sameAuthority(%q, %q) = %v, weborigin.SameAuthority %v", base.Host, target, got, want)
	}
	if got, want := sameAuthority(target.Host, target), weborigin.SameAuthority(target.Host, target); got != want {
		t.Errorf("sameAuthority(%q, %q) = %v, weborigin.SameAuthority %v", target.Host, target, got, want)
	}
}

// Requests signed with one cached token share its Authorization value, and
// what is done to one request's header reaches no other.
func TestSignSharedHeader(t *testing.T) {
	e := newEnv(t, envOpts{})
	rv := newReceiver(t)
	e.put(t, staticToken("bearer", store.TypeBearer, rv.URL))
	sign := func() *http.Request {
		t.Helper()
		req, _ := http.NewRequest("GET", rv.URL+"/x", nil)
		if err := e.m.Sign(context.Background(), "bearer", req); err != nil {
			t.Fatal(err)
		}
		return req
	}
	want := []string{"Bearer bearer-TOKEN-s3cret"}
	first, second := sign(), sign()
	first.Header.Add("Authorization", "Bearer other")
	if got := second.Header["Authorization"]; !slices.Equal(got, want) {
		t.Fatalf("after Add on another request: %q, want %q", got, want)
	}
	first.Header.Set("Authorization", "Bearer other")
	first.Header.Del("Authorization")
	if got := sign().Header["Authorization"]; !slices.Equal(got, want) {
		t.Fatalf("the next request: %q, want %q", got, want)
	}
	if got := second.Header["Authorization"]; !slices.Equal(got, want) {
		t.Fatalf("after Set and Del on another request: %q, want %q", got, want)
	}
}

// What Sign keeps with a cached token (its Authorization value, its
// binding's origin and path) is rebuilt from the store whenever the token
// is: after Invalidate and after CacheTTL. Until then the cached copy signs
// as before (stale), which shows the cache was in use.
func TestSignCacheFollowsChanges(t *testing.T) {
	rv, other := newReceiver(t), newReceiver(t)
	const oldBearer, newBearer = "Bearer bearer-TOKEN-s3cret", "Bearer bearer-TOKEN-s3cret-2"
	invalidate := func(e *env) { e.m.Invalidate("t") }
	newSecret := func(tok *store.Token) { tok.Secret.AccessToken += "-2" }
	for _, tt := range []struct {
		name   string
		typ    string
		edit   func(*store.Token)
		apply  func(*env)
		stale  []signCheck // before apply, beside the first request's header
		checks []signCheck // after apply
	}{
		{"new credential, Invalidate", store.TypeBearer, newSecret, invalidate, nil,
			[]signCheck{{target: rv.URL + "/api/x", header: newBearer}}},
		{"new credential, Invalidate all", store.TypeBearer, newSecret, func(e *env) { e.m.Invalidate("") }, nil,
			[]signCheck{{target: rv.URL + "/api/x", header: newBearer}}},
		{"new credential, CacheTTL passes", store.TypeBearer, newSecret, func(e *env) { e.clock.Add(3 * time.Second) }, nil,
			[]signCheck{{target: rv.URL + "/api/x", header: newBearer}}},
		{"new password", store.TypeBasic, func(tok *store.Token) { tok.Secret.Password = "pw-2" }, invalidate, nil,
			[]signCheck{{target: rv.URL + "/api/x", header: "Basic " + base64.StdEncoding.EncodeToString([]byte("svc-user:pw-2"))}}},
		{"base URL moved to another host", store.TypeBearer, func(tok *store.Token) { tok.BaseURL = other.URL + "/api" }, invalidate,
			[]signCheck{{target: other.URL + "/api/x", code: CodeHostMismatch}},
			[]signCheck{{target: rv.URL + "/api/x", code: CodeHostMismatch}, {target: other.URL + "/api/x", header: oldBearer}}},
		{"base URL bound to another path", store.TypeBearer, func(tok *store.Token) { tok.BaseURL = rv.URL + "/v2" }, invalidate,
			[]signCheck{{target: rv.URL + "/v2/x", code: CodeHostMismatch}},
			[]signCheck{{target: rv.URL + "/api/x", code: CodeHostMismatch}, {target: rv.URL + "/v2/x", header: oldBearer}}},
		{"path binding removed", store.TypeBearer, func(tok *store.Token) { tok.BaseURL = rv.URL }, invalidate,
			[]signCheck{{target: rv.URL + "/x", code: CodeHostMismatch}},
			[]signCheck{{target: rv.URL + "/x", header: oldBearer}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			tok := staticToken("t", tt.typ, rv.URL+"/api")
			e.put(t, tok)
			first := signCheck{target: rv.URL + "/api/x"}
			first.header = first.sign(t, e)
			tt.edit(&tok)
			e.put(t, tok)
			for _, c := range append([]signCheck{first}, tt.stale...) {
				c.sign(t, e)
			}
			tt.apply(e)
			for _, c := range tt.checks {
				c.sign(t, e)
			}
		})
	}
}

// signCheck is one request Sign is asked to sign: the Authorization it must
// get, or the code it must be refused with (adding nothing).
type signCheck struct {
	target, header, code string
}

// sign signs a GET of c.target with token "t" and checks the outcome; it
// returns the Authorization value when c.header is "" and no code is wanted.
func (c signCheck) sign(t *testing.T, e *env) string {
	t.Helper()
	req, _ := http.NewRequest("GET", c.target, nil)
	err := e.m.Sign(context.Background(), "t", req)
	got := req.Header.Get("Authorization")
	switch {
	case c.code != "":
		if CodeOf(err) != c.code || got != "" {
			t.Errorf("%s: %v (Authorization set %v), want %s and nothing added", c.target, err, got != "", c.code)
		}
	case err != nil:
		t.Errorf("%s: %v", c.target, err)
	case c.header != "" && got != c.header:
		t.Errorf("%s: Authorization %q, want %q", c.target, got, c.header)
	}
	return got
}

// After a refresh, Sign sends the new access token, not the cached value.
func TestSignAfterRefresh(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	header := func() string {
		req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
		if err := e.m.Sign(context.Background(), "api", req); err != nil {
			t.Fatal(err)
		}
		return req.Header.Get("Authorization")
	}
	before := header()
	if want := "Bearer " + e.token(t, "api").Secret.AccessToken; before != want {
		t.Fatalf("before the refresh: Authorization is not the stored access token")
	}
	if _, err := e.m.Refresh(context.Background(), "api"); err != nil {
		t.Fatal(err)
	}
	after := header()
	if want := "Bearer " + e.token(t, "api").Secret.AccessToken; after != want || after == before {
		t.Errorf("after the refresh: Authorization changed %v, is the new stored access token %v", after != before, after == want)
	}
}

// BenchmarkPathBindingPlain is BenchmarkPathBinding for a plain request
// path, the common case, which plainPathHasPrefix settles.
func BenchmarkPathBindingPlain(b *testing.B) {
	e, _ := newEntry(store.Token{Name: "x", BaseURL: "https://gitlab.example.com/api/v4/projects/42/"}, nil, time.Now())
	u, _ := url.Parse("https://gitlab.example.com/api/v4/projects/42/issues/7/notes?sort=asc")
	b.ReportAllocs()
	for b.Loop() {
		if err := checkHost(e, u); err != nil {
			b.Fatal(err)
		}
	}
}

// A token of a type without a signer (which the store refuses to save) is
// refused rather than sent with an empty Authorization header.
func TestSignUnknownType(t *testing.T) {
	e, err := newEntry(store.Token{Name: "odd", Type: "carrier-pigeon", Active: true}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "https://api.example.com/x", nil)
	if err := e.sign(req, time.Now()); CodeOf(err) != CodeStore || len(req.Header) != 0 {
		t.Errorf("sign: %v, header %v; want %s and nothing added", err, req.Header, CodeStore)
	}
}

// With the real clock (Options.Now unset) a cached entry's age is read off
// the monotonic clock: Rejects answers from the cached copy within
// CacheTTL, reads the store again after Invalidate, and once CacheTTL has
// passed.
func TestCacheAgeRealClock(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.authorize(t, "api")
	for _, tt := range []struct {
		name  string
		ttl   time.Duration
		renew func(*Manager) // what makes m read the new rule
	}{
		{"Invalidate", time.Hour, func(m *Manager) { m.Invalidate("api") }},
		{"CacheTTL passes", 20 * time.Millisecond, func(*Manager) {}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.setRejection(t, store.Rejection{})
			m := New(Options{DB: e.db, CacheTTL: tt.ttl})
			defer m.Close()
			if rejected, _ := m.Rejects("api", 403, nil); rejected {
				t.Fatal("403 rejected under the default rule")
			}
			e.setRejection(t, store.Rejection{Statuses: []int{401, 403}})
			if tt.ttl == time.Hour {
				if rejected, _ := m.Rejects("api", 403, nil); rejected {
					t.Fatal("within CacheTTL the cached rule answers: 403 rejected")
				}
			}
			tt.renew(m)
			for deadline := time.Now().Add(10 * time.Second); ; {
				if rejected, _ := m.Rejects("api", 403, nil); rejected {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the new rule (403 rejects) was never read")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}
