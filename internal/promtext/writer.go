package promtext

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Type is the type of a metric family, as written on its "# TYPE" line.
type Type string

// The metric types of the text format.
const (
	TypeCounter   Type = "counter"
	TypeGauge     Type = "gauge"
	TypeHistogram Type = "histogram"
	TypeSummary   Type = "summary"
)

// A Writer appends metric families in the text exposition format to a
// buffer. A family is its Family line pair followed by its samples; the
// zero Writer is ready to use.
type Writer struct {
	buf []byte
}

// Family writes the "# HELP" and "# TYPE" lines that start a family.
func (w *Writer) Family(name, help string, typ Type) {
	w.buf = append(w.buf, "# HELP "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = appendEscaped(w.buf, help, false)
	w.buf = append(w.buf, "\n# TYPE "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, typ...)
	w.buf = append(w.buf, '\n')
}

// Sample writes one sample line: name{names[0]="values[0]",...} value.
// names and values have the same length; an extra label (a histogram's
// "le", a summary's "quantile") goes last when extraName is not empty.
func (w *Writer) Sample(name string, names, values []string, extraName, extraValue string, value float64) {
	w.buf = append(w.buf, name...)
	if len(names) > 0 || extraName != "" {
		w.buf = append(w.buf, '{')
		for i, n := range names {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = appendLabel(w.buf, n, values[i])
		}
		if extraName != "" {
			if len(names) > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = appendLabel(w.buf, extraName, extraValue)
		}
		w.buf = append(w.buf, '}')
	}
	w.buf = append(w.buf, ' ')
	w.buf = appendFloat(w.buf, value)
	w.buf = append(w.buf, '\n')
}

// Value writes a sample without labels: name value.
func (w *Writer) Value(name string, value float64) {
	w.Sample(name, nil, nil, "", "", value)
}

func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	b = appendEscaped(b, value, true)
	return append(b, '"')
}

// appendEscaped escapes a help text (backslash and line feed) or a label
// value (also the double quote), and replaces invalid UTF-8, which the
// format does not allow.
func appendEscaped(b []byte, s string, quote bool) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '"' && quote:
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat appends v as the text format writes a value or an "le"
// bound: +Inf, -Inf, NaN, else the shortest decimal that reads back as v
// (as expfmt writes it).
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// formatFloat is appendFloat as a string.
func formatFloat(v float64) string {
	return string(appendFloat(nil, v))
}
