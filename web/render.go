package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/notify"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// view is what a handler renders: the page's title, its data, and the
// origins its forms may lead to (beyond the console itself).
type view struct {
	Title      string
	Data       any
	FormAction []string
}

// layoutData is what layout.html sees around a page.
type layoutData struct {
	Title    string
	Nav      []navLink
	SignedIn bool
	CSRF     string // the session's token, for the sign-out form
	Flashes  []flash
	// Problems are the failing tokens and jobs, for the banner.
	Problems []notify.Problem
	CSS, JS  string // asset URLs with a version for caching
	Data     any
}

type navLink struct {
	Label, Path string
	Current     bool
}

// render writes the named page inside the layout. The page is executed into
// a buffer first, so a template error becomes a clean 500, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, sess *session, status int, name string, v view) {
	t := s.pages[name]
	ld := layoutData{Title: v.Title, CSS: s.assetURL("style.css"), JS: s.assetURL("time.js"), Data: v.Data}
	if sess != nil {
		ld.SignedIn, ld.CSRF = true, sess.csrf
		ld.Flashes = s.sessions.takeFlashes(sess)
		ld.Problems = s.problems()
		for _, n := range s.nav {
			ld.Nav = append(ld.Nav, navLink{Label: n.Label, Path: n.Path, Current: r.URL.Path == n.Path || strings.HasPrefix(r.URL.Path, n.Path+"/")})
		}
	}
	var buf bytes.Buffer
	if t == nil {
		s.log.Error("render: no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", ld); err != nil {
		s.log.Error("render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	if len(v.FormAction) > 0 {
		h.Set("Content-Security-Policy", csp(v.FormAction))
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// loadPages parses layout.html with each page: every page defines "content".
func (s *Server) loadPages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(s.funcs()).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: list templates: %w", err)
	}
	pages := make(map[string]*template.Template)
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := base.Clone()
		if err == nil {
			_, err = t.ParseFS(templateFS, f)
		}
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", f, err)
		}
		pages[name] = t
	}
	return pages, nil
}

func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		// cmd is how a suggested command starts: scriptrun and the --home
		// in use.
		"cmd": func() string { return s.command },
		// rel says when t is from now, in the viewer's terms: "in 42 min".
		"rel": func(t time.Time) string { return relative(t, s.now()) },
		// exact is the full time, shown on hover (time.js turns it local).
		"exact": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"past":  func(t time.Time) bool { return !t.IsZero() && t.Before(s.now()) },
	}
}

// asset is an embedded static file.
type asset struct {
	body    []byte
	ctype   string
	version string // content hash, for cache busting
}

func loadAssets() (map[string]asset, error) {
	files, err := fs.Glob(staticFS, "static/*")
	if err != nil {
		return nil, fmt.Errorf("web: list static files: %w", err)
	}
	out := make(map[string]asset, len(files))
	for _, f := range files {
		b, err := staticFS.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("web: read %s: %w", f, err)
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(f))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[path.Base(f)] = asset{body: b, ctype: ctype, version: hex.EncodeToString(sum[:6])}
	}
	return out, nil
}

func (s *Server) assetURL(name string) string {
	return "/static/" + name + "?v=" + s.assets[name].version
}

func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := s.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+a.version+`"`)
	if r.Header.Get("If-None-Match") == `"`+a.version+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(a.body)
}
