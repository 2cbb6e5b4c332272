package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// initAllowed are this module's packages that may do work at start-up, and
// why. Nothing else of ours may: every package whose init function runs
// faults in about 64 KiB of code and data at every start of every command,
// and `scriptrun FILE.js` must start in 16 MiB or less (issue 17). Use
// internal/lazy, a function, a switch or a slice literal instead of a call,
// a map literal or a copy of another package's variable.
var initAllowed = map[string]string{
	// regexp2.DefaultMatchTimeout is set before main, as regexp2 expects;
	// the package's code is in use in every script run anyway.
	"github.com/scriptrun/scriptrun/runtime": "sets regexp2's match timeout (no allocation)",
}

// No package of this module has init work beyond initAllowed: the
// runtime's init trace (GODEBUG=inittrace=1, one line per package whose
// init ran) of `scriptrun hello.js` names none, and the allowed ones
// allocate nothing.
func TestNoInitWork(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	file := writeScript(t, dir, "hello.js", "console.log('hello')")
	cmd := exec.Command(binary(t), file)
	cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+home, "GODEBUG=inittrace=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || out.String() != "hello\n" {
		t.Fatalf("scriptrun hello.js: %v, output %q\n%s", err, out.String(), errb.String())
	}
	traced := 0
	for _, line := range strings.Split(errb.String(), "\n") {
		// init PKG @0.2 ms, 0.003 ms clock, 16 bytes, 1 allocs
		f := strings.Fields(line)
		if len(f) < 10 || f[0] != "init" {
			continue
		}
		traced++
		pkg, allocs := f[1], f[len(f)-2]
		if pkg != "main" && !strings.HasPrefix(pkg, "github.com/scriptrun/scriptrun") {
			continue
		}
		if why, ok := initAllowed[pkg]; !ok {
			t.Errorf("package %s does init work at every start: %s", pkg, line)
		} else if allocs != "0" {
			t.Errorf("package %s may only %s, but allocates at init: %s", pkg, why, line)
		}
	}
	if traced == 0 {
		t.Fatalf("no init trace in the standard error:\n%s", errb.String())
	}
}
