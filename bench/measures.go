package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
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

// rates converts run times (ms for n calls each) into calls per second.
func rates(n int, ms []float64) []float64 {
	out := make([]float64, 0, len(ms))
	for _, m := range ms {
		if m > 0 {
			out = append(out, float64(n)/m*1000)
		}
	}
	return out
}

// spread renders the median of xs in format, then unit and, when they
// differ, the range: "12600 calls/s (12100–13000)".
func spread(xs []float64, format, unit string) string {
	if len(xs) == 0 {
		return "n/a"
	}
	lo, hi := fmt.Sprintf(format, percentile(xs, 0)), fmt.Sprintf(format, percentile(xs, 100))
	s := fmt.Sprintf(format, median(xs)) + unit
	if lo != hi {
		s += " (" + lo + "–" + hi + ")"
	}
	return s
}

// ratios divides a by b round by round (the peers of one round ran back to
// back, so their ratio is the one to compare).
func ratios(a, b []float64) []float64 {
	out := make([]float64, 0, len(a))
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

// ratioCell renders scriptrun's rate against the Go peer's and Node.js's,
// each as the median of the per-round ratios with their range, and says
// whether the targets are met (≥ goTarget × Go; ≥ 3 × Node.js).
func ratioCell(sr, gr, nr []float64, goTarget float64) (string, bool) {
	goR := ratios(sr, gr)
	s := spread(goR, "%.2f", " × Go")
	ok := median(goR) >= goTarget
	if len(nr) > 0 {
		nodeR := ratios(sr, nr)
		s += "; " + spread(nodeR, "%.2f", " × Node.js")
		ok = ok && median(nodeR) >= 3
	}
	return s, ok
}

// throughput compares calls per second (from run times in ms for n calls),
// and shows the CPU time each peer spent per call.
func (b *bench) throughput(measure string, n int, s map[string][]float64, cpu cpuLog, goTarget float64) result {
	sr, gr, nr := rates(n, s["scriptrun"]), rates(n, s["go"]), rates(n, s["node"])
	r := result{measure: measure, target: fmt.Sprintf("≥ %.2f × Go; ≥ 3 × Node.js", goTarget)}
	r.cells = []string{spread(sr, "%.0f", " calls/s") + cpu.cell("scriptrun"), spread(gr, "%.0f", " calls/s") + cpu.cell("go"), spread(nr, "%.0f", " calls/s") + cpu.cell("node")}
	var ok bool
	r.ratio, ok = ratioCell(sr, gr, nr, goTarget)
	r.ratio += cpu.ratio()
	r.met = verdict(ok)
	return r
}

func cell(v float64, format string) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

// Targets of issue #17.
const (
	seqTarget      = 0.90 // sequential signed calls, × Go
	concTarget     = 0.85 // 64 in flight, × Go
	inFlightTarget = 0.80 // 1,000 in flight, × Go
	inFlightMiB    = 64   // 1,000 in flight, peak RSS
)

// cpuLog keeps each peer's CPU time per call, in µs, run by run.
type cpuLog map[string][]float64

// peer makes a contestant of a run of n calls that also records the
// process's CPU time per call.
func (l cpuLog) peer(name string, n int, run func() (output, error)) peer {
	return peer{name, func() (float64, error) {
		o, err := run()
		if err == nil && o.cpu > 0 {
			l[name] = append(l[name], float64(o.cpu)/float64(time.Microsecond)/float64(n))
		}
		return o.MS, err
	}}
}

// cell renders a peer's CPU time per call, to follow its calls/s.
func (l cpuLog) cell(name string) string {
	if len(l[name]) == 0 {
		return ""
	}
	return ", " + spread(l[name], "%.0f", " µs CPU/call")
}

// ratio compares scriptrun's CPU time per call with the Go peer's.
func (l cpuLog) ratio() string {
	if len(l["scriptrun"]) == 0 || len(l["go"]) == 0 {
		return ""
	}
	return "; CPU/call " + spread(ratios(l["scriptrun"], l["go"]), "%.2f", " × Go")
}

func (b *bench) sequential(t target) (result, error) {
	n := b.cfg.seqN
	cpu := cpuLog{}
	s, err := b.interleave(b.withNode([]peer{
		cpu.peer("scriptrun", n, func() (output, error) { return b.scriptrun("seq.js", t.url, itoa(n), "signed", t.token) }),
		cpu.peer("go", n, func() (output, error) { return b.goRun(t, "seq", n, 1) }),
	}, cpu.peer("node", n, func() (output, error) { return b.nodeRun("seq.mjs", t.url, itoa(n), t.access) })))
	if err != nil {
		return result{}, err
	}
	return b.throughput(fmt.Sprintf("sequential signed calls (%d), %s", n, t.name), n, s, cpu, seqTarget), nil
}

// concurrent runs script (conc.js with sendAsync, fetch.js with fetch) with
// conc calls in flight; the Go and Node.js peers are the same in both.
func (b *bench) concurrent(t target, script, how string) (result, error) {
	n, c := b.cfg.concN, b.cfg.conc
	cpu := cpuLog{}
	s, err := b.interleave(b.withNode([]peer{
		cpu.peer("scriptrun", n, func() (output, error) { return b.scriptrun(script, t.url, itoa(n), itoa(c), t.token) }),
		cpu.peer("go", n, func() (output, error) { return b.goRun(t, "conc", n, c) }),
	}, cpu.peer("node", n, func() (output, error) { return b.nodeRun("conc.mjs", t.url, itoa(n), itoa(c), t.access) })))
	if err != nil {
		return result{}, err
	}
	return b.throughput(fmt.Sprintf("concurrent signed calls, %s (%d, %d in flight), %s", how, n, c, t.name), n, s, cpu, concTarget), nil
}

// inFlight keeps memConc calls in flight (sendAsync for scriptrun) and
// reports each peer's calls per second and peak resident memory.
func (b *bench) inFlight(t target) (result, error) {
	n, c := b.cfg.memN, b.cfg.memConc
	peaks := map[string][]float64{}
	cpu := cpuLog{}
	sampled := func(name, bin string, args ...string) peer {
		return cpu.peer(name, n, func() (output, error) {
			o, rss, err := execPeak(true, bin, args...)
			peaks[name] = append(peaks[name], float64(rss)/(1<<20))
			return o, err
		})
	}
	s, err := b.interleave(b.withNode([]peer{
		sampled("scriptrun", b.bin, "--home", b.home, "run", filepath.Join(b.dir, "conc.js"), t.url, itoa(n), itoa(c), t.token),
		sampled("go", b.goClient, "conc", t.url, itoa(n), itoa(c), t.access),
	}, sampled("node", b.node, filepath.Join(b.dir, "conc.mjs"), t.url, itoa(n), itoa(c), t.access)))
	if err != nil {
		return result{}, err
	}
	sr, gr, nr := rates(n, s["scriptrun"]), rates(n, s["go"]), rates(n, s["node"])
	mem := func(name string) string {
		if len(peaks[name]) == 0 {
			return ""
		}
		if percentile(peaks[name], 100) == 0 {
			return ", RSS n/a (install GNU time)"
		}
		return ", " + spread(peaks[name], "%.0f", " MiB")
	}
	r := result{
		measure: fmt.Sprintf("%d requests in flight (%d calls, sendAsync), %s: calls/s, peak RSS", c, n, t.name),
		cells:   []string{spread(sr, "%.0f", " calls/s") + cpu.cell("scriptrun") + mem("scriptrun"), spread(gr, "%.0f", " calls/s") + cpu.cell("go") + mem("go"), spread(nr, "%.0f", " calls/s") + cpu.cell("node") + mem("node")},
		target:  fmt.Sprintf("≤ %d MiB peak RSS; ≥ %.2f × Go", inFlightMiB, inFlightTarget),
	}
	goR := ratios(sr, gr)
	r.ratio = spread(goR, "%.2f", " × Go calls/s") + cpu.ratio()
	peak := median(peaks["scriptrun"])
	r.met = verdict(peak > 0 && peak <= inFlightMiB && median(goR) >= inFlightTarget)
	return r, nil
}

func (b *bench) signing() (result, error) {
	n := b.cfg.seqN
	// The light API, as in-process: unsigned calls carry the same bearer
	// header, set by the script, so both send the same bytes and the
	// server does the same work.
	light := b.apis[1]
	s, err := b.interleave([]peer{
		{"signed", func() (float64, error) {
			o, err := b.scriptrun("seq.js", light.url, itoa(n), "signed", light.token)
			return o.MS, err
		}},
		{"unsigned", func() (float64, error) {
			o, err := b.scriptrun("seq.js", light.url, itoa(n), "bearer", light.access)
			return o.MS, err
		}},
	})
	if err != nil {
		return result{}, err
	}
	signed, unsigned := median(s["signed"]), median(s["unsigned"])
	over := (signed/unsigned - 1) * 100
	var overs []float64
	for _, r := range ratios(s["signed"], s["unsigned"]) {
		overs = append(overs, (r-1)*100)
	}
	// The target is judged in-process: separate processes of 3,000 calls
	// differ from one another by more than 2 %.
	in, err := signingInProcess(40 * b.cfg.rounds)
	if err != nil {
		return result{}, err
	}
	return result{
		measure: fmt.Sprintf("signing overhead (%d calls, valid token)", n),
		cells: []string{fmt.Sprintf("in-process %.1f µs signed, %.1f µs unsigned a call (%d runs); separate processes %.0f ms signed, %.0f ms unsigned",
			median(in.signed)/1000, median(in.unsigned)/1000, len(in.overs), signed, unsigned), "", ""},
		ratio: fmt.Sprintf("in-process %s (per run, median and range); separate processes %+.1f %% (per round: %s)",
			spread(in.overs, "%+.1f", " %"), over, spread(overs, "%+.1f", " %")),
		target: "≤ 2 % in-process (`go test -run XXX -bench 'SignedVsUnsigned$' -benchtime 3000x ./bench`)",
		met:    verdict(median(in.overs) <= 2),
	}, nil
}

// inProcess is what BenchmarkSignedVsUnsigned measured: ns per call of
// each mode, and each run's signed time over its unsigned time, in %.
type inProcess struct{ signed, unsigned, overs []float64 }

// signingInProcess runs BenchmarkSignedVsUnsigned (3,000 sequential calls
// to the light API per mode, both warmed up) count times in one test
// process and reads its ns/op lines.
func signingInProcess(count int) (inProcess, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkSignedVsUnsigned$", "-benchtime", "3000x", "-count", strconv.Itoa(count), "./bench")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return inProcess{}, fmt.Errorf("go test -bench SignedVsUnsigned ./bench (run bench from the repository root): %v\n%s", err, out)
	}
	return parseSigning(string(out))
}

