package runtime_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/runtime"
)

// tsProject copies testdata/tsproject (a TypeScript entry, a module in
// lib/ and a JSON file) into a new folder and returns it.
func tsProject(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir("testdata/tsproject", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/tsproject", p)
		writeFile(t, dir, rel, string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTypeScriptProject(t *testing.T) {
	dir := tsProject(t)
	s, err := runtime.CompileFile(filepath.Join(dir, "main.ts"), runtime.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, s, context.Background(), runtime.Options{})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut)
	}
	if want := "HELLO WORLD 4 aGk=\nrest {\"second\":7} 1\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}

	// A thrown error points at the .ts file and line it was thrown on,
	// and the run fails as any script error does.
	_, _, err = run(t, s, context.Background(), runtime.Options{Args: []string{"throw"}})
	var se *runtime.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("got %T %v, want *runtime.ScriptError", err, err)
	}
	if se.Message != "Error: greet: empty name" || !strings.Contains(se.Stack, "at greet (lib/greet.ts:5:11)") || !strings.Contains(se.Stack, "main.ts:15:") {
		t.Errorf("error = %q\n%s\nwant it thrown at lib/greet.ts:5:11 (the new), called from main.ts:15", se.Message, se.Stack)
	}
}

func TestTopLevelAwait(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		// A .js file with top-level await and no modules, as the REPL's .save writes.
		"saved.js":  "const r = await Promise.resolve(40);\nconsole.log(r + 2);\n",
		"saved.mjs": "export const x = 1;\nawait null;\nconsole.log(42);\n",
	} {
		s, err := runtime.Compile(writeFile(t, dir, name, src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out, errOut, err := run(t, s, context.Background(), runtime.Options{}); err != nil || out != "42\n" {
			t.Errorf("%s: got %q, %v (%s), want 42", name, out, err, errOut)
		}
	}
	// A rejection at the top level ends the run as an uncaught error.
	s, err := runtime.Compile(writeFile(t, dir, "fail.ts", "await null;\nthrow new TypeError('late');\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, s, context.Background(), runtime.Options{})
	var se *runtime.ScriptError
	if !errors.As(err, &se) || se.Message != "TypeError: late" || !strings.Contains(se.Stack, "fail.ts:2:") {
		t.Errorf("got %v, want TypeError: late at fail.ts:2", err)
	}
}

func TestBundleSyntaxError(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "main.ts", "import { f } from './lib/f';\nf();\n")
	writeFile(t, dir, "lib/f.ts", "export function f(): void {\n  let y: number = (;\n}\n")
	_, err := runtime.Compile(filepath.Join(dir, "main.ts"))
	var ce *runtime.CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v, want *runtime.CompileError", err, err)
	}
	if got, want := strings.Split(err.Error(), "\n")[0], `lib/f.ts:2:20: SyntaxError: Unexpected ";"`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if ce.Source != "  let y: number = (;" {
		t.Errorf("source line = %q", ce.Source)
	}
}

func TestImportConfinement(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "scripts")
	writeFile(t, parent, "secret.js", "export default 'secret';")
	writeFile(t, dir, "lib.ts", "export default 1;")
	if err := os.Symlink(filepath.Join(parent, "secret.js"), filepath.Join(dir, "link.js")); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, src, want string }{
		{"up.ts", `import x from "../secret.js"; console.log(x);`, `up.ts:1:15: ImportError: import "../secret.js": outside the script folder`},
		{"abs.ts", `import x from "` + filepath.ToSlash(filepath.Join(parent, "secret.js")) + `"; console.log(x);`, `abs.ts:1:15: ImportError: import "` + filepath.ToSlash(filepath.Join(parent, "secret.js")) + `": absolute paths cannot be imported`},
		{"pkg.ts", `import x from "lodash"; console.log(x);`, `pkg.ts:1:15: ImportError: import "lodash": only "url", "buffer", "console" and files in the script's folder`},
		{"nm.ts", `import x from "./node_modules/x/index.js"; console.log(x);`, `nm.ts:1:15: ImportError: import "./node_modules/x/index.js": no such file`},
		{"link.ts", `import x from "./link.js"; console.log(x);`, `link.ts:1:15: ImportError: import "./link.js": link.js is a link to ` + filepath.Join(parent, "secret.js")},
		{"req.ts", `const x = require("../secret.js"); console.log(x);`, `req.ts:1:19: ImportError: import "../secret.js": outside the script folder`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runtime.Compile(writeFile(t, dir, tt.name, tt.src))
			var ce *runtime.CompileError
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v\nwant an error starting %q", err, tt.want)
			}
		})
	}
}

