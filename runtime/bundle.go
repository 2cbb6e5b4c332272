package runtime

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// bundleHeader starts every bundle's source; CompileSource recognises a
// bundle (a cron job's captured script) by it.
const bundleHeader = "// scriptrun bundle of "

// bundleVersion names the transform: esbuild's version and our options.
// It is part of every cache entry, so changing either rebuilds bundles.
const bundleVersion = "esbuild 0.28.2; esm es2017 tla; wrap v2"

// namespaces of the bundler plugin: files of the script's folder, and the
// modules the runtime provides (require("buffer") and friends).
const (
	fileNamespace = "scriptrun"
	coreNamespace = "scriptrun-core"
)

// bundleExts are the files a bundle may contain.
var bundleExts = []string{".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", ".json"}

// moduleSyntax finds import and export statements in plain .js files.
var moduleSyntax = lazy.Regexp{Expr: `(?m)^[ \t]*(import[ \t]*[\w{*'"]|export[ \t]+(default|const|let|var|function|async|class|\{|\*))`}

// bundleBuilds counts esbuild runs, so tests can tell a cache hit.
var bundleBuilds atomic.Int64

// NeedsBundle reports whether the script at path with source src must be
// bundled (Bundle) to run: TypeScript, .mjs, and .js files with import or
// export statements. Other .js files run as they are, with CommonJS require.
func NeedsBundle(path, src string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".ts", ".mts", ".cts", ".mjs":
		return true
	}
	return moduleSyntax.Get().MatchString(src)
}

// BundleFile is one file a bundle was built from.
type BundleFile struct {
	Name   string `json:"name"`   // relative to the script's folder, with slashes
	SHA256 string `json:"sha256"` // hex SHA-256 of its content
}

// Bundle is a script and every file it imports, as one script goja runs:
// types stripped (not checked), modules joined, top-level await allowed,
// with an inline source map so positions name the original files.
type Bundle struct {
	// Name is the entry's base name (main.ts).
	Name string
	// Source is the bundled script, starting with a header that lists the
	// files; CompileSource runs it as a bundle.
	Source string
	// Files are the files bundled, the entry first.
	Files []BundleFile
}

// cacheEntry is a bundle in the cache, valid while its files hash the same.
type cacheEntry struct {
	Version string       `json:"version"`
	Name    string       `json:"name"`
	Files   []BundleFile `json:"files"`
	Source  string       `json:"source"`
}

// BundleScript bundles the script at path and the files it imports, all of
// which must be inside the script's folder (after symbolic links), with
// the same rules as require(): no absolute paths, no node_modules, no
// parent folders. When cacheDir is not empty, bundles are cached there by
// the script's path and validated by the content of every file, so an
// unchanged script is not bundled again. A syntax error or a refused
// import is returned as a *CompileError.
func BundleScript(path, cacheDir string) (*Bundle, error) {
	f, real, err := scriptFolder(path)
	if err != nil {
		return nil, err
	}
	return f.bundle(filepath.Base(real), cacheDir)
}

// scriptFolder resolves path and returns its folder and real path.
func scriptFolder(path string) (*folder, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", fmt.Errorf("runtime: script %s: %w", path, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, "", fmt.Errorf("runtime: script %s: %w", path, unwrapPathError(err))
	}
	// alt is the folder as the caller spelled it, when that is the same
	// folder (it differs when a parent is a link, e.g. /tmp on macOS); when
	// the script itself is a link, its real folder is the script's folder.
	f := &folder{dir: filepath.Dir(real), alt: filepath.Dir(real)}
	if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil && d == f.dir {
		f.alt = filepath.Dir(abs)
	}
	return f, real, nil
}

func (f *folder) bundle(entry, cacheDir string) (*Bundle, error) {
	var cacheFile string
	if cacheDir != "" {
		sum := sha256.Sum256([]byte(bundleVersion + "\x00" + filepath.Join(f.dir, entry)))
		cacheFile = filepath.Join(cacheDir, hex.EncodeToString(sum[:])+".json")
		if b := f.cached(cacheFile); b != nil {
			touchCache(cacheFile, time.Now())
			return b, nil
		}
	}
	b, err := f.build(entry)
	if err != nil {
		return nil, err
	}
	if cacheFile != "" {
		// A cache that cannot be written only costs time on the next run.
		if writeCache(cacheFile, cacheEntry{Version: bundleVersion, Name: b.Name, Files: b.Files, Source: b.Source}) == nil {
			trimCache(cacheDir, time.Now())
		}
	}
	return b, nil
}

