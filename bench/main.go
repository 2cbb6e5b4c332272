// Command bench measures scriptrun against the peers a user would otherwise
// pick — a plain Go net/http loop and Node.js — in one run on one machine,
// interleaving them round by round and reporting medians and ratios.
//
//	go run ./bench [-rounds 5] [-out BENCHMARKS.md]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

type config struct {
	rounds     int
	seqN       int
	concN      int
	conc       int
	memN       int
	memConc    int
	coldN      int
	stormProcs int
	stormConc  int
	jsonIters  int
	tokenDelay time.Duration
	out        string
	notes      string
	only       string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.rounds, "rounds", 5, "rounds; each measure runs every peer once per round, in alternating order")
	flag.IntVar(&cfg.seqN, "seq", 3000, "sequential calls per run")
	flag.IntVar(&cfg.concN, "conc-calls", 6000, "calls per concurrent run")
	flag.IntVar(&cfg.conc, "conc", 64, "calls in flight in the concurrent runs")
	flag.IntVar(&cfg.memN, "mem-calls", 10000, "calls per run of the many-in-flight (memory) measure")
	flag.IntVar(&cfg.memConc, "mem-conc", 1000, "calls in flight in the memory measure")
	flag.IntVar(&cfg.coldN, "cold", 10, "cold starts per peer per round")
	flag.IntVar(&cfg.stormProcs, "storm-procs", 4, "processes in the refresh storm")
	flag.IntVar(&cfg.stormConc, "storm-conc", 250, "concurrent requests per storm process")
	flag.IntVar(&cfg.jsonIters, "json-iters", 3, "iterations of the JSON-heavy script per run")
	flag.DurationVar(&cfg.tokenDelay, "token-delay", 50*time.Millisecond, "how long the token endpoint takes to answer")
	flag.StringVar(&cfg.out, "out", "BENCHMARKS.md", "report file (empty: print only)")
	flag.StringVar(&cfg.notes, "notes", "bench/notes.md", "notes appended to the report, if the file exists")
	flag.StringVar(&cfg.only, "only", "", "run only the measures whose names contain this (e.g. signing, light, fetch); implies -out \"\"")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	b, err := setup(cfg)
	if err != nil {
		return err
	}
	defer b.close()
	fmt.Fprintf(os.Stderr, "scriptrun %s, node %s, %d rounds\n", b.bin, orNone(b.node), cfg.rounds)

	var results []result
	for _, m := range b.measures() {
		if (cfg.only == "" && onlyAsked[m.name]) || (cfg.only != "" && !strings.Contains(m.name, cfg.only)) {
			continue
		}
		fmt.Fprintf(os.Stderr, "measuring %s...\n", m.name)
		r, err := m.fn()
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		results = append(results, r)
	}
	report := b.report(results)
	fmt.Print(report)
	if cfg.out != "" && cfg.only == "" {
		return os.WriteFile(cfg.out, []byte(report), 0o644)
	}
	return nil
}

// measure is one row of the report.
type measure struct {
	name string // what -only matches
	fn   func() (result, error)
}

// onlyAsked names the measures that take minutes: they run only when -only
// names them (e.g. -only cron).
var onlyAsked = map[string]bool{"cron": true}

// measures lists the rows in report order: each throughput measure once
// per API (the bench's API, then the light one).
func (b *bench) measures() []measure {
	var ms []measure
	each := func(name string, fn func(t target) (result, error)) {
		for _, t := range b.apis {
			ms = append(ms, measure{name + " " + t.name, func() (result, error) { return fn(t) }})
		}
	}
	each("sequential", b.sequential)
	each("concurrent sendAsync", func(t target) (result, error) { return b.concurrent(t, "conc.js", "sendAsync") })
	each("concurrent fetch", func(t target) (result, error) { return b.concurrent(t, "fetch.js", "fetch + Promise.all") })
	each("memory", b.inFlight)
	return append(ms,
		measure{"signing", b.signing},
		measure{"cold start", b.coldStart},
		measure{"tokens", b.tokens},
		measure{"refresh storm", b.storm},
		measure{"json", b.jsonHeavy},
		measure{"cron", b.cron},
	)
}

func orNone(s string) string {
	if s == "" {
		return "(not installed: Node.js columns are skipped)"
	}
	return s
}

// build builds a command of this module into dir the way a release is
// built (README, "Building a binary"): static, without cgo. A cgo build
// links libc and the dynamic loader, which costs scriptrun about 1.4 MiB
// and 0.8 ms at every start; the Go client is built the same way.
func build(dir, name, pkg string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s (run bench from the repository root): %v\n%s", pkg, err, out)
	}
	return bin, nil
}
