package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	goruntime "runtime"
	"strconv"
	"testing"

	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/tokens"
)

// lightTransport answers every request as the light API does (lightData),
// in memory: without sockets and a server sharing the CPU, what signing
// costs a call is not lost in the noise of the loopback exchange.
type lightTransport struct{ s *servers }

// RoundTrip checks the bearer header and answers the light API's body.
func (t lightTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp := &http.Response{Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req}
	want := t.s.lightAuth.Load()
	got := req.Header["Authorization"]
	if want == nil || len(got) != 1 || got[0] != (*want)[0] {
		resp.StatusCode, resp.Status = http.StatusUnauthorized, "401 Unauthorized"
		resp.Header = http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}
		resp.Body = http.NoBody
		return resp, nil
	}
	resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
	resp.Header = http.Header{"Content-Type": lightType, "Content-Length": lightLength}
	resp.ContentLength = int64(len(lightBody))
	resp.Body = io.NopCloser(bytes.NewReader(lightBody))
	return resp, nil
}

// warmUp runs both modes' scripts n calls each, unmeasured, so that the
// mode measured first does not pay alone for what a process does once:
// running code and touching heap pages for the first time, reading the
// token. Without it the first mode of BenchmarkSignedVsUnsigned paid about
// 3-4 % of its CPU per call at 3,000 calls, whichever mode it was (the
// same code read +4.6 % signed first and -2.7 % unsigned first, medians of
// 30 runs), and that was read as signing's overhead.
func warmUp(tb testing.TB, client *http.Client, m *tokens.Manager, light target, n int) {
	tb.Helper()
	for _, run := range []struct {
		src  string
		args []string
	}{
		{scriptSeq, []string{light.url, strconv.Itoa(n), "signed", light.token}},
		{scriptSeq, []string{light.url, strconv.Itoa(n), "bearer", light.access}},
	} {
		s, err := runtime.CompileSource("warmup.js", run.src)
		if err != nil {
			tb.Fatal(err)
		}
		if err := s.Run(context.Background(), runtime.Options{Args: run.args, Signer: m, Client: client, Stdout: io.Discard}); err != nil {
			tb.Fatal(err)
		}
	}
}

// settle collects the garbage left so far (world's setup allocates tens of
// megabytes for the JSON-heavy document, warmUp a few more), so that the
// mode measured first does not pay for collecting it.
func settle() { goruntime.GC() }

// runScriptWith is runScript with the given client.
func runScriptWith(b *testing.B, client *http.Client, src string, m *tokens.Manager, args ...string) {
	b.Helper()
	s, err := runtime.CompileSource("bench.js", src)
	if err != nil {
		b.Fatal(err)
	}
	defer cpuPerOp(b)()
	if err := s.Run(context.Background(), runtime.Options{Args: args, Signer: m, Client: client}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSignedVsUnsignedNoNetwork is BenchmarkSignedVsUnsigned against
// the light API answered in memory (lightTransport): the difference
// between the modes is what signing costs scriptrun itself per call.
//
//	go test -run XXX -bench SignedVsUnsignedNoNetwork -count 10 ./bench | benchstat -col /mode -
func BenchmarkSignedVsUnsignedNoNetwork(b *testing.B) {
	w, m := world(b)
	light := w.apis[1]
	client := &http.Client{Transport: lightTransport{w.srv}}
	warmUp(b, client, m, light, 1000)
	b.Run("mode=signed", func(b *testing.B) {
		b.ReportAllocs()
		settle()
		runScriptWith(b, client, scriptSeq, m, light.url, strconv.Itoa(b.N), "signed", light.token)
	})
	b.Run("mode=unsigned", func(b *testing.B) {
		b.ReportAllocs()
		settle()
		runScriptWith(b, client, scriptSeq, m, light.url, strconv.Itoa(b.N), "bearer", light.access)
	})
}
