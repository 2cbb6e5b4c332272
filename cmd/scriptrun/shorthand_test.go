package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// No command or alias is named like a script, so `scriptrun FILE.js`
// always means `scriptrun run FILE.js` and commandTree may build the small
// tree without looking at the whole one.
func TestNoCommandNamedLikeAScript(t *testing.T) {
	walkTree(newRoot(&app{}), func(c *cobra.Command) {
		for _, name := range append([]string{c.Name()}, c.Aliases...) {
			if isScriptFile(name) {
				t.Errorf("command %q is named %q, which the shorthand takes for a script", c.CommandPath(), name)
			}
		}
	})
}

// The shorthand's small tree (root, run) answers every way of running a
// script exactly as the whole tree does: output, errors, help and exit
// codes; other arguments get the whole tree.
func TestShorthandTreeAnswersAsTheWholeTree(t *testing.T) {
	dir, home := t.TempDir(), t.TempDir()
	for name, src := range map[string]string{
		"hello.js":  `console.log("hello", JSON.stringify(args))`,
		"throws.js": "function f() { throw new Error('boom') }\nf()",
		"typed.ts":  "const n: number = 2\nconsole.log(n * 21)",
		"token.js":  `http.get("https://example.com").apiTokenAuth("nope").send()`,
		"syntax.js": "console.log(",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	for _, tt := range []struct {
		args []string
		want string // in stdout or stderr, so that the two trees are not both silent
	}{
		{[]string{"hello.js"}, `hello []`},
		{[]string{"hello.js", "a", "--b", "c"}, `hello ["a","--b","c"]`},
		{[]string{"hello.js", "--help"}, `hello ["--help"]`},
		{[]string{"hello.js", "--timeout", "soon"}, "--timeout"},
		{[]string{"hello.js", "--max-memory", "1MiB"}, "minimum"},
		{[]string{"--home", home, "hello.js"}, "hello"},
		{[]string{"--home=" + home, "hello.js", "x"}, `hello ["x"]`},
		{[]string{"throws.js"}, "boom"},
		{[]string{"typed.ts"}, "42"},
		{[]string{"token.js"}, "nope"},
		{[]string{"syntax.js"}, "syntax.js"},
		{[]string{"missing.js"}, "does not exist"},
		{[]string{"--home", home, "--store", "bogus://x", "token.js"}, "bogus"},
	} {
		args := tt.args
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			smallApp := newTestApp(home)
			small, smallArgs := commandTree(smallApp, args)
			if len(small.Commands()) != 1 || small.Commands()[0].Name() != "run" {
				t.Fatalf("the shorthand built %d commands, want run alone", len(small.Commands()))
			}
			whole := newTestApp(home)
			wholeRoot := newRoot(whole)
			gotCode, gotOut, gotErr := runTree(smallApp, small, smallArgs)
			wantCode, wantOut, wantErr := runTree(whole, wholeRoot, shorthand(args, wholeRoot))
			if !strings.Contains(gotOut+gotErr, tt.want) {
				t.Errorf("the output lacks %q: exit %d\n%s%s", tt.want, gotCode, gotOut, gotErr)
			}
			if gotCode != wantCode || gotOut != wantOut || gotErr != wantErr {
				t.Errorf("small tree: exit %d\n%s%s\nwhole tree: exit %d\n%s%s", gotCode, gotOut, gotErr, wantCode, wantOut, wantErr)
			}
		})
	}
	for _, args := range [][]string{{"token", "list"}, {"run", "hello.js"}, {"-h"}, {"notes.txt"}, {}} {
		if root, _ := commandTree(newTestApp(home), args); len(root.Commands()) < 10 {
			t.Errorf("commandTree(%q) built %d commands, want the whole tree", args, len(root.Commands()))
		}
	}
}

// newTestApp is the app Main makes, with home as SCRIPTRUN_HOME and
// output captured by runTree.
func newTestApp(home string) *app {
	env := map[string]string{"SCRIPTRUN_HOME": home}
	return &app{stdio: Stdio{In: strings.NewReader("")}, getenv: func(k string) string { return env[k] }, exit: exitProcess}
}

// runTree runs args in root's tree (built for a) as Main does and returns
// the exit code and output.
func runTree(a *app, root *cobra.Command, args []string) (int, string, string) {
	var out, errb bytes.Buffer
	a.stdio.Out, a.stdio.Err = &out, &errb
	code := a.execute(root, args)
	return code, out.String(), errb.String()
}

// BenchmarkCommandTree is the start-up cost of the command tree for
// `scriptrun hello.js` (small) against the whole tree it replaced.
func BenchmarkCommandTree(b *testing.B) {
	args := []string{"hello.js"}
	b.Run("shorthand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			commandTree(newTestApp(""), args)
		}
	})
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			root := newRoot(newTestApp(""))
			shorthand(args, root)
		}
	})
}
