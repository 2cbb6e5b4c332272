package repl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

func TestObjectExpr(t *testing.T) {
	tests := []struct{ before, want string }{
		{"res", "res"},
		{"const x = res", "res"},
		{"res.headers", "res.headers"},
		{"a?.b", "a?.b"},
		{"http.get('https://x.example/a(b)').apiTokenAuth('t')", "http.get('https://x.example/a(b)').apiTokenAuth('t')"},
		{"foo(http.get(u)", "http.get(u)"},
		{"x = [1, 2]", "[1, 2]"},
		{"'abc'", "'abc'"},
		{"new URL(u)", "new URL(u)"},
		{"renew(u)", "renew(u)"},
		{"obj['a b']", "obj['a b']"},
		{"a + ", ""},
		{"f(x))", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := objectExpr(tt.before); got != tt.want {
			t.Errorf("objectExpr(%q) = %q, want %q", tt.before, got, tt.want)
		}
	}
}

func TestComplete(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "lib.js"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "scripts"), 0o755)
	os.WriteFile(filepath.Join(dir, "scripts", "sync.js"), nil, 0o644)

	s, err := runtime.NewSession(runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Eval(context.Background(), "const res = {status: 200, statusText: 'OK', body: ''}; let counter = 1"); err != nil {
		t.Fatal(err)
	}
	var listed atomic.Int32
	now := time.Unix(0, 0)
	c := &completer{
		session: func() Session { return s },
		tokens: func(context.Context) ([]TokenInfo, error) {
			listed.Add(1)
			return []TokenInfo{{Name: "graph-mail"}, {Name: "graph-cal"}, {Name: "crm"}}, nil
		},
		folder:   dir,
		commands: []string{".break", ".clear", ".exit", ".help", ".load", ".save", ".tokens"},
		now:      func() time.Time { return now },
	}
	tests := []struct {
		line       string
		pos        int // -1: end of line
		head, tail string
		want       []string // exactly, or with has
		has        []string
	}{
		{line: "res.sta", pos: -1, head: "res.", want: []string{"status", "statusText"}},
		{line: "res.b", pos: -1, head: "res.", want: []string{"body"}},
		{line: "res.status + res.sta) * 2", pos: 20, head: "res.status + res.", tail: ") * 2", want: []string{"status", "statusText"}},
		{line: "coun", pos: -1, head: "", want: []string{"counter"}},
		{line: "x = cons", pos: -1, head: "x = ", want: []string{"console", "const"}},
		{line: "http.g", pos: -1, head: "http.", want: []string{"get"}},
		{line: "http.get(u).apiT", pos: -1, head: "http.get(u).", want: []string{"apiTokenAuth"}},
		{line: "http.post(u).json({a: 1}).se", pos: -1, head: "http.post(u).json({a: 1}).", want: []string{"send", "sendAsync"}},
		{line: "http.get(u).send().st", pos: -1, head: "http.get(u).send().", want: []string{"status", "statusText"}},
		{line: "http.get(u).apiTokenAuth('gr", pos: -1, head: "http.get(u).apiTokenAuth('", want: []string{"graph-cal'", "graph-mail'"}},
		{line: "http.get(u).apiTokenAuth(\"", pos: -1, head: "http.get(u).apiTokenAuth(\"", want: []string{"crm\"", "graph-cal\"", "graph-mail\""}},
		{line: "http.get(u).apiTokenAuth('cr').send()", pos: 28, head: "http.get(u).apiTokenAuth('", tail: "').send()", want: []string{"crm"}},
		{line: "await fetch(u, {apiTokenAuth: 'graph-m", pos: -1, head: "await fetch(u, {apiTokenAuth: '", want: []string{"graph-mail'"}},
		{line: "'res.sta", pos: -1, head: "'res.sta", want: nil}, // inside a string
		{line: "x // res.sta", pos: -1, head: "x // res.sta", want: nil},
		{line: "1.", pos: -1, head: "1.", want: nil},
		{line: "nosuch.x", pos: -1, head: "nosuch.", want: nil},
		{line: ".lo", pos: -1, head: "", want: []string{".load"}},
		{line: ".", pos: -1, head: "", has: []string{".break", ".tokens", ".exit"}},
		{line: ".load ", pos: -1, head: ".load ", want: []string{"lib.js", "scripts/"}},
		{line: ".load scripts/", pos: -1, head: ".load ", want: []string{"scripts/sync.js"}},
		{line: ".save n", pos: -1, head: ".save ", want: []string{"notes.txt"}},
		{line: "", pos: -1, head: "", has: []string{"http", "fetch", "await", "res", "JSON"}},
		{line: "é.x", pos: -1, head: "é.", want: nil},
	}
	for _, tt := range tests {
		pos := tt.pos
		if pos < 0 {
			pos = len([]rune(tt.line))
		}
		head, got, tail := c.complete(tt.line, pos)
		if head != tt.head || tail != tt.tail {
			t.Errorf("complete(%q, %d): head %q tail %q, want %q %q", tt.line, pos, head, tail, tt.head, tt.tail)
		}
		if tt.has != nil {
			for _, w := range tt.has {
				if !slices.Contains(got, w) {
					t.Errorf("complete(%q) lacks %q: %v", tt.line, w, got)
				}
			}
			continue
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("complete(%q, %d) = %q, want %q", tt.line, pos, got, tt.want)
		}
	}
	// Token names are read once for several completions, then again after a while.
	if n := listed.Load(); n != 1 {
		t.Errorf("tokens listed %d times, want 1 (cached)", n)
	}
	now = now.Add(tokenCacheTTL + time.Second)
	c.complete("http.get(u).apiTokenAuth('", 26)
	if n := listed.Load(); n != 2 {
		t.Errorf("tokens listed %d times after the cache expired, want 2", n)
	}
	// A failing token store completes nothing and does not break the prompt.
	c.tokens = func(context.Context) ([]TokenInfo, error) { return nil, errors.New("locked") }
	c.names = nil
	if _, got, _ := c.complete("fetch(u, {apiTokenAuth: '", 25); got != nil {
		t.Errorf("with a failing store: %v", got)
	}
}

