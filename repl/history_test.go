package repl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecret(t *testing.T) {
	tests := []struct {
		line   string
		secret bool
	}{
		// What the REPL is for: never filtered.
		{"await fetch('https://graph.microsoft.com/v1.0/me', {apiTokenAuth: 'graph-mail'})", false},
		{"http.get(u).apiTokenAuth('crm').header('Accept', 'application/json').send()", false},
		{"const tokenName = 'graph-mail'", false},
		{"res.headers['www-authenticate']", false},
		{"r.json().value.map(m => m.subject)", false},
		{".tokens", false},
		{"let bearerCount = 3", false},
		// Credentials typed by hand.
		{"fetch(u, {headers: {Authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.sig'}})", true},
		{"http.get(u).header('Authorization', t)", true},
		{"const h = 'bearer ya29.a0AfH6SMBx'", true},
		{"const b = 'Basic dXNlcjpwYXNzd29yZA=='", true},
		{"login({user: 'ada', password: 'hunter2'})", true},
		{"const PASSWD = 'x'", true},
		{"form({grant_type: 'client_credentials', client_secret: 'abc'})", true},
		{"const clientSecret = process.env.X", true},
		{"const q = '?access_token=abc123'", true},
		{"const refreshToken = 'r1'", true},
		{"body({id_token: t})", true},
		{".header('X-API-Key', 'k-123')", true},
		{"const apikey = '123'", true},
		{"headers: {cookie: 'sid=abc'}", true},
		{"const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0'", true},
		{"const gh = 'ghp_abcdefghijklmnopqrstuvwxyz0123'", true},
		{"const aws = 'AKIAABCDEFGHIJKLMNOP'", true},
		{"-----BEGIN RSA PRIVATE KEY-----", true},
		// Well-known credential shapes, wherever they sit in a line.
		{"const gl = 'glpat-abcdefghij0123456789'", true},
		{"fetch(u, {headers: {'PRIVATE-TOKEN': t}})", true},
		{"const gh = 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz'", true},
		{"const o = 'gho_abcdefghijklmnopqrstuvwxyz0123'", true},
		{"const s = 'ghs_abcdefghijklmnopqrstuvwxyz0123'", true},
		{"stripe('sk_live_51Habcdefghijklmnop')", true},
		{"stripe('rk_live_51Habcdefghijklmnop')", true},
		{"stripe('sk_test_4eC39HqLyjWDarjtT1zdp7dc')", true},
		{"slack('xoxb-1234567890-abcdefghij')", true},
		{"slack('xoxp-1234567890-abcdefghij')", true},
		{"maps('AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q')", true},
		{"const k = 'ASIAABCDEFGHIJKLMNOP'", true},
		{"u + '?t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl'", true},
		{"const u = 'hint_eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'", true},
		// Header lines pasted from curl or a browser, any case.
		{"Authorization: Bearer abc", true},
		{"authorization: token abc", true},
		{"Private-Token: abcdefghij", true},
		{"private-token: abcdefghij", true},
		{"X-API-Key: 12345", true},
		{"x-api-key: 12345", true},
		// Look-alikes that are not credentials.
		{"const desk_live_view = 1", false},
		{"const task_test_count = 2", false},
		{"const ghp = 'ghp_x'", false},
		{"glpat-short", false},
		{"const ASIA_PACIFIC = 'region'", false},
		{"const AIza = 3", false},
		{"'xoxb-' + name", false},
		{"heyJude.eyJunk", false},
		{"res.headers['content-type']", false},
		{"const privateMode = true", false},
	}
	for _, tt := range tests {
		if got := Secret(tt.line); got != tt.secret {
			t.Errorf("Secret(%q) = %v, want %v", tt.line, got, tt.secret)
		}
	}
}

func TestHistoryFile(t *testing.T) {
	dir := t.TempDir()
	h := &history{path: filepath.Join(dir, "sub", "repl_history")}
	if lines, err := h.load(); err != nil || lines != nil {
		t.Fatalf("missing file: %q %v", lines, err)
	}
	must := func(lines ...string) {
		t.Helper()
		if err := h.add(lines); err != nil {
			t.Fatal(err)
		}
	}
	must("1 + 1")
	must("const o = {", "  password: 'x'", "}") // one secret line drops the whole input
	must(" 'private'")                          // a leading space keeps an input out
	must("function f() {", "  return 1", "}")
	must(strings.Repeat("x", maxHistoryLine+1)) // too long to read back
	must("")
	got, err := h.load()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1 + 1", "function f() {", "  return 1", "}"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("history %q, want %q", got, want)
	}
	fi, err := os.Stat(h.path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if di, _ := os.Stat(filepath.Dir(h.path)); di.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, want 0700", di.Mode().Perm())
	}

	// The file is capped: it keeps the last HistoryLimit lines.
	for i := 0; i < 2*HistoryLimit; i++ {
		must(fmt.Sprintf("line %d", i))
	}
	if err := h.trim(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(h.path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != HistoryLimit || lines[len(lines)-1] != fmt.Sprintf("line %d", 2*HistoryLimit-1) {
		t.Errorf("after trimming: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	if fi, _ := os.Stat(h.path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after trimming %v, want 0600", fi.Mode().Perm())
	}
	// Never much over the limit, even without trim at exit.
	for i := 0; i < HistoryLimit; i++ {
		must(fmt.Sprintf("more %d", i))
	}
	b, _ = os.ReadFile(h.path)
	if n := strings.Count(string(b), "\n"); n > HistoryLimit+HistoryLimit/4 {
		t.Errorf("history grew to %d lines", n)
	}
}

// A history file that others can read is made private before it is used.
func TestHistoryFileMadePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repl_history")
	if err := os.WriteFile(path, []byte("old\n\xff\xfe bad utf-8\nkept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &history{path: path}
	lines, err := h.load()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(lines, "|") != "old|kept" {
		t.Errorf("lines %q", lines)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}