// The bundle cache keeps one entry per script path. Entries of scripts
// that moved, were deleted or are no longer run are removed when a new
// entry is written: those not used for cacheMaxAge, and the least
// recently used beyond cacheMaxEntries. A hit marks its entry used (its
// modification time, updated at most once a day).
const (
	cacheMaxAge     = 30 * 24 * time.Hour
	cacheMaxEntries = 500
	cacheTouchEvery = 24 * time.Hour
)

// touchCache marks a cache entry used.
func touchCache(file string, now time.Time) {
	if fi, err := os.Stat(file); err == nil && now.Sub(fi.ModTime()) > cacheTouchEvery {
		_ = os.Chtimes(file, now, now)
	}
}

// trimCache removes stale cache entries (see cacheMaxAge). Errors only
// leave entries behind: the cache is an optimisation.
func trimCache(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type entry struct {
		name string
		used time.Time
	}
	var kept []entry
	for _, e := range entries {
		if !e.Type().IsRegular() || filepath.Ext(e.Name()) != ".json" {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if now.Sub(fi.ModTime()) > cacheMaxAge {
			_ = os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		kept = append(kept, entry{e.Name(), fi.ModTime()})
	}
	if len(kept) <= cacheMaxEntries {
		return
	}
	slices.SortFunc(kept, func(a, b entry) int { return a.used.Compare(b.used) })
	for _, e := range kept[:len(kept)-cacheMaxEntries] {
		_ = os.Remove(filepath.Join(dir, e.name))
	}
}

// cached returns the bundle in cacheFile if every file it was built from
// still has the same content.
func (f *folder) cached(cacheFile string) *Bundle {
	data, err := os.ReadFile(cacheFile)
	if err != nil {
		return nil
	}
	var c cacheEntry
	if json.Unmarshal(data, &c) != nil || c.Version != bundleVersion || len(c.Files) == 0 {
		return nil
	}
	for _, file := range c.Files {
		b, err := f.read(filepath.FromSlash(file.Name))
		if err != nil || digest(b) != file.SHA256 {
			return nil
		}
	}
	return &Bundle{Name: c.Name, Source: c.Source, Files: c.Files}
}

// writeCache writes the entry atomically, readable by its owner only.
func writeCache(file string, c cacheEntry) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".bundle-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// read reads a file of the folder by its folder-relative name, refusing
// names and links that lead outside, and files that are not scripts.
func (f *folder) read(name string) ([]byte, error) {
	if filepath.IsAbs(name) || !inside(filepath.Clean(name)) {
		return nil, &errOutside{name: name}
	}
	real, err := filepath.EvalSymlinks(filepath.Join(f.dir, name))
	if err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(f.dir, real); err != nil || !inside(rel) {
		return nil, &errOutside{name: name, target: real}
	}
	if !slices.Contains(bundleExts, strings.ToLower(filepath.Ext(real))) {
		return nil, fmt.Errorf("%s is not a .ts, .mts, .js, .mjs or .json file", name)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return readModuleFile(name, real)
}

// build runs esbuild on the entry. esbuild reads no file itself: the
// plugin resolves every import inside the folder and loads it (f.read).
func (f *folder) build(entry string) (*Bundle, error) {
	bundleBuilds.Add(1)
	var mu sync.Mutex // esbuild calls the plugin from several goroutines
	hashes := map[string]string{}
	plugin := api.Plugin{Name: "scriptrun", Setup: func(pb api.PluginBuild) {
		pb.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(args api.OnResolveArgs) (api.OnResolveResult, error) {
			return f.resolveImport(args)
		})
		pb.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: coreNamespace}, func(args api.OnLoadArgs) (api.OnLoadResult, error) {
			src := fmt.Sprintf("module.exports = globalThis.require(%q);", args.Path)
			return api.OnLoadResult{Contents: &src, Loader: api.LoaderJS}, nil
		})
		pb.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: fileNamespace}, func(args api.OnLoadArgs) (api.OnLoadResult, error) {
			name := filepath.FromSlash(args.Path)
			b, err := f.read(name)
			if err != nil {
				return api.OnLoadResult{}, err
			}
			mu.Lock()
			hashes[args.Path] = digest(b)
			mu.Unlock()
			src := string(b)
			return api.OnLoadResult{Contents: &src, Loader: loaderFor(name), ResolveDir: filepath.Join(f.dir, filepath.Dir(name))}, nil
		})
	}}
	entrySrc := fmt.Sprintf("import %q;", "./"+filepath.ToSlash(entry))
	res := api.Build(api.BuildOptions{
		Stdin:          &api.StdinOptions{Contents: entrySrc, ResolveDir: f.dir, Sourcefile: "<entry>", Loader: api.LoaderJS},
		Bundle:         true,
		Write:          false,
		Outfile:        "bundle.js",
		Format:         api.FormatESModule,
		Platform:       api.PlatformNeutral,
		Target:         api.ES2017,
		Supported:      map[string]bool{"top-level-await": true},
		Sourcemap:      api.SourceMapExternal,
		SourcesContent: api.SourcesContentExclude,
		LegalComments:  api.LegalCommentsNone,
		Charset:        api.CharsetUTF8,
		LogLevel:       api.LogLevelSilent,
		AbsWorkingDir:  f.dir,
		Plugins:        []api.Plugin{plugin},
	})
	if len(res.Errors) > 0 {
		return nil, bundleError(entry, res.Errors)
	}
	var code, smap []byte
	for _, o := range res.OutputFiles {
		if strings.HasSuffix(o.Path, ".map") {
			smap = o.Contents
		} else {
			code = o.Contents
		}
	}
	files := make([]BundleFile, 0, len(hashes))
	for name, sum := range hashes {
		files = append(files, BundleFile{Name: name, SHA256: sum})
	}
	first := filepath.ToSlash(entry)
	sort.Slice(files, func(i, j int) bool {
		if (files[i].Name == first) != (files[j].Name == first) {
			return files[i].Name == first
		}
		return files[i].Name < files[j].Name
	})
	src, err := wrapBundle(entry, files, code, smap)
	if err != nil {
		return nil, err
	}
	return &Bundle{Name: entry, Source: src, Files: files}, nil
}

