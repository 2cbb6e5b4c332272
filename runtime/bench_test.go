package runtime_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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

// concScript is the bench driver's 64-in-flight script (bench/scripts.go
// scriptConc): N calls with sendAsync, C at a time, each signed.
const concScript = `
const url = args[0], n = Number(args[1]), c = Number(args[2]), token = args[3];
let started = 0;
async function worker() {
  while (started < n) {
    started++;
    const res = await http.get(url + '/data').apiTokenAuth(token).sendAsync();
    if (res.status !== 200) throw new Error('status ' + res.status);
  }
}
Promise.all(Array.from({ length: c }, worker));
`

// concFetchScript is concScript with fetch, reading each body.
const concFetchScript = `
const url = args[0], n = Number(args[1]), c = Number(args[2]), token = args[3];
let started = 0;
async function worker() {
  while (started < n) {
    started++;
    const r = await fetch(url + '/data', { apiTokenAuth: token });
    await r.text();
    if (r.status !== 200) throw new Error('status ' + r.status);
  }
}
Promise.all(Array.from({ length: c }, worker));
`

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
	for _, s := range []struct{ name, src string }{{"sendAsync", concScript}, {"fetch", concFetchScript}} {
		b.Run(s.name, func(b *testing.B) {
			script, err := runtime.CompileSource("conc.js", s.src)
			if err != nil {
				b.Fatal(err)
			}
			opts := runtime.Options{
				Args:   []string{"http://api.example.com", strconv.Itoa(b.N), "64", "bench"},
				Signer: staticSigner("Bearer s3cret-access-token"),
				Client: &http.Client{Transport: answerTransport{}},
			}
			b.ReportAllocs()
			start := cpuTime()
			if err := script.Run(context.Background(), opts); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time, user and system, the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
