package tokens

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scriptrun/scriptrun/internal/lazy"
	"github.com/scriptrun/scriptrun/internal/weborigin"
)

// binding is where a token may be sent: the scheme, host and port of its
// base URL and, when that URL has a path, the path segments every request
// path must begin with (segment by segment, so /projects/42 does not cover
// /projects/420).
//
// A path prefix binds only if no server can read a request path as leaving
// it, so a request path is checked in two readings and must stay inside in
// both:
//
//   - as RFC 3986 reads it: split at "/", each segment percent-decoded, "."
//     and ".." (also written %2e) resolved, an encoded "/" (%2F) part of its
//     segment;
//   - as the most lenient server reads it: percent-decoded until nothing
//     changes, "\" and Unicode look-alikes of "/" and "." (fullwidth, as
//     NFKC normalises them) taken for them, empty segments merged, path
//     parameters (";…", as in Tomcat's "..;/") dropped, dot segments resolved.
//
// A path that no reading can settle (invalid percent-encoding, invalid UTF-8,
// control characters, more than four layers of encoding) is refused.
type binding struct {
	origin *url.URL
	want   weborigin.Origin // weborigin.Of(origin), computed once per read of the token
	prefix []string         // decoded segments; empty when the base URL has no path
}

// newBinding parses a stored base URL. Its path was checked in plain form
// when the token was saved (store.Token.Validate), so both readings agree.
func newBinding(raw string) (*binding, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	b := &binding{origin: u, want: weborigin.Of(u)}
	if u.Path != "" && u.Path != "/" {
		segs, ok := readPath(u.EscapedPath(), false)
		if !ok {
			return nil, fmt.Errorf("the base URL's path %s is ambiguous", strconv.Quote(u.EscapedPath()))
		}
		b.prefix = trimEmpty(segs)
	}
	return b, nil
}

// permits reports whether u is inside the binding.
func (b *binding) permits(u *url.URL) bool {
	if !b.sameOrigin(u) {
		return false
	}
	if len(b.prefix) == 0 {
		return true
	}
	if u.Opaque != "" {
		return false
	}
	p := u.EscapedPath()
	if inside, settled := plainPathHasPrefix(p, b.prefix); settled {
		return inside
	}
	return readingsHavePrefix(p, b.prefix)
}

// readingsHavePrefix reports whether an escaped path begins with prefix in
// both readings (see binding).
func readingsHavePrefix(p string, prefix []string) bool {
	for _, lenient := range []bool{false, true} {
		segs, ok := readPath(p, lenient)
		if !ok || !hasPrefix(segs, prefix) {
			return false
		}
	}
	return true
}

// sameOrigin is weborigin.Same(b.origin, u) without working out b's origin
// again, and without working out u's when u spells its scheme and host
// exactly as the base URL does (the usual case): weborigin.Of reads nothing
// else of a URL, so the two origins are then equal.
func (b *binding) sameOrigin(u *url.URL) bool {
	if b.want.Host == "" {
		return false
	}
	if u.Scheme == b.origin.Scheme && u.Host == b.origin.Host {
		return true
	}
	return weborigin.Of(u) == b.want
}

// plainPathHasPrefix settles, without building the two readings, whether a
// plain escaped path begins with prefix: one that starts with "/" and whose
// segments are printable ASCII without "%", `\` or ";", neither "." nor
// "..", and not empty (but for the last). Both readings of such a path are
// its segments as written, so they agree with each other and with this
// answer (FuzzPlainPath checks). Any other path is not settled here.
func plainPathHasPrefix(p string, prefix []string) (inside, settled bool) {
	if p == "" || p[0] != '/' {
		return false, false
	}
	inside = true
	n := 0
	for rest := p[1:]; ; n++ {
		seg, tail, more := strings.Cut(rest, "/")
		if !plainSegment(seg, more) {
			return false, false
		}
		if n < len(prefix) && seg != prefix[n] {
			inside = false
		}
		if !more {
			break
		}
		rest = tail
	}
	return inside && n+1 >= len(prefix), true
}

// plainSegment reports whether seg reads the same in both readings of a
// path: printable ASCII without "%", `\` or ";", neither "." nor "..", and
// empty only at the end of the path.
func plainSegment(seg string, more bool) bool {
	switch seg {
	case ".", "..":
		return false
	case "":
		return !more
	}
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; c <= ' ' || c >= 0x7f || c == '%' || c == '\\' || c == ';' {
			return false
		}
	}
	return true
}

