package weborigin_test

import (
	"net/url"
	"testing"

	"github.com/scriptrun/scriptrun/internal/weborigin"
)

func TestSame(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		// Default ports, by scheme.
		{"http://example.com/", "http://example.com:80/x", true},
		{"https://example.com/", "https://example.com:443/x", true},
		{"https://example.com/", "https://example.com:80/", false},
		{"http://example.com/", "http://example.com:443/", false},
		{"http://example.com/", "https://example.com/", false},
		{"http://example.com:443/", "https://example.com/", false},
		{"http://example.com:8080/", "http://example.com:8081/", false},
		{"http://example.com:08080/", "http://example.com:8080/", true},
		{"http://example.com:/", "http://example.com/", true},
		// Other schemes have no default port.
		{"ftp://example.com/", "ftp://example.com:80/", false},
		{"ftp://example.com/", "ftp://example.com/", true},
		// Case: scheme and host are case-insensitive; the path is not part of it.
		{"HTTPS://Example.COM/a", "https://example.com/b", true},
		{"https://user:pw@example.com/", "https://example.com/", true},
		// Hosts.
		{"https://example.com/", "https://example.com./", false},
		{"https://example.com/", "https://sub.example.com/", false},
		{"https://example.com/", "https://example.org/", false},
		{"https://b%C3%BCcher.example/", "https://bücher.example/", true},
		{"https://bücher.example/", "https://xn--bcher-kva.example/", false}, // fail closed
		// IP literals.
		{"http://[::1]/", "http://[0:0:0:0:0:0:0:1]:80/", true},
		{"http://[::1]:8080/", "http://[::1]:8081/", false},
		{"http://[2001:DB8::1]/", "http://[2001:db8::1]/", true},
		{"http://[::ffff:127.0.0.1]/", "http://127.0.0.1/", false},
		{"http://127.0.0.1/", "http://127.0.0.1:80/", true},
		{"http://127.0.0.1/", "http://127.0.0.2/", false},
		// No host, no origin.
		{"mailto:a@example.com", "mailto:a@example.com", false},
		{"/relative", "/relative", false},
	} {
		a, err := url.Parse(tt.a)
		if err != nil {
			t.Fatalf("%s: %v", tt.a, err)
		}
		b, err := url.Parse(tt.b)
		if err != nil {
			t.Fatalf("%s: %v", tt.b, err)
		}
		if got := weborigin.Same(a, b); got != tt.want {
			t.Errorf("Same(%s, %s) = %v, want %v (origins %+v, %+v)", tt.a, tt.b, got, tt.want, weborigin.Of(a), weborigin.Of(b))
		}
		if got := weborigin.Same(b, a); got != tt.want {
			t.Errorf("Same(%s, %s) = %v, want %v: not symmetric", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestSameAuthority(t *testing.T) {
	for _, tt := range []struct {
		host, u string
		want    bool
	}{
		{"example.com", "https://example.com/x", true},
		{"EXAMPLE.com:443", "https://example.com/x", true},
		{"example.com:80", "https://example.com/x", false},
		{"example.com", "http://example.com:8080/", false},
		{"example.com:8080", "http://example.com:8080/", true},
		{"[::1]:8080", "http://[0::1]:8080/", true},
		{"evil.example", "https://example.com/", false},
		{"", "https://example.com/", false},
	} {
		u, err := url.Parse(tt.u)
		if err != nil {
			t.Fatalf("%s: %v", tt.u, err)
		}
		if got := weborigin.SameAuthority(tt.host, u); got != tt.want {
			t.Errorf("SameAuthority(%q, %s) = %v, want %v", tt.host, tt.u, got, tt.want)
		}
	}
}
