package main

// In-process benchmarks of the driver's own scripts, against the driver's
// servers and a real token manager on a bbolt home: what a CPU profile
// (-cpuprofile) and allocation counts (-benchmem) of one peer look like
// without the noise of processes competing on a shared machine.
//
//	go test -run XXX -bench . -benchmem ./bench
//
// ns/op is the cost of one call (the script runs b.N calls); allocations
// include the loopback server's, which runs in the same process.

import (
	"context"
	"net/http"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/tokens"
)

// world starts the servers and a home with the bench tokens, and a token
// manager to sign with.
func world(tb testing.TB) (*bench, *tokens.Manager) {
	tb.Helper()
	b, err := newWorld(config{tokenDelay: time.Millisecond}, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	m := tokens.New(tokens.Options{DB: b.db})
	tb.Cleanup(func() {
		m.Close()
		b.close()
	})
	return b, m
}

// scriptClient is the client scriptrun's run command uses (cmd/scriptrun:
// an idle pool sized for many requests in flight).
func scriptClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 128
	return &http.Client{Transport: tr}
}

// runScript runs src once with args, signing with m.
func runScript(tb testing.TB, src string, m *tokens.Manager, args ...string) {
	tb.Helper()
	s, err := runtime.CompileSource("bench.js", src)
	if err != nil {
		tb.Fatal(err)
	}
	client := scriptClient()
	defer client.CloseIdleConnections()
	if err := s.Run(context.Background(), runtime.Options{Args: args, Signer: m, Client: client}); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkSequential is the driver's sequential row, one call per op.
func BenchmarkSequential(b *testing.B) {
	w, m := world(b)
	for _, t := range w.apis {
		b.Run(t.name, func(b *testing.B) {
			b.ReportAllocs()
			runScript(b, scriptSeq, m, t.url, strconv.Itoa(b.N), "signed", t.token)
		})
	}
}

// BenchmarkConcurrent is the driver's 64-in-flight rows, one call per op.
func BenchmarkConcurrent(b *testing.B) {
	w, m := world(b)
	for _, t := range w.apis {
		for _, s := range []struct{ name, src string }{{"sendAsync", scriptConc}, {"fetch", scriptFetchConc}} {
			b.Run(s.name+"/"+t.name, func(b *testing.B) {
				b.ReportAllocs()
				runScript(b, s.src, m, t.url, strconv.Itoa(b.N), "64", t.token)
			})
		}
	}
}

// scriptSeqBearer is scriptSeq with the Authorization header set by the
// script itself: the same request on the wire as a signed one, without the
// token manager.
const scriptSeqBearer = `
const url = args[0], n = Number(args[1]), bearer = 'Bearer ' + args[2];
const t0 = Date.now();
for (let i = 0; i < n; i++) {
  const res = http.get(url + '/data').header('Authorization', bearer).send();
  if (res.status !== 200) throw new Error('status ' + res.status);
}
console.log(JSON.stringify({ ms: Date.now() - t0 }));
`

// BenchmarkSignedVsUnsigned measures what signing costs a call: the same
// sequential requests to the light API, signed by the token manager
// (apiTokenAuth) or carrying the same bearer header set by the script.
//
//	go test -run XXX -bench SignedVsUnsigned -count 10 ./bench | benchstat -col /mode -
func BenchmarkSignedVsUnsigned(b *testing.B) {
	w, m := world(b)
	light := w.apis[1]
	b.Run("mode=signed", func(b *testing.B) {
		b.ReportAllocs()
		runScript(b, scriptSeq, m, light.url, strconv.Itoa(b.N), "signed", light.token)
	})
	b.Run("mode=unsigned", func(b *testing.B) {
		b.ReportAllocs()
		runScript(b, scriptSeqBearer, m, light.url, strconv.Itoa(b.N), light.access)
	})
}

// BenchmarkInFlight keeps 1,000 sendAsync calls in flight against the light
// API and reports the peak number of goroutines and of heap bytes (the
// server's included: it holds one goroutine per connection) sampled every
// millisecond. Each op is one call; at least 5,000 run.
func BenchmarkInFlight(b *testing.B) {
	w, m := world(b)
	light := w.apis[1]
	n := max(b.N, 5000)
	b.ReportAllocs()
	peak := samplePeaks()
	runScript(b, scriptConc, m, light.url, strconv.Itoa(n), "1000", light.token)
	goroutines, heap := peak()
	b.ReportMetric(float64(goroutines), "peak-goroutines")
	b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
}

// samplePeaks samples the number of goroutines and the bytes of live and
// not yet swept heap objects until the returned function is called, which
// returns their peaks.
func samplePeaks() func() (goroutines, heap uint64) {
	s := []metrics.Sample{{Name: "/sched/goroutines:goroutines"}, {Name: "/memory/classes/heap/objects:bytes"}}
	var peakG, peakH atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peakG.Store(max(peakG.Load(), s[0].Value.Uint64()))
			peakH.Store(max(peakH.Load(), s[1].Value.Uint64()))
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	return func() (uint64, uint64) {
		close(stop)
		wg.Wait()
		return peakG.Load(), peakH.Load()
	}
}
