package hmacsig

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// maxHeader bounds the Authorization header a verifier reads.
const maxHeader = 4096

// ParseAuthorization reads an Authorization header value of the scheme. It
// checks the form of every parameter, not the signature.
func ParseAuthorization(h string) (Params, error) {
	var p Params
	if len(h) > maxHeader {
		return p, fmt.Errorf("%w: Authorization header longer than %d bytes", ErrMalformed, maxHeader)
	}
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, SHA256.Scheme()):
		p.Algorithm = SHA256
	case strings.EqualFold(scheme, SHA512.Scheme()):
		p.Algorithm = SHA512
	default:
		return p, fmt.Errorf("%w: the Authorization scheme is not HMAC-SHA256 or HMAC-SHA512", ErrMalformed)
	}
	seen := map[string]bool{}
	s := rest
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		i := 0
		for i < len(s) && tchar(s[i]) {
			i++
		}
		name := strings.ToLower(clip(s[:i]))
		if name == "" {
			return p, fmt.Errorf("%w: expected a parameter name", ErrMalformed)
		}
		s = strings.TrimLeft(s[i:], " \t")
		if !strings.HasPrefix(s, "=") {
			return p, fmt.Errorf("%w: parameter %q has no value", ErrMalformed, name)
		}
		s = strings.TrimLeft(s[1:], " \t")
		var value string
		if strings.HasPrefix(s, `"`) {
			var err error
			if value, s, err = quoted(s); err != nil {
				return p, fmt.Errorf("%w: parameter %q: %v", ErrMalformed, name, err)
			}
		} else {
			j := 0
			for j < len(s) && s[j] != ',' && s[j] != ' ' && s[j] != '\t' {
				j++
			}
			value, s = s[:j], s[j:]
		}
		s = strings.TrimLeft(s, " \t")
		if s != "" && s[0] != ',' {
			return p, fmt.Errorf("%w: parameter %q: expected a comma after its value", ErrMalformed, name)
		}
		switch name {
		case "token", "ts", "nonce", "sig":
			if seen[name] {
				return p, fmt.Errorf("%w: parameter %q appears twice", ErrMalformed, name)
			}
			seen[name] = true
		default:
			continue // unknown parameters are ignored
		}
		switch name {
		case "token":
			p.Token = value
		case "ts":
			ts, err := parseTimestamp(value)
			if err != nil {
				return p, err
			}
			p.Timestamp = ts
		case "nonce":
			p.Nonce = value
		case "sig":
			p.Signature = value
		}
	}
	for _, name := range []string{"token", "ts", "nonce", "sig"} {
		if !seen[name] {
			return p, fmt.Errorf("%w: parameter %q is missing", ErrMalformed, name)
		}
	}
	if err := CheckToken(p.Token); err != nil {
		return p, err
	}
	if err := checkNonce(p.Nonce); err != nil {
		return p, err
	}
	want := 64
	if p.Algorithm == SHA512 {
		want = 128
	}
	if _, err := hex.DecodeString(p.Signature); err != nil || len(p.Signature) != want {
		return p, fmt.Errorf("%w: sig must be %d hex digits for %s", ErrMalformed, want, p.Algorithm.Scheme())
	}
	p.Signature = strings.ToLower(p.Signature)
	return p, nil
}

func parseTimestamp(v string) (int64, error) {
	if v == "" || len(v) > 19 {
		return 0, fmt.Errorf("%w: ts must be 1 to 19 decimal digits", ErrMalformed)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("%w: ts must be decimal Unix seconds", ErrMalformed)
		}
	}
	ts, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: ts is out of range", ErrMalformed)
	}
	return ts, nil
}

// quoted reads an RFC 9110 quoted-string at the start of s and returns its
// value and the rest of s.
func quoted(s string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), s[i+1:], nil
		case c == '\\':
			if i+1 == len(s) {
				return "", "", fmt.Errorf("unterminated quoted string")
			}
			i++
			if !qdtext(s[i]) && s[i] != '"' && s[i] != '\\' {
				return "", "", fmt.Errorf("bad escaped character in quoted string")
			}
			b.WriteByte(s[i])
		case qdtext(c):
			b.WriteByte(c)
		default:
			return "", "", fmt.Errorf("control character in quoted string")
		}
	}
	return "", "", fmt.Errorf("unterminated quoted string")
}

// qdtext: HTAB, SP and visible characters other than '"' and '\' (obs-text,
// bytes 0x80 and above, is refused: no value of the scheme needs it).
func qdtext(c byte) bool {
	return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e && c != '"' && c != '\\')
}

// tchar is an RFC 9110 token character.
func tchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// clip shortens input quoted in an error message.
func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}