func TestBundleCache(t *testing.T) {
	dir := tsProject(t)
	cache := filepath.Join(t.TempDir(), "cache", "bundles")
	main := filepath.Join(dir, "main.ts")
	compile := func() {
		t.Helper()
		if _, err := runtime.CompileFile(main, runtime.CompileOptions{CacheDir: cache}); err != nil {
			t.Fatal(err)
		}
	}
	builds := runtime.BundleBuilds()
	compile()
	compile()
	if n := runtime.BundleBuilds() - builds; n != 1 {
		t.Errorf("two compiles of an unchanged project ran esbuild %d times, want 1", n)
	}
	entries, err := os.ReadDir(cache)
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache holds %v (%v), want one entry", entries, err)
	}
	if fi, err := os.Stat(filepath.Join(cache, entries[0].Name())); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache entry mode = %v (%v), want 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache folder mode = %v (%v), want 0700", fi.Mode(), err)
	}
	// Changing an imported file, even only the JSON, builds again.
	writeFile(t, dir, "config.json", `{"name": "again", "items": []}`)
	compile()
	if n := runtime.BundleBuilds() - builds; n != 2 {
		t.Errorf("after config.json changed esbuild ran %d times in all, want 2", n)
	}
}

func TestBundleSource(t *testing.T) {
	dir := tsProject(t)
	b, err := runtime.BundleScript(filepath.Join(dir, "main.ts"), "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range b.Files {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, " "); got != "main.ts config.json lib/greet.ts" {
		t.Errorf("files = %s, want main.ts config.json lib/greet.ts", got)
	}
	// The captured source runs on its own (a cron job has no folder), with
	// positions in the original files.
	s, err := runtime.CompileSource(b.Name, b.Source)
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := run(t, s, context.Background(), runtime.Options{}); err != nil || !strings.HasPrefix(out, "HELLO WORLD 4") {
		t.Errorf("got %q, %v (%s)", out, err, errOut)
	}
	_, _, err = run(t, s, context.Background(), runtime.Options{Args: []string{"throw"}})
	if err == nil || !strings.Contains(err.Error(), "lib/greet.ts:5:") {
		t.Errorf("got %v, want an error at lib/greet.ts:5", err)
	}
}

func TestSessionLoadTypeScript(t *testing.T) {
	dir := tsProject(t)
	var out syncBuffer
	s, err := runtime.NewSession(runtime.Options{Folder: dir, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Load(context.Background(), "main.ts"); err != nil {
		t.Fatalf(".load main.ts: %v", err)
	}
	if got := out.String(); !strings.HasPrefix(got, "HELLO WORLD 4 aGk=\n") {
		t.Errorf("output = %q, want HELLO WORLD 4 aGk= first", got)
	}
	// The session goes on after a bundle, and errors name the .ts file.
	if _, err := s.Eval(context.Background(), "args = ['throw']"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Load(context.Background(), "main.ts")
	if err == nil || !strings.Contains(err.Error(), "lib/greet.ts:5:") {
		t.Errorf(".load with a throw: got %v, want an error at lib/greet.ts:5", err)
	}
	if _, err := s.Load(context.Background(), "../x.ts"); err == nil || !strings.Contains(err.Error(), "outside the folder") {
		t.Errorf(".load ../x.ts: got %v, want it refused", err)
	}
}
