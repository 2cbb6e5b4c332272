package tokens

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/internal/weborigin"
	"github.com/scriptrun/scriptrun/store"
)

// A base URL with a path binds the token to that path, segment by segment,
// after resolving dot segments and percent-encoding in every way a server
// might: no spelling of a path outside the prefix gets the credential.
func TestBindingPathPrefix(t *testing.T) {
	const base = pathPrefixBase
	tests := pathPrefixTargets
	e, err := newEntry(store.Token{Name: "project-42", BaseURL: base}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.target)
		if err != nil {
			t.Fatalf("%s: %v", tt.target, err)
		}
		err = checkHost(e, u)
		if (err == nil) != tt.ok {
			t.Errorf("base %s, target %s: err %v, want allowed=%v", base, tt.target, err, tt.ok)
		}
		if err != nil && CodeOf(err) != CodeHostMismatch {
			t.Errorf("target %s: code %q, want %s", tt.target, CodeOf(err), CodeHostMismatch)
		}
		if err != nil && weborigin.Same(e.binding.origin, u) && !strings.Contains(err.Error(), "paths under "+base) {
			t.Errorf("target %s: message %q does not say which path the token is for", tt.target, err)
		}
	}
}

// pathPrefixBase binds the tokens of TestBindingPathPrefix to one
// GitLab project; pathPrefixTargets are spellings of paths inside it (ok)
// and outside it.
const pathPrefixBase = "https://gitlab.example.com/api/v4/projects/42/"

var pathPrefixTargets = []struct {
	target string
	ok     bool
}{
	{"https://gitlab.example.com/api/v4/projects/42/issues", true},
	{"https://gitlab.example.com/api/v4/projects/42/", true},
	{"https://gitlab.example.com/api/v4/projects/42", true},
	{"https://GITLAB.example.com:443/api/v4/projects/42/issues?state=opened", true},
	{"https://gitlab.example.com/api/v4/projects/42/repository/files/app%2Fmodels%2Fkey.rb/raw", true}, // GitLab encodes file paths
	{"https://gitlab.example.com/api/v4/projects/42/./issues", true},
	{"https://gitlab.example.com/api/v4/projects/42/issues/../merge_requests", true},
	{"https://gitlab.example.com/api/v4/projects/%34%32/issues", true},
	{"https://gitlab.example.com/api/v4/projects/42//issues", true},

	{"https://gitlab.example.com/api/v4/projects/43/issues", false},
	{"https://gitlab.example.com/api/v4/projects/420", false},
	{"https://gitlab.example.com/api/v4/projects/42x/issues", false},
	{"https://gitlab.example.com/api/v4/projects", false},
	{"https://gitlab.example.com/", false},
	{"https://gitlab.example.com", false},
	{"https://gitlab.example.com/api/v4/projects/42/../43", false},
	{"https://gitlab.example.com/api/v4/projects/42/../43/issues", false},
	{"https://gitlab.example.com/api/v4/projects/42/..", false},
	{"https://gitlab.example.com/api/v4/projects/42/%2e%2e/43", false},
	{"https://gitlab.example.com/api/v4/projects/42/%2E%2E/43", false},
	{"https://gitlab.example.com/api/v4/projects/42/.%2e/43", false},
	{"https://gitlab.example.com/api/v4/projects/42/..%2F43", false},
	{"https://gitlab.example.com/api/v4/projects/42/..%2f..%2f43", false},
	{"https://gitlab.example.com/api/v4/projects/42%2F..%2F43", false},
	{"https://gitlab.example.com/api/v4/projects%2F42/issues", false},
	{"https://gitlab.example.com/api/v4/projects/42/..%5C43", false},
	{"https://gitlab.example.com/api/v4/projects/42/..\\43", false},
	{"https://gitlab.example.com/api/v4/projects/42/%252e%252e/43", false},
	{"https://gitlab.example.com/api/v4/projects/42/..;/43", false},
	{"https://gitlab.example.com/api/v4/projects/42//../43", false},
	{"https://gitlab.example.com/api/v4/projects/42/%c0%ae%c0%ae/43", false},
	{"https://gitlab.example.com/api/v4/projects/42/%00/x", false},
	{"https://gitlab.example.com/api/v4/projects/42/%EF%BC%8E%EF%BC%8E/43", false}, // fullwidth dots, which NFKC makes ".."
	{"https://gitlab.example.com/api/v4/projects/42/..%EF%BC%8F43", false},         // fullwidth solidus
	{"https://gitlab.example.com/api/v4/projects/42/..%E2%88%9543", false},         // division slash
	{"https://gitlab.example.com/api/v4/projects/42/caf%C3%A9", true},
	{"https://gitlab.example.com/api/v4/Projects/42/issues", false},
	{"http://gitlab.example.com/api/v4/projects/42/issues", false},
	{"https://gitlab.example.com.evil.io/api/v4/projects/42/issues", false},
}

