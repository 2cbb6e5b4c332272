package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// result is one row of the report.
type result struct {
	measure string
	cells   []string // what was measured, per peer, as medians
	ratio   string
	target  string
	met     string // "yes", "no", or "n/a"
}

// peer is one contestant in a round: it returns one sample.
type peer struct {
	name string
	run  func() (float64, error)
}

// interleave runs every peer once per round, reversing the order every other
// round (A B C, C B A, ...), and returns each peer's samples.
func (b *bench) interleave(peers []peer) (map[string][]float64, error) {
	samples := map[string][]float64{}
	for r := range b.cfg.rounds {
		order := append([]peer(nil), peers...)
		if r%2 == 1 {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, p := range order {
			v, err := p.run()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			samples[p.name] = append(samples[p.name], v)
		}
	}
	return samples, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func (b *bench) withNode(peers []peer, p peer) []peer {
	if b.node == "" {
		return peers
	}
	return append(peers, p)
}

// throughput compares calls per second (from run times in ms for n calls).
func (b *bench) throughput(measure string, n int, s map[string][]float64, goTarget float64) result {
	rate := func(name string) float64 {
		ms := median(s[name])
		if ms == 0 {
			return 0
		}
		return float64(n) / ms * 1000
	}
	sr, gr, nr := rate("scriptrun"), rate("go"), rate("node")
	r := result{measure: measure, target: fmt.Sprintf("≥ %.2f × Go; ≥ 3 × Node.js", goTarget)}
	r.cells = []string{fmt.Sprintf("%.0f calls/s", sr), fmt.Sprintf("%.0f calls/s", gr), cell(nr, "%.0f calls/s")}
	ok := sr/gr >= goTarget
	r.ratio = fmt.Sprintf("%.2f × Go", sr/gr)
	if nr > 0 {
		r.ratio += fmt.Sprintf("; %.2f × Node.js", sr/nr)
		ok = ok && sr/nr >= 3
	}
	r.met = verdict(ok)
	return r
}

func cell(v float64, format string) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

func (b *bench) sequential() (result, error) {
	n := b.cfg.seqN
	s, err := b.interleave(b.withNode([]peer{
		{"scriptrun", func() (float64, error) {
			o, err := b.scriptrun("seq.js", b.srv.apiURL, itoa(n), "signed")
			return o.MS, err
		}},
		{"go", func() (float64, error) { return b.goRun("seq", n, 1) }},
	}, peer{"node", func() (float64, error) {
		o, err := b.nodeRun("seq.mjs", b.srv.apiURL, itoa(n), b.token)
		return o.MS, err
	}}))
	if err != nil {
		return result{}, err
	}
	return b.throughput(fmt.Sprintf("sequential signed calls (%d)", n), n, s, 0.80), nil
}

func (b *bench) concurrent() (result, error) {
	n, c := b.cfg.concN, b.cfg.conc
	s, err := b.interleave(b.withNode([]peer{
		{"scriptrun", func() (float64, error) {
			o, err := b.scriptrun("conc.js", b.srv.apiURL, itoa(n), itoa(c))
			return o.MS, err
		}},
		{"go", func() (float64, error) { return b.goRun("conc", n, c) }},
	}, peer{"node", func() (float64, error) {
		o, err := b.nodeRun("conc.mjs", b.srv.apiURL, itoa(n), itoa(c), b.token)
		return o.MS, err
	}}))
	if err != nil {
		return result{}, err
	}
	return b.throughput(fmt.Sprintf("concurrent signed calls (%d, %d in flight)", n, c), n, s, 0.70), nil
}

func (b *bench) signing() (result, error) {
	n := b.cfg.seqN
	s, err := b.interleave([]peer{
		{"signed", func() (float64, error) {
			o, err := b.scriptrun("seq.js", b.srv.apiURL, itoa(n), "signed")
			return o.MS, err
		}},
		{"unsigned", func() (float64, error) {
			o, err := b.scriptrun("seq.js", b.srv.apiURL, itoa(n), "unsigned")
			return o.MS, err
		}},
	})
	if err != nil {
		return result{}, err
	}
	signed, unsigned := median(s["signed"]), median(s["unsigned"])
	over := (signed/unsigned - 1) * 100
	return result{
		measure: fmt.Sprintf("signing overhead (%d calls, valid token)", n),
		cells:   []string{fmt.Sprintf("%.0f ms signed, %.0f ms unsigned", signed, unsigned), "", ""},
		ratio:   fmt.Sprintf("%+.1f %%", over),
		target:  "≤ 3 %",
		met:     verdict(over <= 3),
	}, nil
}

func (b *bench) coldStart() (result, error) {
	hello := filepath.Join(b.dir, "hello.js")
	var rssS, rssN []float64
	many := func(bin string, rss *[]float64, args ...string) func() (float64, error) {
		return func() (float64, error) {
			var walls []float64
			for range b.cfg.coldN {
				w, m, err := coldRun(bin, args...)
				if err != nil {
					return 0, err
				}
				walls = append(walls, float64(w)/float64(time.Millisecond))
				*rss = append(*rss, float64(m)/(1<<20))
			}
			return median(walls), nil
		}
	}
	s, err := b.interleave(b.withNode([]peer{
		{"scriptrun", many(b.bin, &rssS, "--home", b.home, hello)},
	}, peer{"node", many(b.node, &rssN, hello)}))
	if err != nil {
		return result{}, err
	}
	sw, nw := median(s["scriptrun"]), median(s["node"])
	peak := percentile(rssS, 100)
	r := result{
		measure: "cold start `hello.js` (wall, peak RSS)",
		cells:   []string{fmt.Sprintf("%.1f ms", sw) + rssCell(rssS), "", cell(nw, "%.1f ms") + rssCell(rssN)},
		target:  "≤ 0.15 × Node.js wall; ≤ 20 MiB",
	}
	ok := peak > 0 && peak <= 20
	if nw > 0 {
		r.ratio = fmt.Sprintf("%.2f × Node.js wall", sw/nw)
		ok = ok && sw/nw <= 0.15
	}
	r.met = verdict(ok)
	return r, nil
}

func rssCell(xs []float64) string {
	if len(xs) == 0 {
		return ""
	}
	if percentile(xs, 100) == 0 {
		return ", RSS n/a (install GNU time)"
	}
	return fmt.Sprintf(", %.1f MiB", percentile(xs, 100))
}

// storm runs stormProcs processes × stormConc concurrent requests on an
// expired token, and the same on a valid one as the baseline.
func (b *bench) storm() (result, error) {
	var base, storm []float64
	var calls []int64
	for r := range b.cfg.rounds {
		for _, expired := range []bool{r%2 == 0, r%2 == 1} {
			d := time.Hour
			if expired {
				d = -time.Minute
			}
			if err := b.setToken(d); err != nil {
				return result{}, err
			}
			before := b.srv.tokenCalls.Load()
			lat, err := b.stormRound()
			if err != nil {
				return result{}, err
			}
			if expired {
				storm = append(storm, lat...)
				calls = append(calls, b.srv.tokenCalls.Load()-before)
			} else {
				base = append(base, lat...)
			}
		}
	}
	if err := b.setToken(time.Hour); err != nil {
		return result{}, err
	}
	maxCalls := int64(0)
	for _, c := range calls {
		maxCalls = max(maxCalls, c)
	}
	p50 := percentile(storm, 50) - percentile(base, 50)
	p99 := percentile(storm, 99) - percentile(base, 99)
	limit := float64(b.cfg.tokenDelay)/float64(time.Millisecond) + 10
	return result{
		measure: fmt.Sprintf("refresh storm (%d processes × %d requests, expired token)", b.cfg.stormProcs, b.cfg.stormConc),
		cells:   []string{fmt.Sprintf("token-endpoint calls per storm: %v; added latency p50 %.0f ms, p99 %.0f ms", calls, p50, p99), "", ""},
		ratio:   fmt.Sprintf("p99 added %.0f ms vs endpoint %s", p99, b.cfg.tokenDelay),
		target:  fmt.Sprintf("1 call; p99 added ≤ %.0f ms", limit),
		met:     verdict(maxCalls == 1 && p99 <= limit),
	}, nil
}

func (b *bench) stormRound() ([]float64, error) {
	var mu sync.Mutex
	var all []float64
	var wg sync.WaitGroup
	errs := make(chan error, b.cfg.stormProcs)
	for range b.cfg.stormProcs {
		wg.Go(func() {
			o, err := b.scriptrun("storm.js", b.srv.apiURL, itoa(b.cfg.stormConc))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			all = append(all, o.Lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	return all, <-errs
}

func (b *bench) jsonHeavy() (result, error) {
	it := b.cfg.jsonIters
	s, err := b.interleave(b.withNode([]peer{
		{"scriptrun", func() (float64, error) { o, err := b.scriptrun("json.js", b.srv.apiURL, itoa(it)); return o.MS, err }},
	}, peer{"node", func() (float64, error) {
		o, err := b.nodeRun("json.mjs", b.srv.apiURL, itoa(it), b.token)
		return o.MS, err
	}}))
	if err != nil {
		return result{}, err
	}
	sm, nm := median(s["scriptrun"]), median(s["node"])
	r := result{
		measure: fmt.Sprintf("JSON-heavy script (%.1f MB, 20,000 records: fetch, filter/map, post)", float64(len(b.srv.big))/1e6),
		cells:   []string{fmt.Sprintf("%.0f ms", sm), "", cell(nm, "%.0f ms")},
		target:  "≤ 2 × Node.js time",
		met:     "n/a",
	}
	if nm > 0 {
		r.ratio = fmt.Sprintf("%.2f × Node.js time", sm/nm)
		r.met = verdict(sm/nm <= 2)
	}
	return r, nil
}
