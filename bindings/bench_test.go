package bindings_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/scriptrun/scriptrun/bindings"
)

// benchJS runs a loop of N iterations of body inside one runtime, so ns/op
// is the cost of one iteration (runtime setup is amortized over b.N).
func benchJS(b *testing.B, body string, opts bindings.Options) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"value":[{"id":1,"subject":"hello"}]}`)
	}))
	defer srv.Close()
	src := "const u = BASE + '/items';\nfor (let i = 0; i < N; i++) {\n" + body + "\n}"
	b.ReportAllocs()
	b.ResetTimer()
	if err := runJS(context.Background(), "bench.js", src, opts, map[string]any{"BASE": srv.URL, "N": b.N}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBuild measures building a request without sending it: the JS
// object, header and query conversion and the final URL.
func BenchmarkBuild(b *testing.B) {
	benchJS(b, "const r = http.get(u).header('Accept', 'application/json').query({ $top: 10, i }); if (!r.url) throw 1;", bindings.Options{})
}

// BenchmarkSend measures http.get(u).header().query().send() and reading
// res.status against a loopback server.
func BenchmarkSend(b *testing.B) {
	benchJS(b, "const res = http.get(u).header('Accept', 'application/json').query({ $top: 10, i }).send(); if (res.status !== 200) throw new Error(res.status);", bindings.Options{})
}

// BenchmarkSendSigned is BenchmarkSend with apiTokenAuth and a Signer that
// sets a header, plus res.json().
func BenchmarkSendSigned(b *testing.B) {
	s := &fakeSigner{SignFn: func(ctx context.Context, token string, req *http.Request) error {
		req.Header.Set("Authorization", secret)
		return nil
	}}
	benchJS(b, "const res = http.get(u).apiTokenAuth('graph-mail').header('Accept', 'application/json').query({ $top: 10, i }).send(); if (res.json().value.length !== 1) throw 1;", bindings.Options{Signer: s})
}

// BenchmarkSendSignedBodyCheck is BenchmarkSendSigned with a Signer that
// looks for a refusal in the body of every 200 (a provider with a body
// pattern, as for Marketo): the start of each body is read to ask it.
func BenchmarkSendSignedBodyCheck(b *testing.B) {
	refusal := regexp.MustCompile(`"code"\s*:\s*"60[12]"`)
	s := &fakeSigner{
		SignFn: func(ctx context.Context, token string, req *http.Request) error {
			req.Header.Set("Authorization", secret)
			return nil
		},
		RejectsFn: func(token string, status int, body []byte) (bool, int) {
			switch {
			case status != http.StatusOK:
				return status == http.StatusUnauthorized, 0
			case body == nil:
				return false, 4096
			}
			return refusal.Match(body), 0
		},
	}
	benchJS(b, "const res = http.get(u).apiTokenAuth('graph-mail').header('Accept', 'application/json').query({ $top: 10, i }).send(); if (res.json().value.length !== 1) throw 1;", bindings.Options{Signer: s})
}

// BenchmarkFetch measures await fetch(u) and r.json().
func BenchmarkFetch(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"value":[]}`)
	}))
	defer srv.Close()
	b.ReportAllocs()
	b.ResetTimer()
	src := "(async () => { for (let i = 0; i < N; i++) { const r = await fetch(BASE); await r.json(); } })()"
	if err := runJS(context.Background(), "bench.js", src, bindings.Options{}, map[string]any{"BASE": srv.URL, "N": b.N}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGoBaseline is the same request from plain Go, for scale: the gap
// to BenchmarkSend is what the JS builder and response cost.
func BenchmarkGoBaseline(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"value":[{"id":1,"subject":"hello"}]}`)
	}))
	defer srv.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/items?$top=10&i=%d", srv.URL, i), nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
