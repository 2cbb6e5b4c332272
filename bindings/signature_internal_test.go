package bindings

import (
	"fmt"
	"net/http"
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
			req, err := http.NewRequest("GET", "https://api.example.com/x?"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != nil {
				req.Header = tt.header
			}
			before := beforeSign(req)
			tt.sign(req)
			s := signatureOf(&before, req)
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

// BenchmarkSignatureOf is what finding the Signer's additions costs a
// signed call: a request with its User-Agent, signed with a bearer header.
func BenchmarkSignatureOf(b *testing.B) {
	req, _ := http.NewRequest("GET", "https://api.example.com/x", nil)
	req.Header = http.Header{"User-Agent": {"scriptrun"}}
	auth := []string{"Bearer abcdefghijklmnop"}
	b.ReportAllocs()
	for b.Loop() {
		delete(req.Header, "Authorization")
		before := beforeSign(req)
		req.Header["Authorization"] = auth
		if s := signatureOf(&before, req); len(s.headers) != 1 {
			b.Fatal(s.headers)
		}
	}
}
