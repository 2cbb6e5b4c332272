package runtime

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dlclark/regexp2/v2"
)

func TestMemoryGuard(t *testing.T) {
	s, err := CompileSource("hog.js", `const keep = []; while (true) keep.push('x'.repeat(1 << 20) + Math.random());`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Run(context.Background(), Options{MaxMemory: 64 << 20, Timeout: 30 * time.Second})
	var me *MemoryError
	if !errors.As(err, &me) || me.Used <= me.Limit {
		t.Fatalf("run: %v, want a *MemoryError", err)
	}
	t.Logf("the guard stopped the run after %v", time.Since(start))
}

// A catastrophic backtracking pattern cannot hold the run past its timeout.
func TestCatastrophicRegexp(t *testing.T) {
	old := regexp2.DefaultMatchTimeout
	regexp2.DefaultMatchTimeout = 200 * time.Millisecond
	t.Cleanup(func() { regexp2.DefaultMatchTimeout = old })
	// The lookahead sends the pattern to regexp2; the nested quantifier backtracks exponentially.
	s, err := CompileSource("redos.js", `while (true) { /^(x+x+)+y(?=z)/.test('x'.repeat(40)); }`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Run(context.Background(), Options{Timeout: 300 * time.Millisecond})
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("run: %v, want a *TimeoutError", err)
	}
	// Without the match timeout the match would run for hours; any bound
	// far below that proves control came back.
	if d := time.Since(start); d > time.Minute {
		t.Errorf("stopping took %v; the match timeout did not return control", d)
	}
}

func TestRegexpMatchTimeoutIsSet(t *testing.T) {
	if regexp2.DefaultMatchTimeout != RegexpMatchTimeout {
		t.Errorf("regexp2.DefaultMatchTimeout = %v, want %v", regexp2.DefaultMatchTimeout, RegexpMatchTimeout)
	}
}

// stuckRecorder is an Options.Stuck that records the reasons it was given.
type stuckRecorder chan error

func (r stuckRecorder) stuck(reason error) {
	select {
	case r <- reason:
	default: // the first is enough
	}
}

// blockingWriter is a Stdout on which console.log stays inside a native
// call, as a long built-in does, until Stuck is called (or a minute passes,
// so that a failing test ends). first runs on the first write. got waits
// for that first write to end and returns what Stuck was given.
func blockingWriter(stuck stuckRecorder, first func()) (w writerFunc, got func() error) {
	var reason error
	var once sync.Once
	done := make(chan struct{})
	w = func([]byte) {
		once.Do(func() {
			defer close(done)
			if first != nil {
				first()
			}
			select {
			case reason = <-stuck:
			case <-time.After(time.Minute):
			}
		})
	}
	return w, func() error {
		<-done
		return reason
	}
}

// A stop that a native call cannot honour is reported to Options.Stuck, so
// that a process can end at its deadline instead of at the call's end.
func TestStuckWhenBuiltinIgnoresTimeout(t *testing.T) {
	s, err := CompileSource("stuck.js", `console.log('in a native call'); while (true) {}`)
	if err != nil {
		t.Fatal(err)
	}
	stuck := make(stuckRecorder, 1)
	out, got := blockingWriter(stuck, nil)
	err = s.Run(context.Background(), Options{Stdout: out, Timeout: 100 * time.Millisecond, StopGrace: 100 * time.Millisecond, Stuck: stuck.stuck})
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("run: %v, want a *TimeoutError", err)
	}
	if reason := got(); !errors.As(reason, &te) || te.Timeout != 100*time.Millisecond {
		t.Errorf("Stuck got %v, want the *TimeoutError of the run", reason)
	}
}

// The regexp2 match of a catastrophic pattern is such a native call.
func TestStuckInRegexp(t *testing.T) {
	old := regexp2.DefaultMatchTimeout
	regexp2.DefaultMatchTimeout = 3 * time.Second
	t.Cleanup(func() { regexp2.DefaultMatchTimeout = old })
	s, err := CompileSource("redos.js", `/^(x+x+)+y(?=z)/.test('x'.repeat(40));`)
	if err != nil {
		t.Fatal(err)
	}
	stuck := make(stuckRecorder, 1)
	// The timeout leaves a loaded machine time to start the match before it.
	err = s.Run(context.Background(), Options{Timeout: time.Second, StopGrace: 100 * time.Millisecond, Stuck: stuck.stuck})
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("run: %v, want a *TimeoutError", err)
	}
	select {
	case reason := <-stuck:
		if !errors.As(reason, &te) {
			t.Errorf("Stuck got %v, want the *TimeoutError of the run", reason)
		}
	default:
		t.Error("Stuck was not called while the regexp match ran past the timeout and the grace")
	}
}

// Interpreted JavaScript honours the interrupt: Stuck is not called.
func TestNotStuckWhenInterruptWorks(t *testing.T) {
	stuck := make(stuckRecorder, 1)
	tests := []struct {
		src  string
		opts Options
	}{
		{`while (true) {}`, Options{Timeout: 200 * time.Millisecond}},
		// The cap is set above what earlier tests left on the heap.
		{`const keep = []; while (true) keep.push('x'.repeat(1 << 20) + Math.random());`, Options{Timeout: time.Minute, MaxMemory: heapBytes() + 64<<20}},
	}
	for _, tt := range tests {
		s, err := CompileSource("loop.js", tt.src)
		if err != nil {
			t.Fatal(err)
		}
		tt.opts.Stuck = stuck.stuck
		err = s.Run(context.Background(), tt.opts)
		var te *TimeoutError
		var me *MemoryError
		if !errors.As(err, &te) && !errors.As(err, &me) {
			t.Errorf("%s: %v, want a timeout or a memory error", tt.src, err)
		}
	}
	select {
	case reason := <-stuck:
		t.Errorf("Stuck(%v) was called, though the interrupt took effect", reason)
	default:
	}
}

