package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

func (b *bench) report(results []result) string {
	var s strings.Builder
	fmt.Fprintf(&s, "# Benchmarks\n\n")
	fmt.Fprintf(&s, "Measured with `go run ./bench -rounds %d` on %s.\n\n", b.cfg.rounds, time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&s, "- machine: %s, %d CPUs, %s/%s\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&s, "- commit: %s\n", commit())
	fmt.Fprintf(&s, "- %s; Node.js %s\n", runtime.Version(), nodeVersion(b.node))
	fmt.Fprintf(&s, "- peers run interleaved (A B C, C B A, ...), %d rounds; each cell is the median, with the range over the rounds in parentheses; ratios are the medians (and ranges) of the ratios within each round\n", b.cfg.rounds)
	fmt.Fprintf(&s, "- all traffic on loopback: an API that checks a bearer token against its set of issued tokens (\"API\"), a light API that compares the bearer header with one token and answers a fixed 70-byte body (\"light API\": the client's own cost shows), a token endpoint answering in %s\n", b.cfg.tokenDelay)
	fmt.Fprintf(&s, "- CPU/call: the peer process's user and system CPU time (as wait4 reports it, start-up included) divided by its calls; on a shared machine it moves much less than calls/s\n")
	fmt.Fprintf(&s, "- load average at the start: %s\n\n", loadAverage())
	fmt.Fprintf(&s, "| measure | scriptrun | plain Go net/http | Node.js fetch | ratio | target | met |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		c := append(r.cells, "", "", "")
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s | %s |\n", r.measure, c[0], dash(c[1]), dash(c[2]), r.ratio, r.target, r.met)
	}
	if notes, err := os.ReadFile(b.cfg.notes); err == nil {
		s.WriteString("\n")
		s.Write(notes)
	}
	return s.String()
}

// loadAverage is /proc/loadavg's first three fields: a busy machine moves
// every ratio.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(st) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

func nodeVersion(node string) string {
	if node == "" {
		return "not installed"
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
