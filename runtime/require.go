package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/buffer"
	"github.com/dop251/goja_nodejs/require"
	"github.com/dop251/goja_nodejs/url"

	"github.com/scriptrun/scriptrun/internal/js"
	"github.com/scriptrun/scriptrun/internal/lazy"
)

// maxModuleBytes bounds the size of a file a script can require.
const maxModuleBytes = 16 << 20

// folder confines require() to a script's folder. Module names are paths
// relative to the folder ("lib/util.js"), which is also how stack traces show
// them.
type folder struct {
	dir string // absolute, symbolic links resolved
	alt string // absolute as given, which differs from dir when it contains links
}

// errOutside is returned by the loader for files outside the folder.
type errOutside struct {
	name, target string // target is set when name is a link that leads outside
}

// Error names the file and, for links, where they lead.
func (e *errOutside) Error() string {
	if e.target != "" {
		return fmt.Sprintf("%s is a link to %s", e.name, e.target)
	}
	return e.name + " is outside the folder"
}

var errNoFolder = errors.New("this script was not loaded from a file, so it cannot require files")

// noFiles is the loader of scripts compiled from source.
func noFiles(string) ([]byte, error) { return nil, errNoFolder }

// relative converts an absolute path into a folder-relative one, if it is inside.
func (f *folder) relative(abs string) (string, bool) {
	for _, dir := range []string{f.dir, f.alt} {
		if rel, err := filepath.Rel(dir, abs); err == nil && inside(rel) {
			return rel, true
		}
	}
	return "", false
}

// inside reports whether a cleaned relative path stays inside its base.
func inside(rel string) bool {
	return !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// resolve is the registry's PathResolver: it joins a require() argument to the
// folder-relative directory of the requiring module. Paths that leave the
// folder come back unchanged (absolute or starting with ..), and load refuses them.
func (f *folder) resolve(base, p string) string {
	if filepath.IsAbs(p) {
		if rel, ok := f.relative(filepath.Clean(p)); ok {
			return rel
		}
		return filepath.Clean(p)
	}
	return filepath.Join(base, filepath.FromSlash(p))
}

// load is the registry's SourceLoader: it reads .js and .json files inside the
// folder, after resolving symbolic links.
func (f *folder) load(name string) ([]byte, error) {
	if !inside(name) {
		return nil, &errOutside{name: name}
	}
	real, err := filepath.EvalSymlinks(filepath.Join(f.dir, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
			return nil, require.ModuleFileDoesNotExistError
		}
		return nil, err
	}
	if rel, err := filepath.Rel(f.dir, real); err != nil || !inside(rel) {
		return nil, &errOutside{name: name, target: real}
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, require.ModuleFileDoesNotExistError
	}
	if ext := filepath.Ext(real); ext != ".js" && ext != ".json" {
		return nil, fmt.Errorf("%s is not a .js or .json file", name)
	}
	return readModuleFile(name, real)
}

// readModuleFile reads real, a file already checked to be inside the
// script's folder, refusing one larger than maxModuleBytes; name is how the
// script named it, for the error. require and the bundler both read this way.
func readModuleFile(name, real string) ([]byte, error) {
	file, err := os.Open(real)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, maxModuleBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxModuleBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB", name, maxModuleBytes>>20)
	}
	return b, nil
}

// isFilePath reports whether a require() argument names a file rather than a
// module (the same rule goja_nodejs applies).
func isFilePath(p string) bool {
	return p == "." || p == ".." || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || filepath.IsAbs(p)
}

// coreModule names the goja_nodejs module scripts may require as name
// ("url" or "buffer"); none of them reaches the file system, the
// environment or the process.
func coreModule(name string) string {
	switch name {
	case "url":
		return url.ModuleName
	case "buffer":
		return buffer.ModuleName
	}
	return ""
}

