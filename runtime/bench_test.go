package runtime_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/internal/benchdata"
	"github.com/scriptrun/scriptrun/runtime"
)

// BenchmarkNewRuntime measures a complete run of an empty script: creating
// the goja runtime, the event loop and all globals, and tearing them down.
func BenchmarkNewRuntime(b *testing.B) {
	s, err := runtime.CompileSource("empty.js", "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Run(context.Background(), runtime.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

const workload = `
const items = [];
for (let i = 0; i < 200; i++) items.push({ id: i, subject: 'message ' + i, to: ['a@example.com'] });
const text = JSON.stringify({ value: items });
const parsed = JSON.parse(text);
let total = 0;
for (const m of parsed.value) total += m.subject.length;
if (total === 0) throw new Error('no work');
`

// BenchmarkRunCompiled runs a precompiled script (how cron reuses scripts).
func BenchmarkRunCompiled(b *testing.B) {
	s, err := runtime.CompileSource("work.js", workload)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Run(context.Background(), runtime.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileAndRun compiles the same script on every run, for
// comparison with BenchmarkRunCompiled.
func BenchmarkCompileAndRun(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s, err := runtime.CompileSource("work.js", workload)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Run(context.Background(), runtime.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunWithRequest is a whole run that makes one request with
// sendAsync and awaits it.
func BenchmarkRunWithRequest(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"ok":true}`) }))
	defer srv.Close()
	s, err := runtime.CompileSource("req.js", "(async () => { const r = await http.get(args[0]).header('Accept', 'application/json').query({ $top: 10 }).sendAsync(); r.json(); })();")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Run(context.Background(), runtime.Options{Args: []string{srv.URL}}); err != nil {
			b.Fatal(err)
		}
	}
}

// answerTransport answers every request at once with a fixed small JSON
// body, without a network.
type answerTransport struct{}

func (answerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	const body = `{"value":[{"id":1,"subject":"hello"}],"count":1,"more":false}`
	return &http.Response{
		Status: "200 OK", StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// BenchmarkConcurrentNoNetwork runs the bench driver's 64-in-flight
// scripts against a transport that answers in memory: one op is one call,
// and what it costs is scriptrun's own work (the script, promises,
// builders, senders, settling, signing glue) without sockets or a server.
// cpu-ns/op is the process's CPU time per call.
func BenchmarkConcurrentNoNetwork(b *testing.B) {
	for _, s := range []struct{ name, src string }{{"sendAsync", benchdata.ConcSendAsync}, {"fetch", benchdata.ConcFetch}} {
		b.Run(s.name, func(b *testing.B) {
			script, err := runtime.CompileSource("conc.js", s.src)
			if err != nil {
				b.Fatal(err)
			}
			opts := runtime.Options{
				Args:   []string{"http://api.example.com", strconv.Itoa(b.N), "64", "bench"},
				Signer: staticSigner("Bearer s3cret-access-token"),
				Client: &http.Client{Transport: answerTransport{}},
				Stdout: io.Discard, // the driver's script prints its time
			}
			b.ReportAllocs()
			start := benchdata.CPUTime()
			if err := script.Run(context.Background(), opts); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(benchdata.CPUTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
