package runtime_test

import (
	"context"
	"testing"

	"github.com/scriptrun/scriptrun/runtime"
)

// gs.info/warn/error/debug write to the run's output, filling {n}
// placeholders as GlideSystem does.
func TestGlideSystemLog(t *testing.T) {
	tests := []struct {
		name, js, stdout, stderr string
	}{
		{"info", `gs.info('hello')`, "hello\n", ""},
		{"debug", `gs.debug('details')`, "details\n", ""},
		{"warn", `gs.warn('careful')`, "", "careful\n"},
		{"error", `gs.error('failed')`, "", "failed\n"},
		{"placeholders", `gs.info('{0} has {1} items, {0}', 'cart', 3)`, "cart has 3 items, cart\n", ""},
		{"placeholder without argument", `gs.info('a {0} {1} {x} {} {+0}', 'b')`, "a b {1} {x} {} {+0}\n", ""},
		{"extra arguments are not printed", `gs.info('just this', 'and', 'more')`, "just this\n", ""},
		{"objects as console shows them", `gs.info({a: 1}); gs.info('v={0}', [1, 'x'])`, "{\"a\":1}\nv=[1,\"x\"]\n", ""},
		{"no arguments", `gs.info()`, "\n", ""},
		{"replaceable", `gs = {info: () => console.log('mine')}; gs.info('x')`, "mine\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := runtime.CompileSource("gs.js", tt.js)
			if err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := run(t, s, context.Background(), runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if stdout != tt.stdout || stderr != tt.stderr {
				t.Errorf("%s: stdout %q, stderr %q; want %q, %q", tt.js, stdout, stderr, tt.stdout, tt.stderr)
			}
		})
	}
}
