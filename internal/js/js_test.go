package js_test

import (
	"errors"
	"testing"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

func TestTypeOf(t *testing.T) {
	vm := goja.New()
	for _, tt := range []struct {
		expr, want string
	}{
		{"undefined", "undefined"},
		{"null", "null"},
		{"'s'", "string"},
		{"1.5", "number"},
		{"10n", "bigint"},
		{"Symbol('s')", "symbol"},
		{"true", "boolean"},
		{"(() => 1)", "function"},
		{"(class A {})", "function"},
		{"[1]", "array"},
		{"({})", "object"},
		{"new String('s')", "object"},
	} {
		v, err := vm.RunString(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if got := js.TypeOf(v); got != tt.want {
			t.Errorf("TypeOf(%s) = %q, want %q", tt.expr, got, tt.want)
		}
	}
	if got := js.TypeOf(nil); got != "undefined" {
		t.Errorf("TypeOf(nil) = %q, want undefined", got)
	}
}

func TestLazyGlobal(t *testing.T) {
	vm := goja.New()
	calls := 0
	js.LazyGlobal(vm, "Thing", func() goja.Value {
		calls++
		return vm.ToValue(42)
	})
	js.LazyGlobal(vm, "Other", func() goja.Value {
		t.Error("create called for a global that was assigned before it was read")
		return goja.Undefined()
	})
	v, err := vm.RunString(`
		const hidden = !Object.keys(globalThis).includes('Thing');
		Other = 'mine';
		[Thing, Thing, hidden, Other, Object.getOwnPropertyDescriptor(globalThis, 'Thing').writable].join()`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.String(), "42,42,true,mine,true"; got != want {
		t.Errorf("reading the globals gave %q, want %q", got, want)
	}
	if calls != 1 {
		t.Errorf("create called %d times, want once", calls)
	}
}

func TestRethrowUncatchable(t *testing.T) {
	vm := goja.New()
	vm.Interrupt("stop")
	_, interrupted := vm.RunString("for (;;) {}")
	vm.ClearInterrupt()
	_, thrown := vm.RunString("throw new Error('x')")
	vm.SetMaxCallStackSize(100)
	_, overflow := vm.RunString("function f() { f() } f()")
	for _, tt := range []struct {
		name   string
		err    error
		panics bool
	}{
		{"interrupt", interrupted, true},
		{"stack overflow", overflow, true},
		{"exception", thrown, false},
		{"other", errors.New("x"), false},
	} {
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			js.RethrowUncatchable(tt.err)
			return false
		}()
		if panicked != tt.panics {
			t.Errorf("%s (%T): panicked = %v, want %v", tt.name, tt.err, panicked, tt.panics)
		}
	}
}
