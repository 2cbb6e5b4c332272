package main

// In-process benchmarks of the driver's own scripts, against the driver's
// servers and a real token manager on a bbolt home: what a CPU profile
// (-cpuprofile) and allocation counts (-benchmem) of one peer look like
// without the noise of processes competing on a shared machine.
//
//	go test -run XXX -bench . -benchmem ./bench
//
// ns/op is the cost of one call (the script runs b.N calls); allocations
// include the loopback server's, which runs in the same process. cpu-ns/op
// is the process's CPU time (user and system) per call: on a machine shared
// with other work it moves much less than wall time.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/internal/benchdata"
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

// scriptClient is the client scriptrun's run command uses (cmd/scriptrun
// scriptTransport: at most 64 connections a host, all of which may stay
// idle).
func scriptClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxConnsPerHost = 64
	tr.MaxIdleConnsPerHost = 64
	tr.MaxIdleConns = 256
	return &http.Client{Transport: tr}
}

// runScript runs src once with args, signing with m, and reports the CPU
// time per op.
func runScript(b *testing.B, src string, m *tokens.Manager, args ...string) {
	b.Helper()
	s, err := runtime.CompileSource("bench.js", src)
	if err != nil {
		b.Fatal(err)
	}
	client := scriptClient()
	defer client.CloseIdleConnections()
	defer cpuPerOp(b)()
	if err := s.Run(context.Background(), runtime.Options{Args: args, Signer: m, Client: client}); err != nil {
		b.Fatal(err)
	}
}

// cpuPerOp starts measuring the process's CPU time; the function it returns
// reports it per op as cpu-ns/op.
func cpuPerOp(b *testing.B) func() {
	start := benchdata.CPUTime()
	return func() { b.ReportMetric(float64(benchdata.CPUTime()-start)/float64(b.N), "cpu-ns/op") }
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

// BenchmarkSignedVsUnsigned measures what signing costs a call: the same
// sequential requests to the light API, signed by the token manager
// (apiTokenAuth) or carrying the same bearer header set by the script.
// Both are run unmeasured first (warmUp), and each starts after a
// collection (settle), so that neither pays alone for the process's first
// calls or for collecting what came before it.
//
//	go test -run XXX -bench SignedVsUnsigned -count 10 ./bench | benchstat -col /mode -
func BenchmarkSignedVsUnsigned(b *testing.B) {
	w, m := world(b)
	light := w.apis[1]
	warm := scriptClient()
	warmUp(b, warm, m, light, 1000)
	warm.CloseIdleConnections()
	b.Run("mode=signed", func(b *testing.B) {
		b.ReportAllocs()
		settle()
		runScript(b, scriptSeq, m, light.url, strconv.Itoa(b.N), "signed", light.token)
	})
	b.Run("mode=unsigned", func(b *testing.B) {
		b.ReportAllocs()
		settle()
		runScript(b, scriptSeq, m, light.url, strconv.Itoa(b.N), "bearer", light.access)
	})
}

// BenchmarkInFlight keeps 1,000 sendAsync calls in flight against the light
// API and reports the peak number of goroutines, of heap bytes and of
// stack bytes (the server's included: it holds one goroutine per
// connection) sampled every millisecond. Each op is one call: run it with -benchtime 10000x or more,
// so that 1,000 are in flight for most of the run.
func BenchmarkInFlight(b *testing.B) {
	w, m := world(b)
	light := w.apis[1]
	b.ReportAllocs()
	peak := samplePeaks()
	runScript(b, scriptConc, m, light.url, strconv.Itoa(b.N), "1000", light.token)
	goroutines, heap, stacks := peak()
	b.ReportMetric(float64(goroutines), "peak-goroutines")
	b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(stacks)/(1<<20), "peak-stacks-MiB")
}

// samplePeaks samples the number of goroutines, the bytes of live and not
// yet swept heap objects, and the bytes of goroutine stacks until the
// returned function is called, which returns their peaks.
func samplePeaks() func() (goroutines, heap, stacks uint64) {
	s := []metrics.Sample{{Name: "/sched/goroutines:goroutines"}, {Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	var peaks [3]atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			for i := range peaks {
				peaks[i].Store(max(peaks[i].Load(), s[i].Value.Uint64()))
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	return func() (uint64, uint64, uint64) {
		close(stop)
		wg.Wait()
		return peaks[0].Load(), peaks[1].Load(), peaks[2].Load()
	}
}

// BenchmarkConcurrentGo is BenchmarkConcurrent's plain-Go peer in the same
// process (bench/goclient's loop): the floor for a call's cost here.
func BenchmarkConcurrentGo(b *testing.B) {
	w, _ := world(b)
	for _, t := range w.apis {
		b.Run(t.name, func(b *testing.B) {
			client := scriptClient()
			defer client.CloseIdleConnections()
			jobs := make(chan struct{}, b.N)
			for range b.N {
				jobs <- struct{}{}
			}
			close(jobs)
			b.ReportAllocs()
			b.ResetTimer()
			defer cpuPerOp(b)()
			var wg sync.WaitGroup
			for range 64 {
				wg.Go(func() {
					for range jobs {
						if err := goCall(client, t.url+"/data", t.access); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func goCall(client *http.Client, url, access string) error {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// BenchmarkJSONHeavy is the driver's JSON-heavy row: each op fetches the
// 5.5 MB document, filters and maps its 20,000 records and posts a summary.
func BenchmarkJSONHeavy(b *testing.B) {
	w, m := world(b)
	b.ReportAllocs()
	runScript(b, scriptJSON, m, w.srv.apiURL, strconv.Itoa(b.N))
}
