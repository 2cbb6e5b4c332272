package runtime

import (
	"context"
	"errors"
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
