package bindings

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// signatureOf finds exactly what a Signer added or changed: headers it set
// (with their values, and the credential after "Bearer "), query parameters
// it set, and nothing the script had set already, however many headers the
// request has (beyond what signedState holds without allocating too).
func TestSignatureOf(t *testing.T) {
	many := func(n int) http.Header {
		h := http.Header{}
		for i := range n {
			h[fmt.Sprintf("X-Script-%02d", i)] = []string{fmt.Sprint("v", i)}
		}
		return h
	}
	for _, tt := range []struct {
		name            string
		header          http.Header
		query           string
		sign            func(*http.Request)
		headers, params []string
		values          []string
	}{
		{"bearer", http.Header{"User-Agent": {"scriptrun"}}, "", func(r *http.Request) {
			r.Header["Authorization"] = []string{"Bearer abc"}
		}, []string{"Authorization"}, nil, []string{"Bearer abc", "abc"}},
		{"replaces the script's value", http.Header{"Authorization": {"Bearer old"}}, "", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer new")
		}, []string{"Authorization"}, nil, []string{"Bearer new", "new"}},
		{"sets what the script had set", http.Header{"Authorization": {"Bearer same"}}, "", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer same")
		}, nil, nil, nil},
		{"two headers, several values", http.Header{"Accept": {"*/*"}}, "", func(r *http.Request) {
			r.Header["X-Key"] = []string{"k1", "Key k2"}
			r.Header["X-Ts"] = []string{"12345"}
		}, []string{"X-Key", "X-Ts"}, nil, []string{"k1", "Key k2", "k2", "12345"}},
		{"query parameter", nil, "a=1&key=old", func(r *http.Request) {
			r.URL.RawQuery = "a=1&key=s3cret"
		}, nil, []string{"key"}, []string{"s3cret"}},
		{"header and query parameter", nil, "a=1", func(r *http.Request) {
			r.Header["Authorization"] = []string{"Basic xyz"}
			r.URL.RawQuery = "a=1&key=s3cret"
		}, []string{"Authorization"}, []string{"key"}, []string{"Basic xyz", "xyz", "s3cret"}},
		{"many headers", many(2 * smallHeaders), "", func(r *http.Request) {
			r.Header.Set("X-Script-03", "changed")
			r.Header.Set("X-Script-14", "changed too")
			r.Header["Authorization"] = []string{"Bearer abc"}
		}, []string{"Authorization", "X-Script-03", "X-Script-14"}, nil, []string{"Bearer abc", "abc", "changed", "changed too", "too"}},
		{"nothing", many(3), "a=1", func(*http.Request) {}, nil, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := signedRequest(t, "https://api.example.com/x?"+tt.query, tt.header)
			query := req.URL.RawQuery
			tt.sign(req)
			s := signatureOf(headersBefore{tt.header}, query, req)
			slices.Sort(s.headers)
			if !slices.Equal(s.headers, tt.headers) || !slices.Equal(s.params, tt.params) {
				t.Errorf("headers %q, params %q; want %q, %q", s.headers, s.params, tt.headers, tt.params)
			}
			got := slices.Sorted(slices.Values(s.values))
			if want := slices.Sorted(slices.Values(tt.values)); !slices.Equal(got, want) {
				t.Errorf("values %q, want %q", got, want)
			}
			// headers and values share a buffer: growing one leaves the other.
			kept := slices.Clone(s.values)
			s.headers = append(s.headers, "X-More")
			if !slices.Equal(s.values, kept) {
				t.Errorf("appending to the headers changed the values: %q, was %q", s.values, kept)
			}
		})
	}
}

// signatureOf finds the headers a Signer set without walking the request's
// headers when they count as those before plus Authorization
// (changedAuthorization). It reads them off the builder's headers
// (headersBefore) instead of a copy taken before Sign. Both shortcuts give
// what comparing every header with a copy taken before Sign gives, for
// every combination of a builder's headers (none, Authorization, Host,
// User-Agent, another, in any mix) and of up to three changes a Signer may
// make (set, replace with the same or another value or the script's, delete,
// write into a value in place).
func TestSignatureOfMatchesFullComparison(t *testing.T) {
	names := []string{"Authorization", "Host", "User-Agent", "X-Api-Key"}
	type change struct {
		name string
		do   func(http.Header)
	}
	var changes []change
	for _, k := range names {
		changes = append(changes,
			change{"set " + k, func(h http.Header) { h[k] = []string{"Bearer s3cret-" + k} }},
			change{"set " + k + " as before", func(h http.Header) {
				if v, ok := h[k]; ok {
					h[k] = slices.Clone(v)
				}
			}},
			change{"set " + k + " to the script's value", func(h http.Header) { h[k] = []string{"script-" + k} }},
			change{"delete " + k, func(h http.Header) { delete(h, k) }},
			change{"write into " + k, func(h http.Header) {
				if v := h[k]; len(v) > 0 {
					v[0] = "Bearer in-place"
				}
			}},
		)
	}
	changes = append(changes, change{"nothing", func(http.Header) {}})
	builders := []http.Header{nil}
	for mask := 1; mask < 1<<len(names); mask++ {
		h := http.Header{}
		for i, k := range names {
			if mask&(1<<i) != 0 {
				h[k] = []string{"script-" + k}
			}
		}
		builders = append(builders, h)
	}
	for _, builder := range builders {
		for _, c1 := range changes {
			for _, c2 := range changes {
				for _, c3 := range changes {
					req := signedRequest(t, "https://api.example.com/x", builder)
					if _, ok := builder["User-Agent"]; !ok {
						// The Signer below writes into values: not into the
						// default User-Agent every request shares.
						req.Header["User-Agent"] = []string{userAgent}
					}
					// The full comparison: a copy of the headers before Sign.
					copied := req.Header.Clone()
					for _, c := range []change{c1, c2, c3} {
						c.do(req.Header)
					}
					var want []string
					for k, v := range req.Header {
						if old, ok := copied[k]; !ok || !slices.Equal(old, v) {
							want = append(want, k)
						}
					}
					slices.Sort(want)
					s := signatureOf(headersBefore{builder}, req.URL.RawQuery, req)
					got := slices.Sorted(slices.Values(s.headers))
					if !slices.Equal(got, want) {
						t.Errorf("builder %v, Signer %s, %s, %s: headers %q, want %q", builder, c1.name, c2.name, c3.name, got, want)
					}
				}
			}
		}
	}
}

// signedRequest is a GET of rawURL as attempt builds it to be signed, from
// a builder with the given headers.
func signedRequest(tb testing.TB, rawURL string, builder http.Header) *http.Request {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := newHTTPRequest(context.Background(), http.MethodGet, u, nil, builder.Clone())
	if err != nil {
		tb.Fatal(err)
	}
	setHeader(req, true)
	return req
}

// BenchmarkSignatureOf is what finding the Signer's additions costs a
// signed call: a request with its User-Agent, signed with a bearer header.
func BenchmarkSignatureOf(b *testing.B) {
	req := signedRequest(b, "https://api.example.com/x", nil)
	auth := []string{"Bearer abcdefghijklmnop"}
	b.ReportAllocs()
	for b.Loop() {
		delete(req.Header, "Authorization")
		query := req.URL.RawQuery
		req.Header["Authorization"] = auth
		if s := signatureOf(headersBefore{nil}, query, req); len(s.headers) != 1 {
			b.Fatal(s.headers)
		}
	}
}
