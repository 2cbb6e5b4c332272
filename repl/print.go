package repl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/termtext"
)

// ANSI styles, as Node's util.inspect uses them.
const (
	styleReset   = "\x1b[0m"
	styleBold    = "\x1b[1m"
	styleDim     = "\x1b[90m" // grey: undefined, less important text
	styleRed     = "\x1b[31m"
	styleGreen   = "\x1b[32m"
	styleYellow  = "\x1b[33m"
	styleMagenta = "\x1b[35m"
	styleCyan    = "\x1b[36m"
)

// Limits of a response's body preview.
const (
	previewLines   = 40
	previewBytes   = 4000
	previewHeaders = 30
	maxIndentJSON  = 1 << 20 // bodies up to this size are re-indented when they are JSON
)

// Printer renders described values the way Node's REPL does: strings
// quoted, objects and arrays on one line when they fit the width and one
// entry per line otherwise, and responses as a status line, headers and a
// preview of the body. With Color, it uses ANSI colours.
type Printer struct {
	Color bool
	// Width is the line width objects are fitted to; 0 means 80.
	Width int
}

// Value renders v as the REPL prints a result.
func (p Printer) Value(v *runtime.Value) string {
	if v == nil {
		return p.style(styleDim, "undefined")
	}
	switch v.Kind {
	case runtime.KindResponse:
		return p.response(v.Response)
	case runtime.KindError:
		return termtext.Text(v.Text)
	}
	return p.render(v, 0, true)
}

// Error renders an error of an evaluation.
func (p Printer) Error(msg string) string {
	return p.style(styleRed, termtext.Text(msg))
}

func (p Printer) width() int {
	if p.Width <= 0 {
		return 80
	}
	return p.Width
}

func (p Printer) style(code, s string) string {
	if !p.Color || s == "" {
		return s
	}
	return code + s + styleReset
}

// render renders v, whose first line starts at column indent. top is true
// for the value itself (not a property of another).
func (p Printer) render(v *runtime.Value, indent int, top bool) string {
	switch v.Kind {
	case runtime.KindUndefined:
		return p.style(styleDim, "undefined")
	case runtime.KindNull:
		return p.style(styleBold, "null")
	case runtime.KindBoolean, runtime.KindNumber:
		return p.style(styleYellow, v.Text)
	case runtime.KindBigInt:
		return p.style(styleYellow, v.Text+"n")
	case runtime.KindString:
		s := p.style(styleGreen, quote(v.Text))
		if v.Len > len(v.Text) {
			s += p.style(styleDim, fmt.Sprintf("... %d more characters", v.Len-len(v.Text)))
		}
		return s
	case runtime.KindSymbol:
		return p.style(styleGreen, v.Text)
	case runtime.KindFunction:
		if v.Text == "" {
			return p.style(styleCyan, "[Function (anonymous)]")
		}
		return p.style(styleCyan, "[Function: "+v.Text+"]")
	case runtime.KindClass:
		if v.Text == "" {
			return p.style(styleCyan, "[class (anonymous)]")
		}
		return p.style(styleCyan, "[class "+v.Text+"]")
	case runtime.KindDate:
		return p.style(styleMagenta, v.Text)
	case runtime.KindRegExp:
		return p.style(styleRed, v.Text)
	case runtime.KindError:
		if top {
			return v.Text
		}
		return "[" + firstLine(v.Text) + "]"
	case runtime.KindCircular:
		return p.style(styleCyan, "[Circular]")
	case runtime.KindMore:
		return p.style(styleCyan, "["+v.Class+"]")
	case runtime.KindGetter:
		return p.style(styleCyan, "["+v.Text+"]")
	case runtime.KindPromise:
		switch v.Text {
		case "pending":
			return "Promise { " + p.style(styleCyan, "<pending>") + " }"
		case "rejected":
			return p.group("Promise {", "}", []string{p.style(styleRed, "<rejected> ") + p.entryValue(v.Entries, indent)}, indent, false)
		}
		return p.group("Promise {", "}", []string{p.entryValue(v.Entries, indent)}, indent, false)
	case runtime.KindArray:
		prefix := "["
		if v.Class != "" {
			prefix = fmt.Sprintf("%s(%d) [", v.Class, v.Len)
		}
		items := p.entries(v, indent)
		return p.group(prefix, "]", items, indent, p.packable(v))
	case runtime.KindMap:
		return p.group(p.collectionPrefix("Map", v), "}", p.entries(v, indent), indent, false)
	case runtime.KindSet:
		return p.group(p.collectionPrefix("Set", v), "}", p.entries(v, indent), indent, p.packable(v))
	case runtime.KindHeaders:
		return p.group("Headers {", "}", p.entries(v, indent), indent, false)
	case runtime.KindRequest:
		return p.request(v.Request, indent)
	case runtime.KindResponse:
		r := v.Response
		return p.style(styleCyan, fmt.Sprintf("[Response %d %s]", r.Status, r.URL))
	case runtime.KindObject:
		prefix := "{"
		if v.Class != "" {
			prefix = v.Class + " {"
		}
		return p.group(prefix, "}", p.entries(v, indent), indent, false)
	}
	return v.Text
}