// Completion does not hang the prompt when the session's loop is busy.
func TestCompleteBusySession(t *testing.T) {
	busy := make(chan struct{})
	var once sync.Once
	s, err := runtime.NewSession(runtime.Options{Stdout: writerFunc(func(p []byte) (int, error) {
		once.Do(func() { close(busy) })
		return len(p), nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Eval(context.Background(), "setTimeout(() => { console.log('busy'); const end = Date.now() + 3000; while (Date.now() < end) {} }, 0)"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-busy:
	case <-time.After(10 * time.Second):
		t.Fatal("the busy timer never started")
	}
	c := &completer{session: func() Session { return s }, now: time.Now}
	start := time.Now()
	c.complete("cons", 4)
	if d := time.Since(start); d > 2*completionTimeout {
		t.Errorf("completion took %v with a busy loop", d)
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// FuzzComplete feeds arbitrary lines and cursor positions to the
// completer (without a session): it must not panic, and the head and tail
// it returns must be the line's own text around the cursor.
func FuzzComplete(f *testing.F) {
	for _, s := range []string{"res.sta", "http.get(u).apiTokenAuth('gr", ".load ", "a?.b", "f(x)).y", "'\\'", "é.x", "new X(", "obj['k'].", "x // y."} {
		f.Add(s, len(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, line string, pos int) {
		c := &completer{
			session:  func() Session { return nil },
			tokens:   func(context.Context) ([]TokenInfo, error) { return []TokenInfo{{Name: "t1"}}, nil },
			folder:   dir,
			commands: []string{".load", ".save"},
			now:      time.Now,
		}
		if pos < 0 {
			pos = -pos
		}
		pos %= len([]rune(line)) + 1
		head, _, tail := c.complete(line, pos)
		i := byteIndex(line, pos)
		if tail != line[i:] || !strings.HasPrefix(line[:i], head) {
			t.Fatalf("complete(%q, %d): head %q, tail %q", line, pos, head, tail)
		}
		// Neither may panic, whatever the line.
		_ = objectExpr(line)
		_ = inString(line)
	})
}
