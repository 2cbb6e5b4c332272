// Package etcdurl parses the store URL that selects etcd:
// etcd://host1:2379,host2:2379[/prefix]. It is apart from etcdkv so that its
// fuzz target builds without the etcd client and server (CI fuzzes every
// target with a fresh build).
package etcdurl

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPrefix is the key prefix used when a store URL names none, so that
// several installations can share one cluster under prefixes of their own.
const DefaultPrefix = "/scriptrun/"

// Target is a parsed store URL: the cluster's client endpoints and the key
// prefix under which every key of this installation lives.
type Target struct {
	// Endpoints are "host:port" client addresses, in the order given.
	Endpoints []string
	// Prefix starts and ends with "/".
	Prefix string
}

// Parse parses "etcd://host1:2379,host2:2379[/prefix]". A host without a
// port gets 2379; a bracketed IPv6 host is accepted. The prefix is
// normalised to start and end with "/" (default DefaultPrefix). User
// information in the URL is refused: credentials come from the environment,
// never from a flag that ps can show.
func Parse(raw string) (Target, error) {
	const scheme = "etcd://"
	if len(raw) < len(scheme) || !strings.EqualFold(raw[:len(scheme)], scheme) {
		return Target{}, fmt.Errorf("etcdurl: store URL %q: want etcd://host:port[,host:port…][/prefix]", clip(raw))
	}
	rest := raw[len(scheme):]
	hosts, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		hosts, path = rest[:i], rest[i:]
	}
	if strings.ContainsAny(hosts, "@") {
		return Target{}, fmt.Errorf("etcdurl: store URL: user information is not accepted in the URL; set $SCRIPTRUN_ETCD_USERNAME and $SCRIPTRUN_ETCD_PASSWORD")
	}
	if strings.ContainsAny(rest, "?#") {
		return Target{}, fmt.Errorf("etcdurl: store URL %q: query and fragment are not accepted", clip(raw))
	}
	if hosts == "" {
		return Target{}, fmt.Errorf("etcdurl: store URL %q names no host", clip(raw))
	}
	var t Target
	seen := map[string]bool{}
	for _, h := range strings.Split(hosts, ",") {
		ep, err := parseEndpoint(h)
		if err != nil {
			return Target{}, fmt.Errorf("etcdurl: store URL %q: %w", clip(raw), err)
		}
		if seen[ep] {
			return Target{}, fmt.Errorf("etcdurl: store URL %q: endpoint %s is given twice", clip(raw), ep)
		}
		seen[ep] = true
		t.Endpoints = append(t.Endpoints, ep)
	}
	prefix, err := normalizePrefix(path)
	if err != nil {
		return Target{}, fmt.Errorf("etcdurl: store URL %q: %w", clip(raw), err)
	}
	t.Prefix = prefix
	return t, nil
}

// String gives the target back as a store URL (with the normalised prefix).
func (t Target) String() string {
	return "etcd://" + strings.Join(t.Endpoints, ",") + t.Prefix
}

func parseEndpoint(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("empty host in the host list")
	}
	host, port := h, "2379"
	switch {
	case strings.HasPrefix(h, "["):
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", fmt.Errorf("host %q: unclosed [", clip(h))
		}
		host = h[1:end]
		switch after := h[end+1:]; {
		case after == "":
		case strings.HasPrefix(after, ":"):
			port = after[1:]
		default:
			return "", fmt.Errorf("host %q: unexpected text after ]", clip(h))
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return "", fmt.Errorf("host %q: brackets are for IPv6 addresses", clip(h))
		}
	case strings.Count(h, ":") == 1:
		host, port, _ = strings.Cut(h, ":")
	case strings.Count(h, ":") > 1:
		return "", fmt.Errorf("host %q: put an IPv6 address in brackets, as in [::1]:2379", clip(h))
	}
	if host == "" {
		return "", fmt.Errorf("host %q: empty host name", clip(h))
	}
	if net.ParseIP(host) == nil && !validHostName(host) {
		return "", fmt.Errorf("host %q: not a host name or IP address", clip(h))
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
		return "", fmt.Errorf("host %q: port must be a number from 1 to 65535", clip(h))
	}
	return net.JoinHostPort(host, port), nil
}

// validHostName accepts DNS names: labels of letters, digits, '-' and '_'
// (seen in internal names), not starting or ending with '-'.
func validHostName(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// normalizePrefix turns "", "/" and "/a/b" into "/scriptrun/", "/scriptrun/"
// and "/a/b/". A prefix of printable ASCII path segments is accepted; "." and
// ".." segments and empty segments are refused, since they would make two
// spellings of one prefix (or a prefix inside another installation's).
func normalizePrefix(path string) (string, error) {
	p := strings.TrimSuffix(path, "/")
	if p == "" {
		return DefaultPrefix, nil
	}
	if len(p) > 256 {
		return "", fmt.Errorf("prefix is longer than 256 bytes")
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("prefix %q: empty, '.' or '..' segment", clip(path))
		}
		for _, c := range []byte(seg) {
			if c <= ' ' || c >= 0x7f || c == '%' || c == '\\' {
				return "", fmt.Errorf("prefix %q: only printable ASCII without spaces, %%, or \\", clip(path))
			}
		}
	}
	return p + "/", nil
}

// clip keeps error messages short and printable for hostile input.
func clip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
