package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const MiB = 1 << 20
	tests := []struct {
		name        string
		live, floor uint64
		base, want  int
	}{
		{"small live heap: goal raised to the floor", 1 * MiB, 16 * MiB, 100, 1500},
		{"rounds up so the goal is not below the floor", 3 * MiB, 16 * MiB, 100, 434},
		{"GOGC alone reaches the floor", 8 * MiB, 16 * MiB, 100, 100},
		{"live heap above the floor", 40 * MiB, 16 * MiB, 100, 100},
		{"a higher base is kept", 4 * MiB, 16 * MiB, 400, 400},
		{"bounded for a tiny live heap", 1, 16 * MiB, 100, maxPercent},
		{"collector off stays off", 1 * MiB, 16 * MiB, -1, -1},
		{"no floor", 1 * MiB, 0, 100, 100},
		{"nothing measured yet", 0, 16 * MiB, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Percent(tt.live, tt.floor, tt.base)
			if got != tt.want {
				t.Fatalf("Percent(%d, %d, %d) = %d, want %d", tt.live, tt.floor, tt.base, got, tt.want)
			}
			if got > tt.base && got < maxPercent && tt.live*uint64(100+got)/100 < tt.floor {
				t.Fatalf("goal %d below the floor %d", tt.live*uint64(100+got)/100, tt.floor)
			}
		})
	}
}

// gogc reads the collector's current percentage.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestStartFollowsCollections shows the percentage set after a collection
// from the live heap it measured, and set back by stop. It changes the
// process's GC percentage: it must not run in parallel.
func TestStartFollowsCollections(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	const floor = 1 << 40 // far above any live heap here: the bound applies
	stop := Start(floor, 100)
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != maxPercent {
		if time.Now().After(deadline) {
			t.Fatalf("percentage after collections = %d, want %d", gogc(), maxPercent)
		}
		runtime.GC() // the sentinel's finalizer runs after the cycle frees it
		time.Sleep(time.Millisecond)
	}
	stop()
	if got := gogc(); got != 100 {
		t.Fatalf("after stop the percentage is %d, want 100", got)
	}
	// Collections after stop, each seen through to its finalizers: the
	// finalizer of a sentinel armed before stop has run by the last one.
	for range 3 {
		collectAndFinalize(t)
	}
	if got := gogc(); got != 100 {
		t.Fatalf("a collection after stop set the percentage to %d", got)
	}
}

// collectAndFinalize runs a collection and waits until a finalizer of an
// object it freed has run on the finalizer goroutine.
func collectAndFinalize(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	probe := &sentinel{}
	runtime.SetFinalizer(probe, func(*sentinel) { close(done) })
	probe = nil
	deadline := time.After(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-done:
			return
		case <-deadline:
			t.Fatal("the probe's finalizer never ran")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestStartDoesNothingWithoutAFloor(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	for _, c := range []struct {
		floor uint64
		base  int
	}{{0, 100}, {16 << 20, -1}, {16 << 20, 0}} {
		stop := Start(c.floor, c.base)
		runtime.GC()
		stop()
		if got := gogc(); got != 100 {
			t.Fatalf("Start(%d, %d) changed the percentage to %d", c.floor, c.base, got)
		}
	}
}
