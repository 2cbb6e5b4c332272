package bindings

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/dop251/goja"
)

// TestNewHTTPRequestMatchesParsing shows that newHTTPRequest, which copies
// the request's parsed URL, builds the request http.NewRequestWithContext
// builds from the URL rendered and parsed again (as requests were built
// before): the same bytes on the wire, every field (context, method,
// protocol, headers, Host, ContentLength) and body, the same body again on
// a redirect (GetBody), the same error for a method NewRequest refuses,
// with and without a body, and a URL that reads the same to a Signer, a
// redirect and a message (its rendering, path, escaped path, query). Only
// RawPath and ForceQuery may differ, where they change neither rendering
// (a RawPath that does not encode Path is ignored; ForceQuery is ignored
// when there is a query).
func TestNewHTTPRequestMatchesParsing(t *testing.T) {
	a := &api{vm: goja.New()}
	tests := []struct {
		url   string
		query string // as .query() encoded it
		body  string
	}{
		{url: "http://127.0.0.1:8080/data"},
		{url: "https://api.example.com"},
		{url: "https://api.example.com/"},
		{url: "https://api.example.com:/v1/items"},
		{url: "https://api.example.com:443/v1/items?x=1&y=%20z"},
		{url: "https://api.example.com/v1/items?", query: "a=1"},
		{url: "https://api.example.com/v1/items?x=1", query: "$top=10&$filter=a%20eq%20'b'"},
		{url: "https://api.example.com/a%2Fb/c%20d/é", body: "hello"},
		{url: "https://api.example.com/a b/%7Euser;p=1,2"},
		{url: "https://user:p%40ss@api.example.com/v1"},
		{url: "https://user@api.example.com/v1?q=1#frag"},
		{url: "http://[::1]:9000/x"},
		{url: "http://[::1]:/x"},
		{url: "http://[fe80::1%25en0]:8080/x"},
		{url: "HTTPS://API.Example.COM/Path?Q=1"},
		{url: "https://api.example.com/a%25b"},
		{url: "https://api.example.com/a%2Fb/c"},
		{url: "https://api.example.com/items?"},
		{url: "https://api.example.com//double//slash/", query: "k=v"},
		{url: "https://api.example.com/?a=%ZZ&b"},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodGet, http.MethodPost, "PROPFIND", "bad method"} {
			t.Run(method+" "+tt.url, func(t *testing.T) {
				u, err := a.parseURL(a.vm.ToValue(tt.url), "test")
				if err != nil {
					t.Fatalf("parseURL: %v", err)
				}
				r := &request{method: method, url: u, query: []byte(tt.query)}
				if tt.body != "" || method == "PROPFIND" { // PROPFIND: an empty body that is not nil
					r.body = []byte(tt.body)
				}
				ctx := context.WithValue(context.Background(), r, "this request's")
				var old *http.Request
				var oldErr error
				if r.body != nil {
					old, oldErr = http.NewRequestWithContext(ctx, r.method, r.targetURL(), bytes.NewReader(r.body))
				} else {
					old, oldErr = http.NewRequestWithContext(ctx, r.method, r.targetURL(), nil)
				}
				got, err := newHTTPRequest(ctx, r.method, r.target(), r.body, nil)
				if (err != nil) != (oldErr != nil) || (err != nil && err.Error() != oldErr.Error()) {
					t.Fatalf("newHTTPRequest: %v; NewRequest: %v", err, oldErr)
				}
				if err != nil {
					return
				}
				sameRequest(t, got, old)
				if got.URL == u {
					t.Error("the request shares the builder's URL; a Signer adding a parameter would change it")
				}
				h := http.Header{"Accept": {"*/*"}}
				if got, err := newHTTPRequest(ctx, r.method, r.target(), r.body, h); err != nil || !reflect.DeepEqual(got.Header, h) {
					t.Errorf("with a header: %v, %v; want %v", got.Header, err, h)
				}
			})
		}
	}
}

// sameRequest fails t unless got reads, is sent and is sent again (GetBody,
// on a redirect) as want is, and has its fields.
func sameRequest(t *testing.T, got, want *http.Request) {
	t.Helper()
	if g, o := urlReading(got.URL), urlReading(want.URL); !reflect.DeepEqual(g, o) {
		t.Errorf("URL reads %q, want %q", g, o)
	}
	fields := func(r *http.Request) http.Request {
		c := *r
		c.URL, c.Body, c.GetBody = nil, nil, nil
		return c
	}
	if g, w := fields(got), fields(want); !reflect.DeepEqual(g, w) {
		t.Errorf("request %+v, want %+v", g, w)
	}
	if (got.Body == nil) != (want.Body == nil) || (got.Body == http.NoBody) != (want.Body == http.NoBody) || (got.GetBody == nil) != (want.GetBody == nil) {
		t.Errorf("Body %v, GetBody %v; want %v, %v", got.Body, got.GetBody != nil, want.Body, want.GetBody != nil)
	}
	if got.GetBody != nil {
		g, _ := got.GetBody()
		w, _ := want.GetBody()
		gb, _ := io.ReadAll(g)
		wb, _ := io.ReadAll(w)
		if !bytes.Equal(gb, wb) || (g == http.NoBody) != (w == http.NoBody) {
			t.Errorf("GetBody gives %q, want %q", gb, wb)
		}
	}
	if w, o := wire(t, got), wire(t, want); w != o {
		t.Errorf("on the wire:\n%s\nwant:\n%s", w, o)
	}
}

// urlReading is what a Signer, a redirect and a message read of u.
func urlReading(u *url.URL) []string {
	return []string{u.String(), u.Redacted(), u.RequestURI(), u.Scheme, u.Host, u.Hostname(), u.Port(),
		u.Path, u.EscapedPath(), u.RawQuery, u.User.String(), u.Opaque, u.Fragment}
}

func wire(t *testing.T, req *http.Request) string {
	t.Helper()
	var b bytes.Buffer
	if err := req.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestFinalURLAsSent shows that a response's URL rendered on first use is
// the URL the request went to, rendered when it was sent.
func TestFinalURLAsSent(t *testing.T) {
	a := &api{vm: goja.New()}
	u, err := a.parseURL(a.vm.ToValue("https://api.example.com/v1/items?x=1"), "test")
	if err != nil {
		t.Fatal(err)
	}
	r := &request{method: http.MethodGet, url: u, query: []byte("y=2")}
	want := r.targetURL()
	res := &result{reqURL: r.url, query: r.query, asSent: true}
	r.query = append(r.query, "&z=3"...) // the builder changes after sending
	if got := res.finalURL(); got != want {
		t.Errorf("finalURL() = %q, want %q", got, want)
	}
}
