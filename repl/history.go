package repl

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// HistoryLimit is how many lines the history file keeps.
const HistoryLimit = 1000

// maxHistoryLine is the longest line the history keeps (the line editor
// refuses longer ones when it reads the file back).
const maxHistoryLine = 4000

// secretPatterns match lines that look like they hold a credential. Such
// lines are never written to the history file. They err on the side of
// leaving a line out.
var secretPatterns = lazy.Value[[]*regexp.Regexp]{New: func() []*regexp.Regexp {
	return []*regexp.Regexp{
		regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{6,}=*`),          // Bearer eyJ… / Bearer ya29.…
		regexp.MustCompile(`(?i)\bbasic\s+[A-Za-z0-9+/]{8,}=*`),                // Basic dXNlcjpwYXNz
		regexp.MustCompile(`(?i)passw(or)?d|passwd|\bpwd\b|passphrase`),        // password: '…'
		regexp.MustCompile(`(?i)secret`),                                       // client_secret, clientSecret
		regexp.MustCompile(`(?i)\b(access|refresh|id|session|auth)[_-]?token`), // access_token=…, refreshToken
		regexp.MustCompile(`(?i)api[_-]?key|x-api-key|apikey`),                 // x-api-key header, api_key param
		regexp.MustCompile(`(?i)authorization`),                                // .header('Authorization', …)
		regexp.MustCompile(`(?i)cookie`),                                       // session cookies
		regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}`),        // a JWT
		regexp.MustCompile(`(?i)private[_-]?key|BEGIN [A-Z ]*PRIVATE KEY`),     // keys
		regexp.MustCompile(`(?i)private[_-]?token`),                            // GitLab's Private-Token header
		// Well-known token formats: GitHub, Slack, OpenAI-style, AWS access keys.
		regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16})\b`),
		// GitHub fine-grained, GitLab, Stripe, Google API keys, AWS temporary keys.
		regexp.MustCompile(`\b(github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|[sr]k_(live|test)_[A-Za-z0-9]{10,}|AIza[0-9A-Za-z_-]{35}|ASIA[0-9A-Z]{16}\b)`),
		// A JWT anywhere: header and payload are base64url JSON objects.
		regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`),
	}
}}

// Secret reports whether a line of input looks like it contains a
// credential (a bearer token, a password, a client secret, an API key…),
// so that it must not be written to the history file.
func Secret(line string) bool {
	for _, p := range secretPatterns.Get() {
		if p.MatchString(line) {
			return true
		}
	}
	return false
}

// keep reports whether an entry (the lines of one input) may be written to
// the history file: not when any line looks secret, nor when the input
// starts with a space (as shells do with HISTCONTROL=ignorespace).
func keep(lines []string) bool {
	if len(lines) == 0 || strings.HasPrefix(lines[0], " ") {
		return false
	}
	for _, l := range lines {
		if Secret(l) {
			return false
		}
	}
	return true
}

// history is the history file: one line of input per line, at most
// HistoryLimit of them, mode 0600, never a line that looks secret.
type history struct {
	path  string
	lines int // in the file, as far as this process knows
}

// load reads the last HistoryLimit lines. A missing file is no history. A
// file others can read is made private first.
func (h *history) load() ([]string, error) {
	f, err := os.Open(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", h.path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(h.path, 0o600); err != nil {
			return nil, fmt.Errorf("history %s is readable by others and cannot be made private: %w", h.path, err)
		}
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if len(l) > maxHistoryLine || !utf8.ValidString(l) || l == "" {
			continue
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("history %s: %w", h.path, err)
	}
	h.lines = len(lines)
	if len(lines) > HistoryLimit {
		lines = lines[len(lines)-HistoryLimit:]
	}
	return lines, nil
}

// add appends the lines of one input, unless they look secret, and keeps
// the file from growing far past the limit.
func (h *history) add(lines []string) error {
	if !keep(lines) {
		return nil
	}
	var b strings.Builder
	n := 0
	for _, l := range lines {
		if l == "" || len(l) > maxHistoryLine || !utf8.ValidString(l) {
			continue
		}
		b.WriteString(l)
		b.WriteByte('\n')
		n++
	}
	if n == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("history %s: %w", h.path, err)
	}
	h.lines += n
	if h.lines > HistoryLimit+HistoryLimit/4 {
		return h.trim()
	}
	return nil
}

// trim rewrites the file with its last HistoryLimit lines, atomically.
func (h *history) trim() error {
	lines, err := h.load()
	if err != nil || h.lines <= HistoryLimit {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(h.path), ".repl_history-*")
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("history: %w", err)
	}
	if _, err := tmp.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("history: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if err := os.Rename(tmp.Name(), h.path); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	h.lines = len(lines)
	return nil
}
