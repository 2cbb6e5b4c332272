package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tsProject copies runtime's multi-file TypeScript project (main.ts,
// lib/greet.ts, config.json) into a new folder.
func tsProject(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "runtime", "testdata", "tsproject")
	dir := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

const tsProjectOutput = "HELLO WORLD 4 aGk=\nrest {\"second\":7} 1\n"

// TestTypeScriptProject runs one TypeScript project with a JSON import
// from the real binary, the REPL's .load and a cron job.
func TestTypeScriptProject(t *testing.T) {
	dir := tsProject(t)
	home := t.TempDir()
	main := filepath.Join(dir, "main.ts")

	// The CLI, twice: the second run uses the cached bundle.
	if code, out, errs := proc(t, home, "", main); code != 0 || out != tsProjectOutput {
		t.Fatalf("scriptrun main.ts: exit %d, %q, %s", code, out, errs)
	}
	entries, err := os.ReadDir(filepath.Join(home, "cache", "bundles"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("bundle cache: %v, %v; want one entry", entries, err)
	}
	cached := filepath.Join(home, "cache", "bundles", entries[0].Name())
	before, err := os.Stat(cached)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := proc(t, home, "", "run", main); code != 0 || out != tsProjectOutput {
		t.Fatalf("second run: exit %d, %q, %s", code, out, errs)
	}
	if after, err := os.Stat(cached); err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the second run rewrote the cached bundle (mtime %v, was %v): it bundled again", after.ModTime(), before.ModTime())
	}

	// A thrown error: exit 1, the stack in the .ts files.
	code, _, errs := proc(t, home, "", main, "throw")
	if code != exitScript || !strings.Contains(errs, "Error: greet: empty name") || !strings.Contains(errs, "at greet (lib/greet.ts:5:11)") || !strings.Contains(errs, "main.ts:15:") {
		t.Errorf("throw: exit %d, stderr %q; want exit %d and a stack at lib/greet.ts:5 and main.ts:15", code, errs, exitScript)
	}

	// The REPL, started in the project's folder.
	cmd := exec.Command(binary(t), "repl")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+home)
	cmd.Stdin = strings.NewReader(".load main.ts\n6 * 7\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), tsProjectOutput) || !strings.Contains(out.String(), "42") {
		t.Errorf("repl .load main.ts: %v\nstdout %q\nstderr %q", err, out.String(), errb.String())
	}

	// cron: the job captures the bundle of every file, and runs it even
	// when the files are gone.
	c := newCLI(t)
	c.must("cron", "add", "ts", "--schedule", "@daily", "--script", main)
	src := c.must("cron", "show", "ts", "--source")
	for _, want := range []string{"// scriptrun bundle of main.ts", "//   lib/greet.ts sha256 ", "//   config.json sha256 ", "HELLO"} {
		if !strings.Contains(src, want) {
			t.Errorf("cron show --source lacks %q:\n%.400s", want, src)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := c.run("cron", "run", "ts"); code != 0 || !strings.Contains(out, "HELLO WORLD 4") {
		t.Errorf("cron run ts: exit %d, %q, %s", code, out, errs)
	}
	if show := c.must("cron", "show", "ts"); !strings.Contains(show, main+" or a file it imports is gone") {
		t.Errorf("cron show after lib/ was removed does not say an imported file is gone:\n%s", show)
	}
}

// TestModuleRefusals: imports that leave the folder fail before the script
// runs, as a script error naming the import.
func TestModuleRefusals(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "s")
	writeScript(t, parent, "x.js", "export default 1;")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(parent, "x.js"), filepath.Join(dir, "link.js")); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	for name, tt := range map[string]struct{ src, want string }{
		"up.ts":    {`import x from "../x.js"; console.log(x);`, `up.ts:1:15: ImportError: import "../x.js": outside the script folder`},
		"abs.mjs":  {`import x from "` + filepath.ToSlash(filepath.Join(parent, "x.js")) + `"; console.log(x);`, "absolute paths cannot be imported"},
		"pkg.ts":   {`import x from "left-pad"; console.log(x);`, "there are no node_modules packages"},
		"link.ts":  {`import x from "./link.js"; console.log(x);`, "link.js is a link to "},
		"bad.ts":   {"const a: number = 1;\nlet b = (;\n", "bad.ts:2:10: SyntaxError: Unexpected \";\""},
		"await.js": {"const v = await Promise.resolve(42);\nconsole.log(v);\n", ""},
	} {
		code, out, errs := c.run(writeScript(t, dir, name, tt.src))
		switch {
		case tt.want == "" && (code != 0 || out != "42\n"):
			t.Errorf("%s: exit %d, %q, %s; want 42", name, code, out, errs)
		case tt.want != "" && (code != exitScript || !strings.Contains(errs, tt.want)):
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", name, code, errs, exitScript, tt.want)
		}
	}
}
