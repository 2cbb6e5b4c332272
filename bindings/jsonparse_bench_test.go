package bindings

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dop251/goja"
)

// benchRecords is the bench driver's JSON-heavy document: n records of
// about 270 bytes, keys repeated, a few repeated values and unique ones.
func benchRecords(n int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"record %d","status":"%s","priority":%d,"tags":["alpha","beta","gamma"],"owner":{"id":%d,"email":"user%d@example.com"},"description":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore","score":%d.5}`,
			i, i, []string{"open", "closed", "pending"}[i%3], i%5, i%97, i%97, i%1000)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// BenchmarkJSONParseRecords parses the driver's 20,000-record document with
// the fast path, on a fresh runtime per op as each script has its own.
func BenchmarkJSONParseRecords(b *testing.B) {
	doc := benchRecords(20000)
	vm := goja.New()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := parseJSONFast(vm, doc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time, user and system, the process has used: on a
// machine shared with other work it moves much less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkJSONParseSmall parses a small response body, as most API calls
// return: what the fast path does before its first member counts here.
func BenchmarkJSONParseSmall(b *testing.B) {
	vm := goja.New()
	doc := []byte(`{"id":1234,"name":"record","status":"open","owner":{"email":"a@example.com"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseJSONFast(vm, doc); err != nil {
			b.Fatal(err)
		}
	}
}
