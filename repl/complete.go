package repl

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// completionTimeout bounds a completion: the session's loop may be busy
// with background work, and Tab must not hang the prompt.
const completionTimeout = time.Second

// tokenCacheTTL is how long token names are kept for completion.
const tokenCacheTTL = 5 * time.Second

// keywords complete alongside global names.
var keywords = []string{
	"async", "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default",
	"delete", "do", "else", "extends", "false", "finally", "for", "function", "if", "in", "instanceof",
	"let", "new", "null", "return", "switch", "this", "throw", "true", "try", "typeof", "undefined",
	"var", "void", "while",
}

// tokenArgument matches the start of a token name being typed as the
// argument of apiTokenAuth('… or as fetch's init.apiTokenAuth: '….
var tokenArgument = lazy.Regexp{Expr: `apiTokenAuth\s*(?:\(|:)\s*(['"` + "`" + `])([A-Za-z0-9._\-]*)$`}

// trailingWord matches the identifier being typed.
var trailingWord = lazy.Regexp{Expr: `[A-Za-z0-9_$]*$`}

// completer completes what is being typed at the prompt.
type completer struct {
	session  func() Session
	tokens   func(context.Context) ([]TokenInfo, error)
	folder   string
	commands []string

	mu        sync.Mutex
	names     []string
	namesTime time.Time
	now       func() time.Time
}

// complete implements liner.WordCompleter: it returns the text before the
// word being completed, the candidates, and the text after the cursor.
// pos counts runes.
func (c *completer) complete(line string, pos int) (head string, completions []string, tail string) {
	i := byteIndex(line, pos)
	before, after := line[:i], line[i:]
	head, completions = c.candidates(before, after)
	return head, completions, after
}

// byteIndex converts a rune position into a byte index.
func byteIndex(s string, pos int) int {
	i := 0
	for n := 0; n < pos && i < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// candidates finds the completions for the text before the cursor.
func (c *completer) candidates(before, after string) (string, []string) {
	trimmed := strings.TrimLeft(before, " \t")
	// Dot-commands, and the file argument of .load and .save.
	if strings.HasPrefix(trimmed, ".") && !strings.ContainsAny(trimmed, " \t") && len(before) == len(trimmed) {
		var out []string
		for _, cmd := range c.commands {
			if strings.HasPrefix(cmd, trimmed) {
				out = append(out, cmd)
			}
		}
		return "", out
	}
	for _, cmd := range []string{".load ", ".save "} {
		if rest, ok := strings.CutPrefix(trimmed, cmd); ok {
			return before[:len(before)-len(rest)], c.files(rest, cmd == ".load ")
		}
	}
	// A token name: apiTokenAuth('gr|
	if m := tokenArgument.Get().FindStringSubmatch(before); m != nil {
		quote, prefix := m[1], m[2]
		var out []string
		for _, name := range c.tokenNames() {
			if strings.HasPrefix(name, prefix) {
				if !strings.HasPrefix(after, quote) {
					name += quote
				}
				out = append(out, name)
			}
		}
		return before[:len(before)-len(prefix)], out
	}
	if inString(before) {
		return before, nil
	}
	word := trailingWord.Get().FindString(before)
	if word != "" && word[0] >= '0' && word[0] <= '9' {
		return before, nil // a number, not a name
	}
	start := len(before) - len(word)
	expr := ""
	switch {
	case strings.HasSuffix(before[:start], "?."):
		expr = objectExpr(before[:start-2])
	case strings.HasSuffix(before[:start], "."):
		expr = objectExpr(before[:start-1])
		if expr == "" || expr[0] >= '0' && expr[0] <= '9' {
			return before, nil // nothing, or a number such as 1. (1.toFixed is not JavaScript)
		}
	}
	s := c.session()
	if s == nil {
		return before, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	names, err := s.Names(ctx, expr)
	if err != nil {
		return before, nil
	}
	if expr == "" {
		names = append(names, keywords...)
		sort.Strings(names)
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		if strings.HasPrefix(n, word) && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return before[:start], out
}

// tokenNames returns the stored tokens' names, cached for a few seconds.
func (c *completer) tokenNames() []string {
	if c.tokens == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.names != nil && now.Sub(c.namesTime) < tokenCacheTTL {
		return c.names
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	list, err := c.tokens(ctx)
	if err != nil {
		return c.names
	}
	names := make([]string, 0, len(list))
	for _, t := range list {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	c.names, c.namesTime = names, now
	return names
}

// files completes a file name in the REPL's folder: folders, and for .load
// only .js and .json files.
func (c *completer) files(prefix string, scripts bool) []string {
	dir, base := filepath.Split(prefix)
	entries, err := os.ReadDir(filepath.Join(c.folder, dir))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base) || strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".") {
			continue
		}
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if fi, err := os.Stat(filepath.Join(c.folder, dir, name)); err == nil {
				isDir = fi.IsDir()
			}
		}
		switch {
		case isDir:
			out = append(out, dir+name+"/")
		case !scripts || strings.HasSuffix(name, ".js") || strings.HasSuffix(name, ".json"):
			out = append(out, dir+name)
		}
	}
	sort.Strings(out)
	return out
}

// inString reports whether s ends inside a string literal or a comment, by
// a simple scan (regular expressions are not told apart from division).
func inString(s string) bool {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			return true
		}
	}
	return quote != 0
}

// objectExpr extracts the expression before a dot: names, dots, calls and
// indexing with balanced brackets, a leading literal or new. It returns ""
// when there is none.
func objectExpr(s string) string {
	i := len(s)
	for i > 0 {
		c := s[i-1]
		switch {
		case isIdentByte(c):
			i--
		case c == '.':
			if i >= 2 && s[i-2] == '?' {
				i--
			}
			i--
		case c == ')' || c == ']':
			j := matchingOpen(s, i-1)
			if j < 0 {
				return ""
			}
			i = j
		case c == '\'' || c == '"' || c == '`':
			j := strings.LastIndexByte(s[:i-1], c)
			if j < 0 {
				return ""
			}
			i = j
			return strings.TrimSpace(s[i:]) // a literal starts the chain
		default:
			return withNew(s, i)
		}
	}
	return withNew(s, i)
}

// withNew extends the expression starting at i to a preceding `new`.
func withNew(s string, i int) string {
	expr := s[i:]
	if strings.HasSuffix(strings.TrimRight(s[:i], " "), "new") {
		k := strings.LastIndex(s[:i], "new")
		if k == 0 || !isIdentByte(s[k-1]) {
			expr = s[k:]
		}
	}
	if expr == "" || expr[0] == '.' {
		return ""
	}
	return expr
}

// matchingOpen finds the bracket that opens the one at end, skipping
// string literals; -1 when there is none.
func matchingOpen(s string, end int) int {
	depth := 0
	for i := end; i >= 0; i-- {
		switch c := s[i]; c {
		case ')', ']', '}':
			depth++
		case '(', '[', '{':
			depth--
			if depth == 0 {
				return i
			}
		case '\'', '"', '`':
			j := strings.LastIndexByte(s[:i], c)
			if j < 0 {
				return -1
			}
			i = j
		}
	}
	return -1
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