func (p Printer) collectionPrefix(kind string, v *runtime.Value) string {
	switch v.Class {
	case "":
	case "URLSearchParams": // as Node prints it: no size
		return v.Class + " {"
	default:
		kind = v.Class
	}
	return fmt.Sprintf("%s(%d) {", kind, v.Len)
}

// entryValue renders the value of a promise.
func (p Printer) entryValue(entries []runtime.Entry, indent int) string {
	if len(entries) == 0 {
		return p.style(styleDim, "undefined")
	}
	return p.render(entries[0].Value, indent+2, false)
}

// entries renders the entries of an object, array, Map or Set.
func (p Printer) entries(v *runtime.Value, indent int) []string {
	items := make([]string, 0, len(v.Entries)+1)
	for _, e := range v.Entries {
		val := p.render(e.Value, indent+2, false)
		switch {
		case e.MapKey != nil:
			items = append(items, p.render(e.MapKey, indent+2, false)+" => "+val)
		case e.Key != "" || v.Kind != runtime.KindArray && v.Kind != runtime.KindSet:
			items = append(items, propertyKey(e.Key)+": "+val)
		default:
			items = append(items, val)
		}
	}
	if v.Omitted > 0 {
		what := "items"
		if v.Kind == runtime.KindObject || v.Kind == runtime.KindHeaders {
			what = "properties"
		}
		if v.Omitted == 1 {
			what = strings.TrimSuffix(what, "s")
			if what == "propertie" {
				what = "property"
			}
		}
		items = append(items, p.style(styleDim, fmt.Sprintf("... %d more %s", v.Omitted, what)))
	}
	return items
}

