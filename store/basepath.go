package store

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// basePathProblem says what is wrong with a base URL whose path servers
// could read in more than one way, or "". A token is bound to its base
// URL's path (package tokens compares request paths with it segment by
// segment), so the path must be plain: no empty, "." or ".." segments,
// no encoded "/" or "\", no path parameters (";"), no "%25", valid UTF-8
// without control characters.
func basePathProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "" // endpointProblem reports it
	}
	p := u.EscapedPath()
	if p == "" || p == "/" {
		return ""
	}
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		d, err := url.PathUnescape(s)
		why := ""
		switch {
		case s == "" && i < len(segs)-1:
			why = "an empty segment (//)"
		case err != nil:
			why = "invalid percent-encoding"
		case d == "." || d == "..":
			why = "a dot segment (. or ..)"
		case strings.ContainsAny(d, `/\;%`):
			why = `an encoded "/" or "\", a ";" or a "%25"`
		case !utf8.ValidString(d) || strings.ContainsFunc(d, func(r rune) bool { return r < ' ' || r == 0x7f }):
			why = "invalid UTF-8 or a control character"
		}
		if why != "" {
			return fmt.Sprintf("%q: its path has %s, which servers read in different ways; a token is bound to its base URL's path, so give it plainly, such as https://gitlab.example.com/api/v4/projects/42/", raw, why)
		}
	}
	return ""
}