// resolveImport confines an import to the folder: relative paths only,
// no node_modules, no links that lead outside; the runtime's own modules
// ("buffer", "url", "console") come from require().
func (f *folder) resolveImport(args api.OnResolveArgs) (api.OnResolveResult, error) {
	p := args.Path
	switch strings.TrimPrefix(p, "node:") {
	case "url", "buffer", "console":
		return api.OnResolveResult{Path: strings.TrimPrefix(p, "node:"), Namespace: coreNamespace}, nil
	}
	refuse := func(format string, a ...any) (api.OnResolveResult, error) {
		return api.OnResolveResult{}, fmt.Errorf(format, a...)
	}
	switch {
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/"):
		return refuse("import %q: absolute paths cannot be imported; scripts may only import files in their own folder, by a relative path such as \"./lib.ts\"", p)
	case !isFilePath(p):
		return refuse("import %q: only \"url\", \"buffer\", \"console\" and files in the script's folder (\"./lib.ts\") can be imported; there are no node_modules packages", p)
	}
	rel, err := filepath.Rel(f.dir, filepath.Join(args.ResolveDir, filepath.FromSlash(p)))
	if err != nil || !inside(rel) {
		return refuse("import %q: outside the script folder %s; scripts may only import files in their own folder", p, f.dir)
	}
	var tries []string
	tries = append(tries, rel)
	if ext := filepath.Ext(rel); ext == ".js" || ext == ".mjs" {
		// TypeScript's convention: "./lib.js" names lib.ts.
		tries = append(tries, strings.TrimSuffix(rel, ext)+strings.Replace(ext, "js", "ts", 1))
	}
	for _, ext := range []string{".ts", ".mts", ".js", ".mjs", ".json"} {
		tries = append(tries, rel+ext)
	}
	for _, ext := range []string{".ts", ".js"} {
		tries = append(tries, filepath.Join(rel, "index"+ext))
	}
	for _, name := range tries {
		real, err := filepath.EvalSymlinks(filepath.Join(f.dir, name))
		if err != nil {
			continue
		}
		if r, err := filepath.Rel(f.dir, real); err != nil || !inside(r) {
			return refuse("import %q: %s is a link to %s, outside the script folder %s; scripts may only import files in their own folder", p, name, real, f.dir)
		}
		if fi, err := os.Stat(real); err != nil || fi.IsDir() {
			continue
		}
		if !slices.Contains(bundleExts, strings.ToLower(filepath.Ext(real))) {
			return refuse("import %q: %s is not a .ts, .mts, .js, .mjs or .json file", p, name)
		}
		return api.OnResolveResult{Path: filepath.ToSlash(name), Namespace: fileNamespace}, nil
	}
	return refuse("import %q: no such file in the script folder %s (tried the name as given, with .ts, .mts, .js, .mjs and .json, and as a folder with index.ts or index.js)", p, f.dir)
}

func loaderFor(name string) api.Loader {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".ts", ".mts", ".cts":
		return api.LoaderTS
	case ".json":
		return api.LoaderJSON
	}
	return api.LoaderJS
}

