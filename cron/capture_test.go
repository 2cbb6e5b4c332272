package cron_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/cron"
	"github.com/scriptrun/scriptrun/store"
)

func TestCaptureScript(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("lib.ts", "export const n: number = 42;\n")
	src, _, err := cron.CaptureScript(write("main.ts", "import { n } from './lib';\nconsole.log(n);\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(src, "// scriptrun bundle of main.ts") || !strings.Contains(src, "//   lib.ts sha256 ") {
		t.Errorf("captured source is not a bundle of main.ts and lib.ts:\n%.300s", src)
	}
	// A plain script is captured as it is.
	if src, _, err := cron.CaptureScript(write("plain.js", "console.log(1)")); err != nil || src != "console.log(1)" {
		t.Errorf("plain.js: %q, %v", src, err)
	}
	// A refused import is a field error on the script.
	_, _, err = cron.CaptureScript(write("up.ts", "import x from '../x';\nconsole.log(x);\n"))
	if es := store.AsFieldErrors(err); len(es) != 1 || es[0].Field != "script" || !strings.Contains(es[0].Message, "outside the script folder") {
		t.Errorf("up.ts: got %v, want a field error on script saying the import is outside the folder", err)
	}
}
