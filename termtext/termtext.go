package termtext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Line returns s fit for one line of a terminal (a table cell, a
// "key: value" field): controls, newlines and tabs included, bidi
// controls and bytes that are not UTF-8 are shown as escapes.
func Line(s string) string { return neutralise(s, false) }

// Text is Line for text of several lines (script output, errors): it keeps
// newlines, tabs and the CR of a CRLF.
func Text(s string) string { return neutralise(s, true) }

// JSON escapes, in JSON produced by encoding/json, the runes Line would
// neutralise and encoding/json leaves raw (C1 controls, DEL, bidi
// controls), as \u escapes: the JSON holds the same strings and a terminal
// shows it as text. Such runes only occur inside JSON strings.
func JSON(s string) string {
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

// Unsafe reports whether a terminal would act on r rather than show it:
// C0 and C1 controls, DEL and the bidi controls.
func Unsafe(r rune) bool { return r < 0x20 || r == 0x7f || isC1(r) || isBidi(r) }

func neutralise(s string, multiline bool) string {
	if !needsWork(s, multiline) {
		return s
	}
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

// needsWork is the fast path: most text has nothing to escape.
func needsWork(s string, multiline bool) bool {
	for _, r := range s { // bytes that are not UTF-8 come as RuneError
		if r == utf8.RuneError || r < 0x20 && !(multiline && (r == '\n' || r == '\t')) || r == 0x7f || isC1(r) || isBidi(r) {
			return true
		}
	}
	return false
}

// isC1 reports a C1 control: some terminals act on U+009B as on ESC [.
func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

// isBidi reports the invisible characters that reorder the text around
// them (the Trojan Source characters) or mark its direction.
func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}