// require is the global require(): the "url", "buffer" and "console" modules, and .js
// and .json files inside the script's folder. Everything else — other core
// modules (process, fs, …), node_modules packages, files outside the folder —
// is refused with a message that says so.
func (e *env) require(call goja.FunctionCall) goja.Value {
	arg := call.Argument(0)
	if !goja.IsString(arg) {
		panic(e.newError(fmt.Sprintf("require(name): name must be a string such as \"./lib.js\", got %s", js.TypeOf(arg))))
	}
	name := arg.String()
	switch name {
	case "console", "node:console":
		return e.console
	case "url", "node:url", "buffer", "node:buffer":
		v, err := e.modules.Require(coreModule(strings.TrimPrefix(name, "node:")))
		if err != nil {
			js.RethrowUncatchable(err)
			panic(e.newError(fmt.Sprintf("require(%q): %v", name, err)))
		}
		return v
	}
	if !isFilePath(name) {
		panic(e.newError(fmt.Sprintf("require(%q): only \"url\", \"buffer\", \"console\" and files in the script's folder (require(\"./file.js\")) can be required", name)))
	}
	if e.folder == nil {
		panic(e.newError(fmt.Sprintf("require(%q): %v", name, errNoFolder)))
	}
	// Refuse paths that leave the folder before touching the file system.
	if target := e.folder.resolve(callerDir(e.vm), name); !inside(target) {
		panic(e.newError(fmt.Sprintf("require(%q): outside the script folder %s; scripts may only require files in their own folder", name, e.folder.dir)))
	}
	v, err := e.modules.Require(name)
	if err == nil {
		return v
	}
	var outside *errOutside
	var ex *goja.Exception
	switch {
	case errors.As(err, &outside):
		msg := fmt.Sprintf("require(%q): outside the script folder %s; scripts may only require files in their own folder", name, e.folder.dir)
		if outside.target != "" {
			msg = fmt.Sprintf("require(%q): %s, outside the script folder %s; scripts may only require files in their own folder", name, outside, e.folder.dir)
		}
		panic(e.newError(msg))
	case errors.Is(err, require.InvalidModuleError):
		panic(e.newError(fmt.Sprintf("require(%q): no such file in the script folder %s (tried the name as given, with .js and .json, and as a folder with index.js)", name, e.folder.dir)))
	case errors.As(err, &ex):
		panic(err) // an exception thrown by the module's code: rethrow it as it is
	}
	var syntax *goja.CompilerSyntaxError
	if errors.As(err, &syntax) {
		panic(e.newError(fmt.Sprintf("require(%q): %s", name, moduleSyntaxError(syntax))))
	}
	js.RethrowUncatchable(err)
	panic(e.newError(fmt.Sprintf("require(%q): %v", name, err)))
}

// callerDir is the folder-relative directory of the module calling require,
// found the same way goja_nodejs finds it.
func callerDir(vm *goja.Runtime) string {
	var buf [2]goja.StackFrame
	frames := vm.CaptureCallStack(2, buf[:0])
	if len(frames) < 2 {
		return "."
	}
	return filepath.Dir(frames[1].SrcName())
}

var parserMessage = lazy.Regexp{Expr: `^(.*): Line (\d+):(\d+) (.*)$`}

// moduleWrapper is what goja_nodejs puts before a module's source on its
// first line; columns on that line are shifted by its length.
const moduleWrapper = "(function(exports,require,module,__filename,__dirname){"

// moduleSyntaxError renders a syntax error in a required file in the
// file:line:column form used everywhere else (goja says "lib.js: Line 3:5 …").
func moduleSyntaxError(e *goja.CompilerSyntaxError) string {
	file, line, col, msg := "", 0, 0, e.Message
	if e.File != nil {
		p := e.File.Position(e.Offset)
		file, line, col = p.Filename, p.Line, p.Column
	} else if m := parserMessage.Get().FindStringSubmatch(e.Message); m != nil {
		file, msg = m[1], m[4]
		fmt.Sscan(m[2], &line)
		fmt.Sscan(m[3], &col)
	} else {
		return "SyntaxError: " + msg
	}
	if line == 1 && col > len(moduleWrapper) {
		col -= len(moduleWrapper)
	}
	return fmt.Sprintf("%s:%d:%d: SyntaxError: %s", file, line, col, msg)
}
