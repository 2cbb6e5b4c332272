package store

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadJobScript(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.js", "console.log(1)")
	key := write("master.key", "k")
	os.Symlink(key, filepath.Join(dir, "key-link.js"))
	os.Symlink(good, filepath.Join(dir, "good-link.mjs"))
	os.Link(key, filepath.Join(dir, "key-hard.js"))
	os.Mkdir(filepath.Join(dir, "folder.js"), 0o700)
	write("big.js", "//"+strings.Repeat("x", MaxScriptBytes))
	fifo := filepath.Join(dir, "pipe.js")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Logf("no FIFO: %v", err)
	}
	tests := []struct {
		name, path string
		want       string // "" for success
	}{
		{"good", good, ""},
		{"link to a script", filepath.Join(dir, "good-link.mjs"), ""},
		{"empty", "", "required"},
		{"relative", "good.js", "not an absolute path"},
		{"not a script", key, "is not a script"},
		{"link to a non-script", filepath.Join(dir, "key-link.js"), "leads to"},
		{"hard link to the key", filepath.Join(dir, "key-hard.js"), "scriptrun's own file"},
		{"missing", filepath.Join(dir, "nope.js"), "there is no file"},
		{"folder", filepath.Join(dir, "folder.js"), "not a regular file"},
		{"FIFO", fifo, "not a regular file"},
		{"too large", filepath.Join(dir, "big.js"), "larger than 1 MiB"},
	}
	for _, tt := range tests {
		src, clean, err := ReadJobScript(tt.path, key)
		fes := AsFieldErrors(err)
		switch {
		case tt.want == "" && (err != nil || src != "console.log(1)" || clean != tt.path):
			t.Errorf("%s: %q, %q, %v", tt.name, src, clean, err)
		case tt.want != "" && (len(fes) != 1 || fes[0].Field != "script" || !strings.Contains(fes[0].Message, tt.want)):
			t.Errorf("%s: %v, want a script field error saying %q", tt.name, err, tt.want)
		}
	}
}

func TestJobScriptFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sync.js")
	os.WriteFile(path, []byte("v1"), 0o600)
	j := Job{ScriptPath: path, ScriptSHA256: ScriptDigest("v1")}
	fifo := filepath.Join(dir, "pipe.js")
	syscall.Mkfifo(fifo, 0o600)
	tests := []struct {
		name  string
		setup func(*Job)
		want  ScriptFileState
	}{
		{"no file", func(j *Job) { j.ScriptPath = "" }, ScriptFileNone},
		{"unchanged", func(*Job) {}, ScriptFileUnchanged},
		{"changed", func(j *Job) { j.ScriptSHA256 = ScriptDigest("v0") }, ScriptFileChanged},
		{"missing", func(j *Job) { j.ScriptPath = filepath.Join(dir, "gone.js") }, ScriptFileMissing},
		{"a FIFO does not hang", func(j *Job) { j.ScriptPath = fifo }, ScriptFileMissing},
	}
	for _, tt := range tests {
		jj := j
		tt.setup(&jj)
		if got := jj.ScriptFile(); got != tt.want {
			t.Errorf("%s: ScriptFile() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
