package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// AllowedHosts is the set of names a listener answers to in the Host header.
// A page served under any other name is refused: with DNS rebinding, a site
// the admin visits points its own name at the console's address (127.0.0.1,
// say) and its script then reads and posts the console as same-origin; the
// Host header, which still says the attacker's name, is what gives it away.
//
// An entry is a host name or IP address, with or without a port: without
// one it matches any port. Names compare case-insensitively and without a
// trailing dot; IP addresses by value ("[::1]" and "[0:0:0:0:0:0:0:1]" are
// one host).
type AllowedHosts struct {
	entries []hostEntry
}

type hostEntry struct {
	host string // normalised: lower case, no trailing dot, IPs canonical
	port string // "" = any port
}

// ParseAllowedHosts reads entries such as "console.example.com",
// "127.0.0.1:8080", "[::1]:8080" or "::1". An entry that is not a host or
// host:port (a URL, a path, a wildcard, an empty string) is an error that
// names it.
func ParseAllowedHosts(hosts ...string) (*AllowedHosts, error) {
	a := &AllowedHosts{}
	for _, h := range hosts {
		e, ok := parseHostEntry(h)
		if !ok {
			return nil, fmt.Errorf("web: allowed host %q is not a host name or IP address with an optional port: give it like console.example.com or console.example.com:8443, without a scheme or path", h)
		}
		a.entries = append(a.entries, e)
	}
	return a, nil
}

// parseHostEntry reads an allowed-host entry; unlike a Host header it may
// be a bare IPv6 address.
func parseHostEntry(s string) (hostEntry, bool) {
	if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
		host, ok := normaliseHost(s)
		return hostEntry{host: host}, ok && strings.Contains(host, ":")
	}
	return splitHost(s)
}

// splitHost reads a Host header value: host, host:port, [v6] or [v6]:port.
func splitHost(s string) (hostEntry, bool) {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hostEntry{}, false
		}
		host, port = s[1:end], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return hostEntry{}, false
			}
			port = port[1:]
			if port == "" {
				return hostEntry{}, false
			}
		}
		if !strings.Contains(host, ":") {
			return hostEntry{}, false // brackets hold IPv6 addresses only
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if port == "" || strings.Contains(port, ":") {
			return hostEntry{}, false
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return hostEntry{}, false
		}
		port = strconv.Itoa(n)
	}
	host, ok := normaliseHost(host)
	return hostEntry{host: host, port: port}, ok
}

// normaliseHost lower-cases a name and drops one trailing dot, or writes an
// IP address in its canonical form. It refuses anything with characters a
// host name cannot hold.
func normaliseHost(h string) (string, bool) {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().String(), true
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "" || len(h) > 253 {
		return "", false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return "", false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	// A trailing-dot IP ("127.0.0.1.") is the IP.
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().String(), true
	}
	return h, true
}

// Allows reports whether a Host header value names an allowed host. A value
// without a port means defaultPort (80 for http, 443 for https).
func (a *AllowedHosts) Allows(hostHeader, defaultPort string) bool {
	got, ok := splitHost(hostHeader)
	if !ok {
		return false
	}
	if got.port == "" {
		got.port = defaultPort
	}
	for _, e := range a.entries {
		if e.host == got.host && (e.port == "" || e.port == got.port) {
			return true
		}
	}
	return false
}

// Handler refuses, before next sees it, every request whose Host header is
// not allowed: 421 Misdirected Request with a plain-text page that says how
// to allow the name (serve's --allowed-host). Refusals are logged as
// warnings on log (nil: not logged).
func (a *AllowedHosts) Handler(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		port := "80"
		if r.TLS != nil {
			port = "443"
		}
		if a.Allows(r.Host, port) {
			next.ServeHTTP(w, r)
			return
		}
		if log != nil {
			log.Warn("request refused: the Host header names no host this server answers to (DNS rebinding protection); see --allowed-host",
				"host", shortHost(r.Host), "method", r.Method, "path", r.URL.Path, "remote", clientAddr(r))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusMisdirectedRequest)
		fmt.Fprint(w, misdirectedText(r.Host))
	})
}

// misdirectedText is the refusal page. It repeats the requested name only
// when it is a well-formed host, so nothing a client sends is echoed raw.
func misdirectedText(host string) string {
	name, fix := "a host name it does not serve", "--allowed-host NAME"
	if host == "" {
		name = "no host name"
	} else if e, ok := splitHost(host); ok {
		name = fmt.Sprintf("the host name %q", e.host)
		fix = "--allowed-host " + e.host
		if strings.Contains(e.host, ":") {
			fix = "--allowed-host '[" + e.host + "]'"
		}
	}
	return "421 Misdirected Request\n\n" +
		"This scriptrun server was reached under " + name + ", so it refused the request:\n" +
		"it answers only to its listening address, its OAuth callback URL's host and the\n" +
		"names given with --allowed-host (a protection against DNS rebinding).\n\n" +
		"Open it at the address `scriptrun serve` printed, or, if this name is yours (a\n" +
		"reverse proxy, a DNS name for this machine), restart serve with " + fix + ".\n"
}

// shortHost bounds a client's Host value for the log.
func shortHost(h string) string {
	if len(h) > 100 {
		return h[:100] + "…"
	}
	return h
}
