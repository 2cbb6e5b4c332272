package tokens

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/etcdkv"
	"github.com/scriptrun/scriptrun/store/etcdkv/etcdtest"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// Benchmarks of the store under the token manager, bbolt against etcd
// (3 members, fsync on, loopback: the BENCHMARKS.md rows of issue 13):
//
//	go test -run XXX -bench 'SignValidStore|RefreshStorm' -benchtime 20x ./tokens/

// benchStores opens the env's store and n-1 more handles on it (as other
// processes or hosts would have), for each kind of store.
var benchStores = []struct {
	name string
	open func(b *testing.B, n int, o envOpts) (*env, []*Manager)
}{
	{"bolt", func(b *testing.B, n int, o envOpts) (*env, []*Manager) {
		e := newEnv(b, o)
		ms := []*Manager{e.m}
		for range n - 1 {
			db, err := store.Open(e.db.Path(), storetest.Key(), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			ms = append(ms, New(Options{DB: db, Now: e.clock.Now, OnEvent: o.onEvent}))
		}
		return e, ms
	}},
	{"etcd", func(b *testing.B, n int, o envOpts) (*env, []*Manager) {
		c := etcdtest.Start(b, etcdtest.Options{Members: 3, Fsync: true})
		target := c.Target(b)
		o.db = openEtcdStore(b, target, etcdkv.Config{}, true)
		e := newEnv(b, o)
		ms := []*Manager{e.m}
		for range n - 1 {
			ms = append(ms, New(Options{DB: openEtcdStore(b, target, etcdkv.Config{}, false), Now: e.clock.Now, OnEvent: o.onEvent}))
		}
		return e, ms
	}},
}

// BenchmarkSignValidStore: signing with a cached, valid token costs the
// same whichever store holds it (the store is read once per CacheTTL).
func BenchmarkSignValidStore(b *testing.B) {
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			e, _ := s.open(b, 1, envOpts{})
			e.authorize(b, "api")
			req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := e.m.Sign(ctx, "api", req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRefreshStorm: 3 nodes × 50 goroutines sign with an expired
// token at once; the token endpoint answers in 50 ms. Each iteration is one
// storm. Reported: the latency of Sign (p50, p99 over every request of
// every storm) and what it adds to the token endpoint's own time.
func BenchmarkRefreshStorm(b *testing.B) {
	const nodes, workers = 3, 50
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			var mu sync.Mutex
			var endpoint []time.Duration
			e, ms := s.open(b, nodes, envOpts{onEvent: func(ev Event) {
				if ev.Kind == EventRefreshed {
					mu.Lock()
					endpoint = append(endpoint, ev.Duration)
					mu.Unlock()
				}
			}})
			e.authorize(b, "api")
			e.srv.SetTokenFault(func(http.ResponseWriter, *http.Request) bool {
				time.Sleep(50 * time.Millisecond) // the provider's own time
				return false
			})
			var lat []time.Duration
			var added []time.Duration
			before := e.srv.Stats().RefreshRequests
			for b.Loop() {
				e.clock.Add(2 * time.Hour)
				l := stormLatency(b, e, ms, workers)
				mu.Lock()
				call := endpoint[len(endpoint)-1]
				mu.Unlock()
				lat = append(lat, l...)
				for _, d := range l {
					added = append(added, d-call)
				}
			}
			if calls := e.srv.Stats().RefreshRequests - before; calls != b.N {
				b.Fatalf("%d token-endpoint calls in %d storms", calls, b.N)
			}
			b.ReportMetric(millis(pct(lat, 50)), "p50-ms")
			b.ReportMetric(millis(pct(lat, 99)), "p99-ms")
			b.ReportMetric(millis(pct(added, 50)), "p50-added-ms")
			b.ReportMetric(millis(pct(added, 99)), "p99-added-ms")
		})
	}
}

// stormLatency runs one storm and returns each request's Sign latency.
func stormLatency(b *testing.B, e *env, ms []*Manager, workers int) []time.Duration {
	var wg sync.WaitGroup
	out := make([]time.Duration, len(ms)*workers)
	start := make(chan struct{})
	for i, m := range ms {
		for j := range workers {
			wg.Go(func() {
				req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
				<-start
				t0 := time.Now()
				if err := m.Sign(context.Background(), "api", req); err != nil {
					b.Error(err)
				}
				out[i*workers+j] = time.Since(t0)
			})
		}
	}
	close(start)
	wg.Wait()
	return out
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
