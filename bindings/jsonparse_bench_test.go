package bindings

import (
	"testing"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/benchdata"
)

// BenchmarkJSONParseRecords parses the driver's 20,000-record document with
// the fast path, on a fresh runtime per op as each script has its own.
func BenchmarkJSONParseRecords(b *testing.B) {
	doc := benchdata.Records(20000)
	vm := goja.New()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	start := benchdata.CPUTime()
	for b.Loop() {
		if _, err := parseJSONFast(vm, doc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchdata.CPUTime()-start)/float64(b.N), "cpu-ns/op")
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