// String describes the binding for messages: the origin, and the path when
// there is one.
func (b *binding) String() string {
	s := origin(b.origin)
	if len(b.prefix) > 0 {
		s += b.origin.EscapedPath()
	}
	return s
}

// hasPrefix reports whether segs begins with prefix, segment by segment.
func hasPrefix(segs, prefix []string) bool {
	if len(segs) < len(prefix) {
		return false
	}
	for i, p := range prefix {
		if segs[i] != p {
			return false
		}
	}
	return true
}

// trimEmpty drops the empty segment a trailing slash leaves.
func trimEmpty(segs []string) []string {
	if n := len(segs); n > 0 && segs[n-1] == "" {
		return segs[:n-1]
	}
	return segs
}

// lookalikes maps "\" and the characters that Unicode normalisation (NFKC,
// which some servers apply to paths) turns into "." or "/" onto them.
var lookalikes = lazy.Value[*strings.Replacer]{New: func() *strings.Replacer {
	return strings.NewReplacer(`\`, "/", "\uFF0E", ".", "\uFF0F", "/", "\uFF3C", "/", "\u2215", "/", "\u2044", "/", "\u2024", ".", "\uFE52", ".")
}}

// maxDecodings bounds how many layers of percent-encoding the lenient
// reading peels off (%252e%252e is ".." to a server that decodes twice).
const maxDecodings = 4

// readPath returns the segments of an escaped path as RFC 3986 reads it
// (lenient false) or as the most lenient server does (lenient true), with
// dot segments resolved. ok is false for a path no reading can settle.
func readPath(escaped string, lenient bool) (segs []string, ok bool) {
	var parts []string
	if lenient {
		parts, ok = lenientParts(escaped)
	} else {
		parts, ok = strictParts(escaped)
	}
	if !ok {
		return nil, false
	}
	if len(parts) > 0 && parts[0] == "" {
		parts = parts[1:] // the leading slash
	}
	return resolveDots(parts, lenient), true
}

// lenientParts splits a path as the most lenient server reads it: decoded
// up to maxDecodings times, look-alikes of . and / taken for them.
func lenientParts(escaped string) ([]string, bool) {
	d := escaped
	for i := 0; ; i++ {
		next, err := url.PathUnescape(d)
		if err != nil {
			return nil, false
		}
		if next == d {
			break
		}
		if i == maxDecodings {
			return nil, false
		}
		d = next
	}
	if !plainText(d) {
		return nil, false
	}
	return strings.Split(lookalikes.Get().Replace(d), "/"), true
}

// strictParts splits a path as RFC 3986 reads it: on its slashes, each
// segment then decoded once.
func strictParts(escaped string) ([]string, bool) {
	parts := strings.Split(escaped, "/")
	for i, p := range parts {
		d, err := url.PathUnescape(p)
		if err != nil || !plainText(d) {
			return nil, false
		}
		parts[i] = d
	}
	return parts, true
}

// resolveDots applies the dot segments of parts; leniently, path
// parameters (";...") are dropped and empty segments skipped too.
func resolveDots(parts []string, lenient bool) []string {
	var segs []string
	for i, p := range parts {
		last := i == len(parts)-1
		if lenient {
			p, _, _ = strings.Cut(p, ";")
			if p == "" && !last {
				continue
			}
		}
		switch p {
		case ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, p)
			continue
		}
		if last {
			segs = append(segs, "") // "a/.." names the folder a/
		}
	}
	return segs
}

// plainText reports whether a decoded path is valid UTF-8 without control
// characters, which servers decode, truncate or normalise in their own ways.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// DescribeBinding says in words where a token with this base URL may be
// sent, for `token show` and the console: "" when there is no base URL (the
// callers warn about that), else the origin, and the path when it binds one.
func DescribeBinding(baseURL string) string {
	if baseURL == "" {
		return ""
	}
	b, err := newBinding(baseURL)
	if err != nil {
		return "nowhere: the base URL cannot be read"
	}
	if len(b.prefix) == 0 {
		return origin(b.origin) + " only (any path)"
	}
	return b.String() + " and the paths under it only (not its siblings, nor .. or encoded slashes out of it)"
}
