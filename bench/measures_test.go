package main

import (
	"strings"
	"testing"
)

// TestParseSigning reads go test's benchmark lines into pairs of runs and
// refuses output it cannot pair, rather than reporting a made-up overhead.
func TestParseSigning(t *testing.T) {
	const two = `goos: linux
BenchmarkSignedVsUnsigned/mode=signed-2         	    3000	     30000 ns/op	     32007 cpu-ns/op	    7394 B/op	      84 allocs/op
BenchmarkSignedVsUnsigned/mode=unsigned-2       	    3000	     29000 ns/op	     32000 cpu-ns/op	    7394 B/op	      84 allocs/op
BenchmarkSignedVsUnsigned/mode=signed-2         	    3000	     29000 ns/op
BenchmarkSignedVsUnsigned/mode=unsigned-2       	    3000	     30000 ns/op
PASS
`
	in, err := parseSigning(two)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.overs) != 2 || in.overs[0] < 3.44 || in.overs[0] > 3.45 || in.overs[1] < -3.34 || in.overs[1] > -3.33 {
		t.Errorf("overs %v, want [+3.45 -3.33]", in.overs)
	}
	for _, bad := range []struct{ name, out string }{
		{"no results", "PASS\n"},
		{"unpaired", strings.SplitAfter(two, "\n")[1]},
		{"garbled number", "BenchmarkSignedVsUnsigned/mode=signed-2 3000 3x0 ns/op\n"},
	} {
		if _, err := parseSigning(bad.out); err == nil {
			t.Errorf("%s: parsed without an error", bad.name)
		}
	}
}
