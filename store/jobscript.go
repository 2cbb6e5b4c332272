package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// scriptExts are the files a job's script is captured from. Only scripts:
// capturing must not become a way to read other files (the master key, the
// database, anything of the user serve runs as) into a job that the console
// and `cron show --source` display.
// TypeScript files are captured as a bundle (package runtime bundles them).
var scriptExts = []string{".js", ".mjs", ".cjs", ".ts", ".mts"}

func isScriptName(p string) bool {
	return slices.Contains(scriptExts, strings.ToLower(filepath.Ext(p)))
}

// ReadJobScript reads the script file a job captures, for the command line,
// the console and apply alike: path must be absolute (callers resolve
// relative paths against what they are relative to) and name a regular
// .js, .mjs, .cjs, .ts or .mts file, also after symbolic links, of at most
// MaxScriptBytes, that is none of the protected files (the home's master
// key and database, however it reaches them). It returns the source and the
// cleaned path. Its error is a FieldErrors on the field "script".
func ReadJobScript(path string, protected ...string) (src, clean string, err error) {
	bad := func(format string, args ...any) (string, string, error) {
		return "", "", fieldError("script", "script file", format, args...)
	}
	const example = "e.g. /srv/scripts/sync.js"
	switch {
	case path == "":
		return bad("required: give the absolute path of the script, %s", example)
	case !filepath.IsAbs(path):
		return bad("%q is not an absolute path: give the full path, %s", path, example)
	}
	clean = filepath.Clean(path)
	if !isScriptName(clean) {
		return bad("%s is not a script: a job captures only .js, .mjs, .cjs, .ts and .mts files", clean)
	}
	real, err := filepath.EvalSymlinks(clean)
	if errors.Is(err, fs.ErrNotExist) {
		return bad("there is no file %s", clean)
	}
	if err != nil {
		return bad("%s cannot be read: %v", clean, cause(err))
	}
	if !isScriptName(real) {
		return bad("%s leads to %s, which is not a script: a job captures only .js, .mjs, .cjs, .ts and .mts files", clean, real)
	}
	b, err := readRegular(real, MaxScriptBytes, protected)
	switch {
	case errors.Is(err, errNotRegular):
		return bad("%s is not a regular file: give the script file", clean)
	case errors.Is(err, errTooLarge):
		return bad("%s is larger than %s, the most a job's script may have", clean, FormatBytes(MaxScriptBytes))
	case errors.Is(err, errProtected):
		return bad("%s is scriptrun's own file, not a script", clean)
	case err != nil:
		return bad("%s cannot be read: %v", clean, cause(err))
	}
	return string(b), clean, nil
}

// ScriptFileState is how the file a job's script was captured from compares
// with the captured source.
type ScriptFileState string

// Script file states.
const (
	ScriptFileNone      ScriptFileState = ""          // the script was not captured from a file
	ScriptFileUnchanged ScriptFileState = "unchanged" // the file holds the captured source
	ScriptFileChanged   ScriptFileState = "changed"   // it holds something else (or too much to capture)
	ScriptFileMissing   ScriptFileState = "missing"   // it is gone, unreadable or not a regular file
)

// ScriptFile compares the file j's script was captured from with the
// captured source. It reads the file as ReadJobScript would, so a FIFO or
// device put in its place cannot hang the caller.
func (j Job) ScriptFile() ScriptFileState {
	if j.ScriptPath == "" {
		return ScriptFileNone
	}
	if files, ok := bundleFiles(j.Script); ok {
		return bundleFileState(filepath.Dir(j.ScriptPath), files)
	}
	b, err := readRegular(j.ScriptPath, MaxScriptBytes, nil)
	switch {
	case errors.Is(err, errTooLarge):
		return ScriptFileChanged
	case err != nil:
		return ScriptFileMissing
	case ScriptDigest(string(b)) != j.ScriptSHA256:
		return ScriptFileChanged
	}
	return ScriptFileUnchanged
}

// bundleFiles reads the files of a bundle from its header, which package
// runtime writes (runtime.Bundle.Source): a first line "// scriptrun bundle
// of NAME …", then one "//   NAME sha256 HEX" line per file.
func bundleFiles(src string) (map[string]string, bool) {
	lines := strings.SplitN(src, "\n", 2)
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "// scriptrun bundle of ") {
		return nil, false
	}
	files := map[string]string{}
	for _, l := range strings.Split(lines[1], "\n") {
		rest, ok := strings.CutPrefix(l, "//   ")
		if !ok {
			break
		}
		f := strings.Fields(rest)
		if len(f) != 3 || f[1] != "sha256" {
			break
		}
		files[f[0]] = f[2]
	}
	return files, len(files) > 0
}

// bundleFileState compares the files a bundle was built from, in dir, with
// their hashes: changed when any one differs.
func bundleFileState(dir string, files map[string]string) ScriptFileState {
	for name, sum := range files {
		rel := filepath.FromSlash(name)
		if filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
			return ScriptFileChanged
		}
		b, err := readRegular(filepath.Join(dir, rel), MaxScriptBytes, nil)
		switch {
		case errors.Is(err, errTooLarge):
			return ScriptFileChanged
		case err != nil:
			return ScriptFileMissing
		case ScriptDigest(string(b)) != sum:
			return ScriptFileChanged
		}
	}
	return ScriptFileUnchanged
}

var (
	errNotRegular = errors.New("not a regular file")
	errTooLarge   = errors.New("too large")
	errProtected  = errors.New("protected")
)

// readRegular reads the regular file at path, of at most limit bytes. It
// opens without blocking and checks that what it opened is what it looked
// at, so a FIFO or device named here cannot hang or feed the reader.
func readRegular(path string, limit int64, protected []string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, errNotRegular
	case fi.Size() > limit:
		return nil, errTooLarge
	}
	for _, p := range protected {
		if pi, err := os.Stat(p); err == nil && os.SameFile(fi, pi) {
			return nil, errProtected
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(fi, opened) {
		return nil, fmt.Errorf("%s changed while it was read", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// cause is the reason inside a *fs.PathError, which names the path again.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
