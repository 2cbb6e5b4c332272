package store

import (
	"os"
	"path/filepath"
	"testing"
)

// A bundle's file state follows every file it lists, not only the entry.
func TestBundleScriptFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.ts", "import './lib/a';")
	write("lib/a.ts", "console.log(1);")
	j := Job{
		ScriptPath: filepath.Join(dir, "main.ts"),
		Script: "// scriptrun bundle of main.ts (types not checked); files:\n" +
			"//   main.ts sha256 " + ScriptDigest("import './lib/a';") + "\n" +
			"//   lib/a.ts sha256 " + ScriptDigest("console.log(1);") + "\n" +
			"(async function () {\nconsole.log(1);\n})\n",
	}
	if got := j.ScriptFile(); got != ScriptFileUnchanged {
		t.Errorf("unchanged files: state %q, want %q", got, ScriptFileUnchanged)
	}
	write("lib/a.ts", "console.log(2);")
	if got := j.ScriptFile(); got != ScriptFileChanged {
		t.Errorf("an imported file changed: state %q, want %q", got, ScriptFileChanged)
	}
	os.Remove(filepath.Join(dir, "lib", "a.ts"))
	if got := j.ScriptFile(); got != ScriptFileMissing {
		t.Errorf("an imported file gone: state %q, want %q", got, ScriptFileMissing)
	}
}