// bundleError turns esbuild's first error into a *CompileError naming the
// original file, line and column.
func bundleError(entry string, msgs []api.Message) error {
	m := msgs[0]
	ce := &CompileError{File: entry, Message: m.Text, More: len(msgs) - 1}
	if l := m.Location; l != nil {
		ce.File = strings.TrimPrefix(l.File, fileNamespace+":")
		if ce.File == "<entry>" || ce.File == "" {
			ce.File = entry
		}
		ce.Line, ce.Column, ce.Source = l.Line, l.Column+1, l.LineText
	} else {
		ce.Line, ce.Column = 1, 1
	}
	if m.PluginName != "" {
		ce.Kind = "ImportError" // a refused import is not a syntax error
	}
	return ce
}

// wrapBundle puts esbuild's output in an async function, so top-level
// await works, under a header that lists the files; the source map, inline,
// is shifted by the lines added before the code and names files relative
// to the folder.
func wrapBundle(entry string, files []BundleFile, code, smap []byte) (string, error) {
	var b strings.Builder
	b.WriteString(bundleHeader + filepath.ToSlash(entry) + " (types not checked); files:\n")
	for _, file := range files {
		fmt.Fprintf(&b, "//   %s sha256 %s\n", file.Name, file.SHA256)
	}
	b.WriteString("(async function () {\n")
	added := strings.Count(b.String(), "\n")
	var m map[string]any
	if err := json.Unmarshal(smap, &m); err != nil {
		return "", fmt.Errorf("runtime: bundle %s: source map: %w", entry, err)
	}
	if srcs, ok := m["sources"].([]any); ok {
		for i, s := range srcs {
			if str, ok := s.(string); ok {
				srcs[i] = strings.TrimPrefix(str, fileNamespace+":")
			}
		}
	}
	m["mappings"] = strings.Repeat(";", added) + shiftColumns(fmt.Sprint(m["mappings"]))
	mapJSON, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("runtime: bundle %s: source map: %w", entry, err)
	}
	// esbuild ends the code with a comment naming bundle.js.map: drop it.
	text := string(code)
	if i := strings.LastIndex(text, "//# sourceMappingURL="); i >= 0 {
		text = text[:i]
	}
	b.WriteString(strings.TrimRight(text, "\n"))
	b.WriteString("\n})\n//# sourceMappingURL=data:application/json;base64,")
	b.WriteString(base64.StdEncoding.EncodeToString(mapJSON))
	b.WriteString("\n")
	return b.String(), nil
}

// shiftColumns adds one to every original column of source map mappings.
// goja reports the column a map gives, which is 0-based, where its own
// positions are 1-based; original columns are coded relative to the
// previous segment across the whole map, so shifting the first segment
// shifts them all.
func shiftColumns(mappings string) string {
	start := strings.IndexFunc(mappings, func(r rune) bool { return r != ';' })
	if start < 0 {
		return mappings
	}
	end := strings.IndexAny(mappings[start:], ",;")
	if end < 0 {
		end = len(mappings) - start
	}
	fields, ok := decodeVLQ(mappings[start : start+end])
	if !ok || len(fields) < 4 {
		return mappings
	}
	fields[3]++
	var b strings.Builder
	for _, v := range fields {
		b.WriteString(encodeVLQ(v))
	}
	return mappings[:start] + b.String() + mappings[start+end:]
}

const vlqDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// decodeVLQ decodes one source map segment (base64 VLQ numbers).
func decodeVLQ(seg string) ([]int, bool) {
	var out []int
	shift, value := 0, 0
	for i := 0; i < len(seg); i++ {
		d := strings.IndexByte(vlqDigits, seg[i])
		if d < 0 {
			return nil, false
		}
		value += (d & 31) << shift
		if d&32 != 0 {
			shift += 5
			continue
		}
		if value&1 != 0 {
			out = append(out, -(value >> 1))
		} else {
			out = append(out, value>>1)
		}
		shift, value = 0, 0
	}
	return out, shift == 0
}

// encodeVLQ encodes one number of a source map segment.
func encodeVLQ(v int) string {
	u := v << 1
	if v < 0 {
		u = (-v << 1) | 1
	}
	var b strings.Builder
	for {
		d := u & 31
		u >>= 5
		if u > 0 {
			d |= 32
		}
		b.WriteByte(vlqDigits[d])
		if u == 0 {
			return b.String()
		}
	}
}

// isBundle reports whether src is a bundle's source (Bundle.Source).
func isBundle(src string) bool { return strings.HasPrefix(src, bundleHeader) }

// errNoSourceMapFiles refuses source maps named by a path or URL: only the
// inline map of a bundle is read, so a script cannot make the runtime read
// files by naming them.
var errNoSourceMapFiles = errors.New("only inline source maps are read")

func noSourceMapFiles(string) ([]byte, error) { return nil, errNoSourceMapFiles }
