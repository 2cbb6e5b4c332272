package web

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/tokens"
)

// A DNS-rebinding site reaches the console's address under its own name:
// every request whose Host is not one the console serves is refused with
// 421 before any handler, the OAuth callback, the static files, sign-in and
// the setup link included.
func TestHostHeaderChecked(t *testing.T) {
	e := newEnv(t, envOpts{})
	fresh := newEnv(t, envOpts{noPassword: true}) // serves the setup link
	_, port, _ := net.SplitHostPort(e.ts.Listener.Addr().String())
	// The allowed list names the test server's port, known once it listens.
	allowed := []string{"console.example.com", "proxy.example.net:8443", "[::1]:" + port, "localhost:" + port}
	srv, err := New(Options{DB: e.db, Tokens: e.m, CallbackURL: e.srv.callback, Now: e.clock.Now, Logger: e.srv.log, AllowedHosts: allowed})
	if err != nil {
		t.Fatal(err)
	}
	setup, err := New(Options{DB: fresh.db, Tokens: fresh.m, CallbackURL: e.srv.callback, Now: e.clock.Now, Logger: e.srv.log, AllowedHosts: allowed})
	if err != nil {
		t.Fatal(err)
	}
	e.addProvider("p", "http://127.0.0.1:1")
	e.addToken("api", "p", nil)
	sess, cookie := srv.sessions.create(e.adminSet(), "127.0.0.1")
	const state = "state-of-the-test-authorization-0123456789"
	pend := func() {
		srv.pending.add(&tokens.Authorization{Token: "api", State: state, RedirectURI: srv.callback, Created: e.clock.Now()}, sess.id, e.clock.Now())
	}

	callback := "/oauth/callback?state=" + state + "&error=access_denied"
	paths := []string{setup.SetupPath(), "/login", "/static/style.css", "/favicon.ico", "/healthz", "/tokens", callback}
	tests := []struct {
		host  string
		allow bool
	}{
		{"127.0.0.1:" + port, true}, // the callback URL's host
		{"localhost:" + port, true},
		{"LocalHost:" + port, true},
		{"localhost.:" + port, true},
		{"[::1]:" + port, true},
		{"[0:0:0:0:0:0:0:1]:" + port, true},
		{"console.example.com", true}, // no port in the entry: any port
		{"Console.Example.COM:8080", true},
		{"console.example.com.", true},
		{"proxy.example.net:8443", true},

		{"attacker.example", false},
		{"attacker.example:" + port, false},
		{"127.0.0.1.attacker.example:" + port, false},
		{"localhost.attacker.example:" + port, false},
		{"console.example.com.attacker.example", false},
		{"", false},
		{"127.0.0.1:1", false},              // another port
		{"localhost", false},                // port 80 is not served
		{"proxy.example.net", false},        // port 80, the entry says 8443
		{"[::1]:1", false},                  // another port
		{"[::1", false},                     // malformed
		{"127.0.0.1:" + port + ":1", false}, // malformed
		{"127.0.0.1:0" + port, true},        // a leading zero is the same port
	}
	for _, tt := range tests {
		for _, path := range paths {
			pend()
			req := httptest.NewRequest("GET", path, nil)
			req.Host = tt.host
			req.AddCookie(&http.Cookie{Name: srv.sessionCookie(), Value: cookie})
			rec := httptest.NewRecorder()
			h := srv
			if strings.HasPrefix(path, "/setup") {
				h = setup
			}
			h.ServeHTTP(rec, req)
			// The callback reached its handler exactly when the Host is allowed.
			if consumed := e.pendingCount() == 0; path == callback && consumed != tt.allow {
				t.Errorf("the callback under Host %q: pending authorization consumed %v, want %v", tt.host, consumed, tt.allow)
			}
			refused := rec.Code == http.StatusMisdirectedRequest
			if refused == tt.allow {
				t.Errorf("GET %s with Host %q: %d, want allowed %v", path, tt.host, rec.Code, tt.allow)
				continue
			}
			if refused {
				body := rec.Body.String()
				if !strings.Contains(body, "--allowed-host") || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
					t.Errorf("refusal of Host %q: %q (%s), want plain text naming --allowed-host", tt.host, body, rec.Header().Get("Content-Type"))
				}
				if rec.Header().Get("Set-Cookie") != "" {
					t.Errorf("refusal of Host %q set a cookie", tt.host)
				}
			}
		}
	}
	if !strings.Contains(e.log.String(), "DNS rebinding") {
		t.Error("refusals are not logged")
	}

	// The fix named is the refused name itself, and only when it is one.
	for host, want := range map[string]string{
		"attacker.example:8080":                  "--allowed-host attacker.example.",
		"":                                       "no host name",
		"<script>alert(1)</script>":              "--allowed-host NAME.",
		"[fe80::1]:80":                           "--allowed-host '[fe80::1]'",
		"127.0.0.1.attacker.example":             "\"127.0.0.1.attacker.example\"",
		strings.Repeat("a", 300) + ".example:80": "--allowed-host NAME.",
	} {
		if got := misdirectedText(host); !strings.Contains(got, want) || strings.Contains(got, "<script>") {
			t.Errorf("refusal text for Host %q:\n%s\nwant it to contain %q", host, got, want)
		}
	}
}

func TestParseAllowedHosts(t *testing.T) {
	for _, good := range []string{"console.example.com", "console.example.com:8443", "127.0.0.1", "127.0.0.1:8080", "[::1]:8080", "::1", "[::1]", "intranet", "my_host.lan."} {
		if _, err := ParseAllowedHosts(good); err != nil {
			t.Errorf("ParseAllowedHosts(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"", "https://console.example.com", "console.example.com/scriptrun", "*.example.com", "a b.example", "host:0", "host:65536", "host:", "host:x", "user@host", "[127.0.0.1]:80", ".", "a..b"} {
		if _, err := ParseAllowedHosts(bad); err == nil || !strings.Contains(err.Error(), "console.example.com:8443") {
			t.Errorf("ParseAllowedHosts(%q) = %v, want an error saying how to write one", bad, err)
		}
	}
}

// No Host value, however odd, panics the check or passes for a name that
// is not on the list.
func FuzzAllowedHosts(f *testing.F) {
	for _, seed := range []string{"127.0.0.1:8080", "localhost.:8080", "[::1]:8080", "[::1", "a:b:c", "127.0.0.1.evil.example", "LOCALHOST:08080", "%00", "[]:80", ":80", "[::01]:8080"} {
		f.Add(seed)
	}
	a, err := ParseAllowedHosts("127.0.0.1:8080", "localhost:8080", "[::1]:8080", "console.example.com")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !a.Allows(host, "80") {
			return
		}
		h := strings.ToLower(host)
		for _, ok := range []string{"127.0.0.1", "localhost", "[::1]", "[0", "[::ffff:127.0.0.1]", "console.example.com"} {
			if strings.HasPrefix(h, ok) {
				return
			}
		}
		// Another spelling of an allowed address ([::01], [0:0::1]) is
		// that address.
		if name, _, err := net.SplitHostPort(host); err == nil {
			if ip := net.ParseIP(name); ip != nil && (ip.Equal(net.IPv6loopback) || ip.Equal(net.IPv4(127, 0, 0, 1))) {
				return
			}
		}
		t.Fatalf("Host %q was allowed", host)
	})
}