// A cancelled context is a stop like a timeout.
func TestStuckWhenBuiltinIgnoresCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := CompileSource("stuck.js", `console.log('in a native call'); while (true) {}`)
	if err != nil {
		t.Fatal(err)
	}
	stuck := make(stuckRecorder, 1)
	out, got := blockingWriter(stuck, cancel)
	err = s.Run(ctx, Options{Stdout: out, StopGrace: 100 * time.Millisecond, Stuck: stuck.stuck})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v, want a cancellation", err)
	}
	if reason := got(); !errors.Is(reason, context.Canceled) {
		t.Errorf("Stuck got %v, want the cancellation", reason)
	}
}

func TestSessionStuck(t *testing.T) {
	stuck := make(stuckRecorder, 1)
	out, got := blockingWriter(stuck, nil)
	s, err := NewSession(Options{Stdout: out, Timeout: 100 * time.Millisecond, StopGrace: 100 * time.Millisecond, Stuck: stuck.stuck})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Eval(context.Background(), `console.log('in a native call')`)
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("eval: %v, want a *TimeoutError", err)
	}
	if reason := got(); !errors.As(reason, &te) {
		t.Errorf("Stuck got %v, want the *TimeoutError", reason)
	}
}

// A session evaluation that the interrupt can stop is not stuck.
func TestSessionNotStuck(t *testing.T) {
	stuck := make(stuckRecorder, 1)
	s, err := NewSession(Options{Timeout: 100 * time.Millisecond, Stuck: stuck.stuck})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var te *TimeoutError
	if _, err := s.Eval(context.Background(), `while (true) {}`); !errors.As(err, &te) {
		t.Errorf("busy loop: %v, want a *TimeoutError", err)
	}
	select {
	case reason := <-stuck:
		t.Errorf("Stuck(%v) was called for a busy loop the interrupt stops", reason)
	default:
	}
	if v, err := s.Eval(context.Background(), `1 + 1`); err != nil || v.Text != "2" {
		t.Errorf("after the timeout: %+v, %v; want 2", v, err)
	}
}

func TestSessionMemoryCap(t *testing.T) {
	stuck := make(stuckRecorder, 1)
	limit := heapBytes() + 64<<20 // above what earlier tests left on the heap
	s, err := NewSession(Options{MaxMemory: limit, Timeout: 30 * time.Second, Stuck: stuck.stuck})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Eval(context.Background(), `const keep = []; while (true) keep.push('x'.repeat(1 << 20) + Math.random());`)
	var me *MemoryError
	if !errors.As(err, &me) || me.Limit != limit {
		t.Fatalf("eval: %v, want a *MemoryError", err)
	}
	select {
	case reason := <-stuck:
		t.Errorf("Stuck(%v) was called, though the interrupt took effect", reason)
	default:
	}
	if _, err := s.Eval(context.Background(), `keep.length = 0`); err != nil {
		t.Errorf("after the memory error: %v", err)
	}
}

func TestMemoryErrorMessage(t *testing.T) {
	err := &MemoryError{Limit: 2 << 30, Used: 2<<30 + 300<<20}
	want := "MemoryError: memory limit 2 GiB exceeded (memory in use reached 2.3 GiB)"
	if got := err.Error(); !strings.HasPrefix(got, want) {
		t.Errorf("Error() = %q, want it to start with %q", got, want)
	}
}

func TestParseMemorySize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"268435456", 256 << 20, false},
		{"512MiB", 512 << 20, false},
		{"2GiB", 2 << 30, false},
		{"2gib", 2 << 30, false},
		{"1.5GB", 1_500_000_000, false},
		{"1.5 GiB", 3 << 29, false},
		{"64KB", 64_000, false},
		{"100b", 100, false},
		{"0", 0, false},
		{"", 0, true},
		{"lots", 0, true},
		{"512M", 0, true},
		{"-1GiB", 0, true},
		{"1e9", 0, true},
		{"GiB", 0, true},
		{"NaN", 0, true},
		{"0.1", 0, true},
		{"99999999TiB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseMemorySize(tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("ParseMemorySize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMemorySize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatMemorySize(t *testing.T) {
	for n, want := range map[int64]string{
		100:             "100 B",
		2 << 30:         "2 GiB",
		3 << 29:         "1.5 GiB",
		256 << 20:       "256 MiB",
		300<<20 + 1<<19: "300.5 MiB",
	} {
		if got := FormatMemorySize(n); got != want {
			t.Errorf("FormatMemorySize(%d) = %q, want %q", n, got, want)
		}
	}
}

// writerFunc is an io.Writer that calls f with what is written.
type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func TestSampleDelay(t *testing.T) {
	tests := []struct {
		used, max int64
		want      time.Duration
	}{
		{20 << 20, 2 << 30, maxSampleDelay},    // far from the cap
		{250 << 20, 256 << 20, memoryInterval}, // near it
		{300 << 20, 256 << 20, memoryInterval}, // past it
		{0, 256 << 20, 31250 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := sampleDelay(tt.used, tt.max); got != tt.want {
			t.Errorf("sampleDelay(%d MiB, %d MiB) = %v, want %v", tt.used>>20, tt.max>>20, got, tt.want)
		}
	}
}

func TestStackErrorMessage(t *testing.T) {
	err := &StackError{Used: 512 << 20}
	if got := err.Error(); !strings.HasPrefix(got, "RangeError: Maximum call stack size exceeded") || !strings.Contains(got, "512 MiB") {
		t.Errorf("Error() = %q, want a RangeError that says how large the stack grew", got)
	}
}
