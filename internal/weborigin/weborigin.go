// Package weborigin compares where URLs point, as the rule that a credential
// goes only to its own origin needs it: the scheme, host and port of RFC
// 6454, with a missing port read as the scheme's default. The token manager
// (a token's base URL) and the bindings (redirects, the Host header) ask it,
// so both apply the same rule.
//
// # Caveats
//
//   - Hosts are compared after lowering ASCII letters only, and IP literals
//     in their canonical form; an internationalised name in Unicode and the
//     same name in punycode are different origins. A difference this package
//     cannot settle counts as another origin, so a credential is withheld
//     rather than sent.
//   - Only http (80) and https (443) have default ports; a URL of another
//     scheme without a port has the port "".
package weborigin

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Origin is the scheme, host and port of a URL, normalised so that two URLs
// have the same origin exactly when their Origins are equal (==).
type Origin struct {
	Scheme string // lower case
	Host   string // lower case; an IP literal in canonical form, without brackets
	Port   string // decimal, without leading zeros; the scheme's default if the URL gives none
}

// Of returns u's origin. The user info, path, query and fragment play no
// part.
func Of(u *url.URL) Origin {
	scheme := strings.ToLower(u.Scheme)
	return Origin{Scheme: scheme, Host: host(u.Hostname()), Port: port(scheme, u.Port())}
}

// Same reports whether a and b have the same origin. A URL without a host
// (mailto:x, a relative URL) has no origin to share: Same is false.
func Same(a, b *url.URL) bool {
	oa, ob := Of(a), Of(b)
	return oa.Host != "" && oa == ob
}

// SameAuthority reports whether hostport, the value of a Host header,
// names u's host and port (the default port of u's scheme when it gives
// none).
func SameAuthority(hostport string, u *url.URL) bool {
	return Same(&url.URL{Scheme: u.Scheme, Host: hostport}, u)
}

// host normalises a host name: ASCII letters lowered (DNS names are
// case-insensitive, and lowering other letters is IDNA's business), an IP
// address in its canonical text (::1 for 0:0:0:0:0:0:0:1).
func host(h string) string {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.String()
	}
	b := []byte(h)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// port is the port a client connects to: p without leading zeros (net.Dial
// reads 0443 as 443), or the scheme's default.
func port(scheme, p string) string {
	if p == "" {
		switch scheme {
		case "http":
			return "80"
		case "https":
			return "443"
		}
		return ""
	}
	if n, err := strconv.ParseUint(p, 10, 32); err == nil {
		return strconv.FormatUint(n, 10)
	}
	return p
}