// packable reports whether the elements are short primitives, which are
// packed several to a line rather than one per line.
func (p Printer) packable(v *runtime.Value) bool {
	if len(v.Entries) <= 6 {
		return false
	}
	for _, e := range v.Entries {
		if e.Key != "" {
			return false
		}
		switch e.Value.Kind {
		case runtime.KindNumber, runtime.KindBigInt, runtime.KindBoolean, runtime.KindNull, runtime.KindUndefined:
		case runtime.KindString:
			if len(e.Value.Text) > 16 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// group lays out items between open and close: on one line when that fits
// the width, else packed in columns (pack) or one per line.
func (p Printer) group(open, close string, items []string, indent int, pack bool) string {
	if len(items) == 0 {
		return open + close
	}
	oneLine := open + " " + strings.Join(items, ", ") + " " + close
	if !strings.Contains(oneLine, "\n") && indent+visibleLen(oneLine) <= p.width() {
		return oneLine
	}
	pad := strings.Repeat(" ", indent+2)
	var b strings.Builder
	b.WriteString(open)
	if pack {
		widest := 0
		for _, it := range items {
			widest = max(widest, visibleLen(it))
		}
		perLine := max(1, (p.width()-indent-2)/(widest+2))
		for i, it := range items {
			if i%perLine == 0 {
				b.WriteString("\n" + pad)
			} else {
				b.WriteString(" ")
			}
			b.WriteString(it)
			if i < len(items)-1 {
				b.WriteString(",")
				if (i+1)%perLine != 0 {
					b.WriteString(strings.Repeat(" ", widest-visibleLen(it)))
				}
			}
		}
	} else {
		for i, it := range items {
			b.WriteString("\n" + pad + it)
			if i < len(items)-1 {
				b.WriteString(",")
			}
		}
	}
	b.WriteString("\n" + strings.Repeat(" ", indent) + close)
	return b.String()
}

// request renders a request builder that has not been sent.
func (p Printer) request(r *runtime.Request, indent int) string {
	var items []string
	if r.Token != "" {
		items = append(items, "apiTokenAuth: "+p.style(styleGreen, quote(r.Token)))
	}
	if len(r.Headers) > 0 {
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, propertyKey(h.Name)+": "+p.style(styleGreen, quote(h.Value)))
		}
		items = append(items, p.group("headers: {", "}", hs, indent+2, false))
	}
	if r.BodyLen > 0 {
		items = append(items, fmt.Sprintf("body: %s", p.style(styleYellow, byteSize(r.BodyLen))))
	}
	if r.Timeout > 0 {
		items = append(items, "timeout: "+p.style(styleYellow, strconv.FormatInt(r.Timeout, 10)))
	}
	head := "Request " + r.Method + " " + r.URL
	if len(items) == 0 {
		return head + p.style(styleDim, " (not sent: .send() or .sendAsync())")
	}
	return p.group(head+" {", "}", items, indent, false)
}

// response renders a response: a status line, the headers and a preview
// of the body. Response.Headers never holds credentials.
func (p Printer) response(r *runtime.Response) string {
	var b strings.Builder
	status := strconv.Itoa(r.Status)
	if r.StatusText != "" {
		status += " " + r.StatusText
	}
	color := styleGreen
	switch {
	case r.Status >= 400:
		color = styleRed
	case r.Status >= 300:
		color = styleYellow
	}
	kind := "Response"
	if r.Fetch {
		kind = "Response (fetch)"
	}
	fmt.Fprintf(&b, "%s %s %s\n", kind, p.style(styleBold+color, status), r.URL)
	for i, h := range r.Headers {
		if i == previewHeaders {
			fmt.Fprintf(&b, "%s\n", p.style(styleDim, fmt.Sprintf("... %d more headers (res.headers has them all)", len(r.Headers)-i)))
			break
		}
		fmt.Fprintf(&b, "%s: %s\n", p.style(styleCyan, h.Name), termtext.Line(h.Value))
	}
	b.WriteString("\n")
	b.WriteString(p.body(r))
	return strings.TrimRight(b.String(), "\n")
}

// body previews a response body: JSON re-indented, text as it is (but
// for what a terminal would act on), cut to a few dozen lines; binary
// bodies are only measured.
func (p Printer) body(r *runtime.Response) string {
	how := "res.body or res.json()"
	if r.Fetch {
		how = "await r.text() or await r.json()"
	}
	switch {
	case len(r.Body) == 0:
		return p.style(styleDim, "(empty body)")
	case !utf8.Valid(r.Body) || bytes.IndexByte(r.Body, 0) >= 0:
		return p.style(styleDim, fmt.Sprintf("(binary body, %s)", byteSize(len(r.Body))))
	}
	text := r.Body
	if len(text) <= maxIndentJSON && (strings.Contains(r.ContentType, "json") || json.Valid(text)) {
		var buf bytes.Buffer
		if json.Indent(&buf, text, "", "  ") == nil {
			text = buf.Bytes()
		}
	}
	preview, cut := text, false
	if len(preview) > previewBytes {
		end := previewBytes
		for end > 0 && !utf8.RuneStart(preview[end]) {
			end--
		}
		preview, cut = preview[:end], true
	}
	if lines := bytes.SplitAfterN(preview, []byte("\n"), previewLines+1); len(lines) > previewLines {
		preview, cut = bytes.Join(lines[:previewLines], nil), true
	}
	// The body is the server's: shown as text, so it cannot clear the
	// screen or write the clipboard (OSC 52) of whoever looks at it.
	out := termtext.Text(strings.TrimRight(string(preview), "\n"))
	if cut {
		out += "\n" + p.style(styleDim, fmt.Sprintf("... (%s in all; %s has all of it)", byteSize(len(r.Body)), how))
	}
	return out
}

// byteSize renders n bytes for people.
func byteSize(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

var identifier = lazy.Regexp{Expr: `^[A-Za-z_$][A-Za-z0-9_$]*$`}

// propertyKey renders a property name: as it is when it is an identifier,
// else quoted.
func propertyKey(k string) string {
	if identifier.Get().MatchString(k) {
		return k
	}
	if _, err := strconv.Atoi(k); err == nil {
		return "'" + k + "'"
	}
	return quote(k)
}

// quote renders a string literal as Node does: single quotes unless the
// string contains one, then double quotes, then backquotes.
func quote(s string) string {
	q := byte('\'')
	switch {
	case !strings.Contains(s, "'"):
	case !strings.Contains(s, `"`):
		q = '"'
	case !strings.Contains(s, "`") && !strings.Contains(s, "${"):
		q = '`'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < 0x20 || r == 0x7f || (!unicode.IsPrint(r) && !unicode.IsSpace(r)):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

var ansi = lazy.Regexp{Expr: "\x1b\\[[0-9;]*m"}

// visibleLen is the number of characters s takes on screen, without colour
// codes.
func visibleLen(s string) int {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansi.Get().ReplaceAllString(s, "")
	}
	return utf8.RuneCountInString(s)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
