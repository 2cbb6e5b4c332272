package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// printJSON prints v as indented JSON. encoding/json escapes C0 controls;
// C1 controls, DEL and bidi overrides are escaped here too (\u009b is the
// same JSON string as the raw rune), so a terminal shows them as text.
func printJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := io.WriteString(w, escapeJSONControls(b.String()))
	return err
}

// escapeJSONControls writes the runes terminalLine would neutralise, and
// that encoding/json leaves raw, as JSON \u escapes.
func escapeJSONControls(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == 0x7f || isC1(r) || isBidi(r) }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == 0x7f || isC1(r) || isBidi(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// terminalLine makes text from records, providers and scripts safe to
// print on one line of a terminal: control characters (so escape
// sequences, which start with ESC or a C1 control), bidi overrides and
// bytes that are not UTF-8 are shown as escapes (\x1b, \n, \u202e, \xff).
// Such text can then neither clear the screen, retitle the window, hide
// or reorder what follows, nor add a line to a table.
func terminalLine(s string) string { return neutralise(s, false) }

// terminalText is terminalLine for text of several lines (script output,
// errors): newlines, tabs and the CR of a CRLF are kept.
func terminalText(s string) string { return neutralise(s, true) }

func neutralise(s string, multiline bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case multiline && (r == '\n' || r == '\t' || r == '\r' && strings.HasPrefix(s[i+1:], "\n")):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isC1(r) || isBidi(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// isC1 reports a C1 control: some terminals act on U+009B as on ESC [.
func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

// isBidi reports the invisible characters that reorder the text around
// them (the Trojan Source characters) or mark its direction.
func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}

// printFields prints "key: value" lines, skipping empty values. Values are
// shown with terminalLine.
func printFields(w io.Writer, fields [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range fields {
		if f[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", f[0], terminalLine(f[1]))
		}
	}
	return tw.Flush()
}

type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(headers...)
	return t
}

// row adds a line; cells are shown with terminalLine.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
		cells[i] = terminalLine(cells[i])
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// stamp formats a time for output (RFC 3339, UTC), or "" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// relative says how far t is from now in words: "in 42m", "3h ago".
func relative(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	word := "in "
	suffix := ""
	if d < 0 {
		d, word, suffix = -d, "", " ago"
	}
	switch {
	case d < time.Minute:
		d = d.Round(time.Second)
	case d < time.Hour:
		d = d.Round(time.Minute)
	default:
		d = d.Round(time.Hour)
	}
	s := d.String()
	s = strings.TrimSuffix(strings.TrimSuffix(s, "0s"), "0m")
	if s == "" {
		s = "0s"
	}
	return word + s + suffix
}
