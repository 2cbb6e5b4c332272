package runtime_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scriptrun/scriptrun/runtime"
)

// BenchmarkNewRuntime measures a complete run of an empty script: creating
// the goja runtime, the event loop and all globals, and tearing them down.
func BenchmarkNewRuntime(b *testing.B) {
	s, err := runtime.CompileSource("empty.js", "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Run(context.Background(), runtime.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

const workload = `
const items = [];
for (let i = 0; i < 200; i++) items.push({ id: i, subject: 'message ' + i, to: ['a@example.com'] });
const text = JSON.stringify({ value: items });
const parsed = JSON.parse(text);
let total = 0;
for (const m of parsed.value) total += m.subject.length;
if (total === 0) throw new Error('no work');
`

// BenchmarkRunCompiled runs a precompiled script (how cron reuses scripts).
func BenchmarkRunCompiled(b *testing.B) {
	s, err := runtime.CompileSource("work.js", workload)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Run(context.Background(), runtime.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileAndRun compiles the same script on every run, for
// comparison with BenchmarkRunCompiled.
func BenchmarkCompileAndRun(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s, err := runtime.CompileSource("work.js", workload)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Run(context.Background(), runtime.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunWithRequest is a whole run that makes one request with
// sendAsync and awaits it.
func BenchmarkRunWithRequest(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"ok":true}`) }))
	defer srv.Close()
	s, err := runtime.CompileSource("req.js", "(async () => { const r = await http.get(args[0]).header('Accept', 'application/json').query({ $top: 10 }).sendAsync(); r.json(); })();")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Run(context.Background(), runtime.Options{Args: []string{srv.URL}}); err != nil {
			b.Fatal(err)
		}
	}
}
