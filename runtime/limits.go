package runtime

import (
	"fmt"
	"runtime/metrics"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// RegexpMatchTimeout bounds one regular-expression match. goja runs patterns
// that Go's linear-time regexp cannot (backreferences, lookaround) on
// regexp2, which backtracks: a catastrophic pattern would otherwise run
// inside one native call where neither a timeout nor Ctrl-C can reach it.
// When the bound passes, goja reports no match (a goja limitation), and the
// script's own timeout is enforced from there.
const RegexpMatchTimeout = 5 * time.Second

func init() {
	// regexp2 reads this when a pattern is compiled; goja offers no per-runtime setting.
	regexp2.DefaultMatchTimeout = RegexpMatchTimeout
}

// MemoryError reports that a run was stopped because the process's heap
// grew past Options.MaxMemory.
type MemoryError struct {
	Limit int64 // bytes
	Used  int64 // bytes, when it was stopped
}

// Error says how much memory was used and what the limit was.
func (e *MemoryError) Error() string {
	return fmt.Sprintf("script stopped: it used %d MiB of memory, over the limit of %d MiB; process data in smaller pieces (paging) or raise the limit", e.Used>>20, e.Limit>>20)
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

// heapBytes is the memory held by live and not-yet-swept heap objects.
func heapBytes() int64 {
	s := make([]metrics.Sample, 1)
	copy(s, heapSample)
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
