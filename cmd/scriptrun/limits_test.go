package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// hangGuard ends a child that the limits under test failed to stop. It is
// no timing threshold: a stopped child ends in about 2 s.
const hangGuard = 20 * time.Second

// addressSpaceKiB caps the children's address space (ulimit -v), so that a
// build whose limits fail dies of it instead of eating the CI machine.
const addressSpaceKiB = 4 << 20

// limitedProc is a child scriptrun under `ulimit -v` and the hang guard.
type limitedProc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func startLimited(t *testing.T, stdin string, args ...string) *limitedProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	sh := append([]string{"-c", `ulimit -v ` + strconv.Itoa(addressSpaceKiB) + ` && exec "$0" "$@"`, binary(t)}, args...)
	p := &limitedProc{cmd: exec.CommandContext(ctx, "/bin/sh", sh...)}
	p.cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+t.TempDir())
	p.cmd.Stdin = strings.NewReader(stdin)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	return p
}

// wait waits for the child and returns its exit code and peak RSS.
func (p *limitedProc) wait(t *testing.T) (code int, peakRSS int64) {
	t.Helper()
	err := p.cmd.Wait()
	if p.cmd.ProcessState == nil {
		t.Fatalf("scriptrun did not run: %v", err)
	}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peakRSS = ru.Maxrss << 10
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("scriptrun was killed by %v (after the %v hang guard?)\nstdout: %s\nstderr: %s", ws.Signal(), hangGuard, p.stdout.String(), p.stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return p.cmd.ProcessState.ExitCode(), peakRSS
}

func runLimited(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string, peakRSS int64) {
	t.Helper()
	p := startLimited(t, stdin, args...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code, peakRSS = p.wait(t)
	return code, p.stdout.String(), p.stderr.String(), peakRSS
}

// assertNoCrash fails when stderr shows a Go runtime dump.
func assertNoCrash(t *testing.T, stderr string) {
	t.Helper()
	for _, bad := range []string{"fatal error", "goroutine ", "panic", ".go:"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr looks like a Go crash (%q):\n%s", bad, stderr)
		}
	}
}

// Built-ins that goja cannot interrupt do not outrun the timeout: the
// process ends with the timeout's message and 124.
func TestTimeoutIsHardDeadline(t *testing.T) {
	binary(t) // built before the clock starts
	dir := t.TempDir()
	tests := []struct{ name, src string }{
		{"fill", `new Array(1e8).fill(1);`},
		{"array from", `Array.from({length: 1e8}, undefined).join(',');`},
		{"deep json", `let o = {}; for (let i = 0; i < 2e5; i++) o = {a: o}; console.log('built'); JSON.stringify(o);`},
		// Without the hard deadline this ends after regexp2's own 5 s bound,
		// with 124 as well; the notice tells the two apart.
		{"regexp", `/^(x+x+)+y(?=z)/.test('x'.repeat(40));`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeScript(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".js", tt.src+"\nconsole.log('finished');\n")
			start := time.Now()
			code, out, errs, rss := runLimited(t, "", "run", file, "--timeout", "1s", "--max-memory", "1GiB")
			t.Logf("ended %v after the start (timeout 1s), peak RSS %d MiB", time.Since(start).Round(time.Millisecond), rss>>20)
			if code != exitTimeout {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitTimeout, out, errs)
			}
			if !strings.Contains(errs, "script timed out after 1s") || !strings.Contains(errs, "cannot be interrupted") {
				t.Errorf("stderr %q does not say the script timed out inside a built-in", errs)
			}
			if strings.Contains(out, "finished") {
				t.Errorf("the script went on after its timeout: %q", out)
			}
			assertNoCrash(t, errs)
		})
	}
}

// A built-in that allocates without bound is stopped near the memory cap
// with a MemoryError and exit 1, not by the kernel or a Go runtime dump;
// JavaScript that allocates in a loop is stopped the same way.
func TestMemoryCap(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, src string
		builtin   bool
	}{
		{"fill", `new Array(2**32-1).fill(0);`, true},
		{"loop", `const keep = []; while (true) keep.push('x'.repeat(1 << 20) + Math.random());`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeScript(t, dir, tt.name+".js", tt.src+"\nconsole.log('finished');\n")
			code, out, errs, rss := runLimited(t, "", "run", file, "--max-memory", "256MiB", "--timeout", "2m")
			t.Logf("peak RSS %d MiB with a cap of 256 MiB", rss>>20)
			if code != exitScript {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitScript, out, errs)
			}
			if !strings.Contains(errs, "MemoryError: memory limit 256 MiB exceeded") {
				t.Errorf("stderr %q lacks the memory error", errs)
			}
			if got := strings.Contains(errs, "cannot be interrupted"); got != tt.builtin {
				t.Errorf("stderr %q: notice of an uninterruptible built-in = %v, want %v", errs, got, tt.builtin)
			}
			if strings.Contains(out, "finished") {
				t.Errorf("the script went on after the memory error: %q", out)
			}
			// One allocation (goja turning a sparse array dense) can pass the
			// cap before a sample sees it; four times the cap is far beyond that.
			if rss > 1<<30 {
				t.Errorf("peak RSS %d MiB, far over the 256 MiB cap", rss>>20)
			}
			assertNoCrash(t, errs)
		})
	}
}