// Sign refuses a path outside the binding before adding anything, for every
// type, and Permits answers the same for the redirects bindings follow.
func TestSignRefusesPathsOutsideBinding(t *testing.T) {
	e := newEnv(t, envOpts{})
	rv := newReceiver(t)
	base := rv.URL + "/api/v4/projects/42/"
	query := staticToken("query", store.TypeAPIKey, base)
	query.KeyHeader, query.KeyPrefix, query.KeyQuery = "", "", "private_token"
	toks := []store.Token{staticToken("basic", store.TypeBasic, base), staticToken("header", store.TypeAPIKey, base), query,
		staticToken("bearer", store.TypeBearer, base), staticToken("hmac", store.TypeHMACBody, base)}
	for _, tok := range toks {
		e.put(t, tok)
		for _, tt := range []struct {
			path string
			ok   bool
		}{{"/api/v4/projects/42/issues", true}, {"/api/v4/projects/420/issues", false}, {"/api/v4/projects/42/../43/issues", false}} {
			req, _ := http.NewRequest("POST", rv.URL+tt.path+"?q=1", strings.NewReader("data"))
			if got := e.m.Permits(tok.Name, req.URL); got != tt.ok {
				t.Errorf("%s: Permits(%s) = %v, want %v", tok.Name, tt.path, got, tt.ok)
			}
			err := e.m.Sign(context.Background(), tok.Name, req)
			if tt.ok {
				if err != nil {
					t.Errorf("%s to %s: %v", tok.Name, tt.path, err)
				}
				continue
			}
			if CodeOf(err) != CodeHostMismatch {
				t.Errorf("%s to %s: %v, want TOKEN_HOST_MISMATCH", tok.Name, tt.path, err)
			}
			if len(req.Header) != 0 || req.URL.RawQuery != "q=1" {
				t.Errorf("%s to %s: a refused request was changed: header %v, query %q", tok.Name, tt.path, req.Header, req.URL.RawQuery)
			}
		}
	}
	if e.m.Permits("no-such-token", &url.URL{Scheme: "http", Host: "127.0.0.1"}) {
		t.Error("Permits for a missing token: true, want false")
	}
}

// A signed request goes to its URL's own host: a Host header naming another
// host is refused (HOST_MISMATCH) before anything is added, for every type;
// the URL's own host in another spelling is accepted.
func TestSignRefusesForeignHostHeader(t *testing.T) {
	e := newEnv(t, envOpts{})
	rv := newReceiver(t)
	query := staticToken("query", store.TypeAPIKey, rv.URL)
	query.KeyHeader, query.KeyPrefix, query.KeyQuery = "", "", "api_key"
	unbound := staticToken("unbound", store.TypeBearer, "")
	toks := []store.Token{staticToken("basic", store.TypeBasic, rv.URL), staticToken("header", store.TypeAPIKey, rv.URL), query,
		staticToken("bearer", store.TypeBearer, rv.URL), staticToken("hmac", store.TypeHMACBody, rv.URL), unbound}
	own := strings.TrimPrefix(rv.URL, "http://")
	for _, tok := range toks {
		e.put(t, tok)
		for _, tt := range []struct {
			host string
			ok   bool
		}{{"tenant-b.example", false}, {"localhost" + own[strings.Index(own, ":"):], false}, {own + ".evil.io", false}, {strings.ToUpper(own), true}, {"", true}} {
			req, _ := http.NewRequest("GET", rv.URL+"/x?q=1", nil)
			req.Host = tt.host
			err := e.m.Sign(context.Background(), tok.Name, req)
			if tt.ok {
				if err != nil {
					t.Errorf("%s with Host %q: %v", tok.Name, tt.host, err)
				}
				continue
			}
			if CodeOf(err) != CodeHostHeader {
				t.Errorf("%s with Host %q: %v, want HOST_MISMATCH", tok.Name, tt.host, err)
			}
			if len(req.Header) != 0 || req.URL.RawQuery != "q=1" {
				t.Errorf("%s with Host %q: a refused request was changed: header %v, query %q", tok.Name, tt.host, req.Header, req.URL.RawQuery)
			}
			for _, s := range staticSecrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("%s: refusal %q contains a secret", tok.Name, err)
				}
			}
		}
	}
	// oauth2, bound to the sandbox API's origin.
	e.authorize(t, "api")
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	req.Host = "tenant-b.example"
	if err := e.m.Sign(context.Background(), "api", req); CodeOf(err) != CodeHostHeader || req.Header.Get("Authorization") != "" {
		t.Errorf("oauth2 with a foreign Host: %v, Authorization set %v; want HOST_MISMATCH and nothing added", err, req.Header.Get("Authorization") != "")
	}
}

// BenchmarkPathBinding is the extra work of signing with a path-bound token:
// both readings of a typical request path.
func BenchmarkPathBinding(b *testing.B) {
	e, _ := newEntry(store.Token{Name: "x", BaseURL: "https://gitlab.example.com/api/v4/projects/42/"}, nil, time.Now())
	u, _ := url.Parse("https://gitlab.example.com/api/v4/projects/42/repository/files/app%2Fmodels%2Fkey.rb/raw?ref=main")
	b.ReportAllocs()
	for b.Loop() {
		if err := checkHost(e, u); err != nil {
			b.Fatal(err)
		}
	}
}
