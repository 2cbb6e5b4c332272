package lazy

import (
	"sync"
	"sync/atomic"
	"testing"
)

var (
	word  = Regexp{Expr: `^[a-z]+$`}
	calls atomic.Int32
	table = Value[map[string]int]{New: func() map[string]int {
		calls.Add(1)
		return map[string]int{"one": 1, "two": 2}
	}}
)

func TestRegexp(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{{"abc", true}, {"ab1", false}, {"", false}} {
		if got := word.Get().MatchString(tc.in); got != tc.want {
			t.Errorf("word.Get().MatchString(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	first, again := word.Get(), word.Get()
	if first != again {
		t.Error("Get compiled the expression twice")
	}
}

func TestRegexpBadExprPanics(t *testing.T) {
	bad := &Regexp{Expr: `(`}
	defer func() {
		if recover() == nil {
			t.Error("Get of an expression that does not compile did not panic")
		}
	}()
	bad.Get()
}

// TestValueOnce checks that New runs once however many goroutines ask at
// the same time, and that they all get its value.
func TestValueOnce(t *testing.T) {
	if n := calls.Load(); n != 0 {
		t.Fatalf("New ran %d times before the first Get", n)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := table.Get()["two"]; got != 2 {
				t.Errorf(`table.Get()["two"] = %d, want 2`, got)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("New ran %d times, want 1", n)
	}
}