// A built-in that recurses through data nested a million levels deep is
// stopped with a RangeError and exit 1 before Go's 1 GB stack limit would
// kill the process with a runtime dump.
func TestDeepNativeRecursion(t *testing.T) {
	file := writeScript(t, t.TempDir(), "nest.js", "let a = []; for (let i = 0; i < 1e6; i++) a = [a];\nString(a);\nconsole.log('finished');\n")
	code, out, errs, rss := runLimited(t, "", "run", file, "--timeout", "2m")
	t.Logf("peak RSS %d MiB", rss>>20)
	if code != exitScript {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %.2000s", code, exitScript, out, errs)
	}
	if !strings.Contains(errs, "RangeError: Maximum call stack size exceeded") {
		t.Errorf("stderr %q lacks the RangeError", errs)
	}
	assertNoCrash(t, errs)
}

// Ctrl-C during a built-in that ignores it ends the run with 130.
func TestInterruptDuringBuiltin(t *testing.T) {
	file := writeScript(t, t.TempDir(), "redos.js", "console.log('matching');\n/^(x+x+)+y(?=z)/.test('x'.repeat(40));\nconsole.log('finished');\n")
	p := startLimited(t, "", "run", file)
	pr, pw := io.Pipe()
	p.cmd.Stdout = pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(pr)
	if !lines.Scan() || lines.Text() != "matching" {
		t.Fatalf("first output %q, want matching", lines.Text())
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(&p.stdout, pr) }()
	code, _ := p.wait(t)
	pw.Close()
	errs := p.stderr.String()
	if code != exitSignal {
		t.Fatalf("exit %d, want %d\nstderr: %s", code, exitSignal, errs)
	}
	if !strings.Contains(errs, "interrupted") {
		t.Errorf("stderr %q does not say the script was interrupted", errs)
	}
	assertNoCrash(t, errs)
}

// The REPL's timeout is a hard deadline too.
func TestReplTimeoutIsHardDeadline(t *testing.T) {
	code, out, errs, _ := runLimited(t, "1 + 1\nnew Array(1e8).fill(1)\n'after'\n", "repl", "--timeout", "1s")
	if code != exitTimeout {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitTimeout, out, errs)
	}
	if !strings.Contains(out, "2") || strings.Contains(out, "after") {
		t.Errorf("stdout %q: want the first result and nothing after the stuck input", out)
	}
	if !strings.Contains(errs, "timed out after 1s") {
		t.Errorf("stderr %q does not say the evaluation timed out", errs)
	}
	assertNoCrash(t, errs)
}

// The REPL's memory cap holds against a built-in; an evaluation that the
// interrupt stops leaves the session usable.
func TestReplMemoryCap(t *testing.T) {
	in := "const keep = []; while (true) keep.push('x'.repeat(1 << 20) + Math.random())\nkeep.length = 0; 'usable'\nnew Array(2**32-1).fill(0)\n'after'\n"
	code, out, errs, rss := runLimited(t, in, "repl", "--max-memory", "256MiB")
	t.Logf("peak RSS %d MiB with a cap of 256 MiB", rss>>20)
	if code != exitScript {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitScript, out, errs)
	}
	if !strings.Contains(out, "usable") || strings.Contains(out, "after") {
		t.Errorf("stdout %q: want the session usable after the first memory error, and nothing after the stuck input", out)
	}
	if n := strings.Count(errs, "MemoryError: memory limit 256 MiB exceeded"); n != 2 {
		t.Errorf("stderr %q: %d memory errors, want 2", errs, n)
	}
	assertNoCrash(t, errs)
}

func TestMaxMemoryUsage(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"run", "x.js", "--max-memory", "lots"},
		{"run", "--max-memory", "512M", "x.js"},
		{"repl", "--max-memory", "-1GiB"},
	} {
		code, _, errs := c.run(args...)
		if code != exitUsage || !strings.Contains(errs, "--max-memory") || !strings.Contains(errs, "512MiB") {
			t.Errorf("scriptrun %s: exit %d, %q; want a usage error with an example", strings.Join(args, " "), code, errs)
		}
	}
}

// Ctrl-C at a terminal during a built-in that ignores it ends the REPL with
// 130 and says why: the evaluation cannot be cancelled any other way, and
// the prompt would otherwise come back in front of a busy runtime.
func TestReplTerminalCtrlCDuringBuiltin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	cmd := exec.Command(binary(t), "repl")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"SCRIPTRUN_HOME=" + t.TempDir(), "TERM=xterm", "NO_COLOR=1", "PATH=" + os.Getenv("PATH")}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	term := newTerminal(t, ptmx)
	term.expect("> ")
	// The output differs from the echoed input, so seeing it means the
	// match has started.
	term.send("console.log('match' + 'ing'); /^(x+x+)+y(?=z)/.test('x'.repeat(40))\r")
	term.expect("matching")
	term.send("\x03")
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitSignal {
			t.Errorf("exit %v, want %d", err, exitSignal)
		}
	case <-time.After(hangGuard):
		_ = cmd.Process.Kill()
		t.Fatal("Ctrl-C during the match did not end the REPL")
	}
	term.expect("cannot be interrupted")
}