// parseSigning reads the ns/op of each mode=signed and mode=unsigned line
// of go test's output, pairing each signed run with the unsigned run after
// it.
func parseSigning(out string) (inProcess, error) {
	var in inProcess
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "ns/op" {
			continue
		}
		ns, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return in, fmt.Errorf("go test output %q: %w", line, err)
		}
		switch {
		case strings.Contains(f[0], "/mode=signed"):
			in.signed = append(in.signed, ns)
		case strings.Contains(f[0], "/mode=unsigned"):
			in.unsigned = append(in.unsigned, ns)
		}
	}
	if len(in.signed) == 0 || len(in.signed) != len(in.unsigned) {
		return in, fmt.Errorf("go test -bench SignedVsUnsigned: %d signed and %d unsigned results in its output", len(in.signed), len(in.unsigned))
	}
	for _, r := range ratios(in.signed, in.unsigned) {
		in.overs = append(in.overs, (r-1)*100)
	}
	return in, nil
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
		target:  "≤ 0.10 × Node.js wall; ≤ 16 MiB",
	}
	ok := peak > 0 && peak <= 16
	if nw > 0 {
		r.ratio = fmt.Sprintf("%.2f × Node.js wall", sw/nw)
		ok = ok && sw/nw <= 0.10
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
		o, err := b.nodeRun("json.mjs", b.srv.apiURL, itoa(it), b.apis[0].access)
		return o.MS, err
	}}))
	if err != nil {
		return result{}, err
	}
	sm, nm := median(s["scriptrun"]), median(s["node"])
	r := result{
		measure: fmt.Sprintf("JSON-heavy script (%.1f MB, 20,000 records: fetch, filter/map, post)", float64(len(b.srv.big))/1e6),
		cells:   []string{fmt.Sprintf("%.0f ms", sm), "", cell(nm, "%.0f ms")},
		target:  "≤ 1.3 × Node.js time",
		met:     "n/a",
	}
	if nm > 0 {
		// Judged on the median of the rounds' ratios, as the cell shows it
		// and as every other row is judged: the peers of one round ran back
		// to back.
		rs := ratios(s["scriptrun"], s["node"])
		r.ratio = spread(rs, "%.2f", " × Node.js time")
		r.met = verdict(median(rs) <= 1.3)
	}
	return r, nil
}
