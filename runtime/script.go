package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja_nodejs/require"
)

// Script is a compiled script. It is immutable and may be run any number of
// times, also concurrently (cron reuses scripts); every run gets a fresh
// JavaScript runtime.
type Script struct {
	name     string
	prg      *goja.Program
	folder   *folder // nil when compiled from source: such scripts cannot require files
	registry *require.Registry
	// async is set for bundles: the program evaluates to an async function
	// holding the script, which Run calls (top-level await).
	async bool
}

// Name is the name the script reports in stack traces: the file's base name
// for Compile, the given name for CompileSource.
func (s *Script) Name() string { return s.name }

// Compile reads and compiles the script at path, as CompileFile does
// without a cache.
func Compile(path string) (*Script, error) {
	return CompileFile(path, CompileOptions{})
}

// CompileOptions configures CompileFile.
type CompileOptions struct {
	// CacheDir, when set, caches bundles (BundleScript) there, so an
	// unchanged TypeScript or module script is not transformed again.
	CacheDir string
}

// CompileFile reads and compiles the script at path. Files it requires are
// resolved in the script's folder (after resolving symbolic links) and
// compiled once, on first use. Stack traces name files relative to that
// folder, so the script itself appears as its base name (hello.js:3:7).
//
// TypeScript (.ts, .mts), .mjs files and .js files with import or export
// statements or top-level await are bundled first (BundleScript): types are
// stripped, not checked. A syntax error is returned as a *CompileError.
func CompileFile(path string, o CompileOptions) (*Script, error) {
	f, real, err := scriptFolder(path)
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(real)
	if err != nil {
		return nil, fmt.Errorf("runtime: read script %s: %w", path, unwrapPathError(err))
	}
	name := filepath.Base(real)
	var s *Script
	if NeedsBundle(real, string(src)) {
		s, err = f.compileBundle(name, o.CacheDir)
	} else {
		s, err = compileScript(name, string(src))
		var ce *CompileError
		if errors.As(err, &ce) && strings.Contains(string(src), "await") {
			// Top-level await in a plain .js file: a bundle runs it.
			if b, berr := f.compileBundle(name, o.CacheDir); berr == nil {
				s, err = b, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	s.folder = f
	s.registry = require.NewRegistry(require.WithLoader(f.load), require.WithPathResolver(f.resolve))
	return s, nil
}

func (f *folder) compileBundle(name, cacheDir string) (*Script, error) {
	b, err := f.bundle(name, cacheDir)
	if err != nil {
		return nil, err
	}
	return compileBundleSource(name, b.Source)
}

// compileBundleSource compiles a bundle, reading its inline source map.
func compileBundleSource(name, src string) (*Script, error) {
	ast, err := parser.ParseFile(nil, name, src, 0, parser.WithSourceMapLoader(noSourceMapFiles))
	if err != nil {
		return nil, newCompileError(name, src, err)
	}
	prg, err := goja.CompileAST(ast, false)
	if err != nil {
		return nil, newCompileError(name, src, err)
	}
	return &Script{name: name, prg: prg, async: true}, nil
}

// CompileSource compiles src as a script called name (used in stack traces).
// Such a script has no folder, so it can only require "url", "buffer" and "console".
// A syntax error is returned as a *CompileError.
//
// A bundle's source (Bundle.Source, as a cron job captures it) runs as a
// bundle: top-level await, positions in the original files.
func CompileSource(name, src string) (*Script, error) {
	compile := compileScript
	if isBundle(src) {
		compile = compileBundleSource
	}
	s, err := compile(name, src)
	if err != nil {
		return nil, err
	}
	s.registry = require.NewRegistry(require.WithLoader(noFiles))
	return s, nil
}

func compileScript(name, src string) (*Script, error) {
	prg, err := compileProgram(name, src)
	if err != nil {
		return nil, err
	}
	return &Script{name: name, prg: prg}, nil
}

// compileProgram compiles non-strict script code. Source maps are not
// loaded: they would let a script read files by name.
func compileProgram(name, src string) (*goja.Program, error) {
	ast, err := parser.ParseFile(nil, name, src, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, newCompileError(name, src, err)
	}
	prg, err := goja.CompileAST(ast, false)
	if err != nil {
		return nil, newCompileError(name, src, err)
	}
	return prg, nil
}

// CompileError is a syntax error in a script. Its message reads
// "hello.js:3:7: SyntaxError: Unexpected token )", followed by the offending
// line and a caret under the column.
type CompileError struct {
	File    string
	Line    int // 1-based
	Column  int // 1-based
	Message string
	// More is the number of further errors the parser reported; they are
	// usually consequences of the first and are not part of the message.
	More int
	// Source is the offending line of source, if known.
	Source string
	// Kind is what went wrong; empty means SyntaxError. A refused import
	// of a bundled script is an ImportError.
	Kind string
}

// Error returns "file:line:column: SyntaxError: message", the offending
// line and a caret under the column.
func (e *CompileError) Error() string {
	var b strings.Builder
	kind := e.Kind
	if kind == "" {
		kind = "SyntaxError"
	}
	fmt.Fprintf(&b, "%s:%d:%d: %s: %s", e.File, e.Line, e.Column, kind, e.Message)
	if e.Source != "" && len(e.Source) <= 200 {
		b.WriteString("\n    ")
		b.WriteString(strings.ReplaceAll(e.Source, "\t", " "))
		b.WriteString("\n    ")
		if e.Column > 1 && e.Column-1 <= len(e.Source) {
			b.WriteString(strings.Repeat(" ", len([]rune(e.Source[:e.Column-1]))))
		}
		b.WriteString("^")
	}
	return b.String()
}

func newCompileError(name, src string, err error) error {
	ce := &CompileError{File: name, Message: err.Error()}
	var list parser.ErrorList
	var single *parser.Error
	var syntax *goja.CompilerSyntaxError
	var pos file.Position
	switch {
	case errors.As(err, &list) && len(list) > 0:
		pos, ce.Message, ce.More = list[0].Position, list[0].Message, len(list)-1
	case errors.As(err, &single):
		pos, ce.Message = single.Position, single.Message
	case errors.As(err, &syntax) && syntax.File != nil:
		pos, ce.Message = syntax.File.Position(syntax.Offset), syntax.Message
	default:
		return fmt.Errorf("runtime: compile %s: %w", name, err)
	}
	ce.Line, ce.Column = pos.Line, pos.Column
	if lines := strings.Split(src, "\n"); ce.Line >= 1 && ce.Line <= len(lines) {
		ce.Source = strings.TrimRight(lines[ce.Line-1], "\r")
	}
	return ce
}

// unwrapPathError drops the *fs.PathError wrapper, whose path we already print.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
