package tokens

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkSignValid is the hot path: a cached, valid token signs a request.
func BenchmarkSignValid(b *testing.B) {
	e := newEnv(b, envOpts{})
	e.authorize(b, "api")
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := e.m.Sign(ctx, "api", req); err != nil {
			b.Fatal(err)
		}
	}
}
