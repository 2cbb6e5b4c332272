package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

func TestAdminPasswordCommand(t *testing.T) {
	c := newCLI(t)
	c.stdin = "a long admin password\n"
	if out := c.must("admin", "password"); !strings.Contains(out, "admin password set") {
		t.Errorf("admin password printed %q", out)
	}
	db := openHome(t, c.home)
	var pw store.AdminPassword
	if err := db.View(func(tx *store.Tx) (err error) { pw, err = tx.AdminPassword(); return err }); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.CheckAdminPassword(pw.Hash, "a long admin password"); !ok || err != nil {
		t.Errorf("stored hash does not check the password: %v %v", ok, err)
	}
	raw, _ := os.ReadFile(filepath.Join(c.home, "scriptrun.db"))
	if bytes.Contains(raw, []byte("a long admin password")) {
		t.Error("the database holds the password in clear")
	}
	for _, tt := range []struct{ stdin, want string }{
		{"", "standard input was empty"},
		{"\n", "standard input was empty"},
		{"zq9xk\n", "too short"},
		{strings.Repeat("p", store.MaxAdminPasswordLen+5), "too long"},
	} {
		c.stdin = tt.stdin
		code, out, errs := c.run("admin", "password")
		if code != exitUsage || !strings.Contains(errs, tt.want) {
			t.Errorf("admin password with stdin %.10q: exit %d, stderr %q; want 2 saying %q", tt.stdin, code, errs, tt.want)
		}
		if pw := strings.TrimSpace(tt.stdin); pw != "" && strings.Contains(out+errs, pw) {
			t.Errorf("the refused password was echoed")
		}
	}
	// The password before the refusals still stands.
	var after store.AdminPassword
	db.View(func(tx *store.Tx) (err error) { after, err = tx.AdminPassword(); return err })
	if after.Hash != pw.Hash {
		t.Error("a refused admin password changed the stored one")
	}
}

func openHome(t *testing.T, home string) *store.DB {
	t.Helper()
	key, err := store.LoadKey(filepath.Join(home, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(home, "scriptrun.db"), key, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestServeUsageErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--tls-cert", "x.pem"}, "--tls-cert and --tls-key together"},
		{[]string{"serve", "--addr", busy.Addr().String()}, "cannot listen on " + busy.Addr().String()},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--callback-url", "/oauth/callback"}, "not an absolute http(s) URL"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--tls-cert", "missing.pem", "--tls-key", "missing.key"}, "--tls-cert/--tls-key"},
		{[]string{"serve", "extra"}, "takes no arguments"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--allowed-host", "https://console.example.com"}, "--allowed-host: allowed host \"https://console.example.com\" is not a host name"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--allowed-host", "ok.example,*.example.com"}, "without a scheme or path"},
	}
	for _, tt := range tests {
		c := newCLI(t)
		code, _, errs := c.run(tt.args...)
		if code != exitUsage || !strings.Contains(errs, tt.want) {
			t.Errorf("scriptrun %s: exit %d, stderr %q; want 2 saying %q", strings.Join(tt.args, " "), code, errs, tt.want)
		}
	}
}

func TestServeAddresses(t *testing.T) {
	loop := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}
	any := &net.TCPAddr{IP: net.IPv4zero, Port: 9000}
	mustURL := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	tests := []struct {
		addr     *net.TCPAddr
		tls      bool
		callback string
		base     string
		warnings []string
	}{
		{loop, false, "http://127.0.0.1:8080/oauth/callback", "http://127.0.0.1:8080", nil},
		{loop, false, "http://localhost:8080/oauth/callback", "http://localhost:8080", nil},
		{loop, false, "http://127.0.0.1:9999/oauth/callback", "http://127.0.0.1:8080", []string{"is not this console"}},
		{loop, false, "https://console.example.com/oauth/callback", "https://console.example.com", nil},
		{loop, false, "https://console.example.com/scriptrun/cb", "https://console.example.com", []string{"path is \"/scriptrun/cb\""}},
		{any, false, "http://192.0.2.10:9000/oauth/callback", "http://192.0.2.10:9000", []string{"without TLS", "plain http on a network host"}},
		{any, true, "https://192.0.2.10:9000/oauth/callback", "https://192.0.2.10:9000", nil},
		{any, true, "https://scriptrun.example.com/oauth/callback", "https://scriptrun.example.com", nil},
	}
	for _, tt := range tests {
		cb := mustURL(tt.callback)
		if got := consoleBase(tt.addr, tt.tls, cb); got != tt.base {
			t.Errorf("consoleBase(%s, tls %v, %s) = %q, want %q", tt.addr, tt.tls, tt.callback, got, tt.base)
		}
		ws := strings.Join(serveWarnings(tt.addr, tt.tls, cb), "\n")
		if len(tt.warnings) == 0 && ws != "" {
			t.Errorf("serve on %s with %s warns %q, want nothing", tt.addr, tt.callback, ws)
		}
		for _, w := range tt.warnings {
			if !strings.Contains(ws, w) {
				t.Errorf("serve on %s with %s: warnings %q lack %q", tt.addr, tt.callback, ws, w)
			}
		}
	}
	if cb, err := callbackFor("http://127.0.0.1:0/oauth/callback", 4321); err != nil || cb.String() != "http://127.0.0.1:4321/oauth/callback" {
		t.Errorf("callbackFor with port 0 = %v, %v", cb, err)
	}
	if cb, _ := callbackFor("https://example.com:0/cb", 4321); cb.Host != "example.com:0" {
		t.Errorf("callbackFor changed a public host's port: %v", cb)
	}
}

// The names a listener is reached under, which the console answers to.
func TestServeListenHosts(t *testing.T) {
	has := func(list []string, h string) bool {
		for _, x := range list {
			if x == h {
				return true
			}
		}
		return false
	}
	tests := []struct {
		addr      string
		ln        *net.TCPAddr
		want, not []string
	}{
		{"127.0.0.1:8080", &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}, []string{"127.0.0.1:8080", "localhost:8080"}, []string{"[::1]:8080"}},
		{"127.0.0.1:0", &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 4321}, []string{"127.0.0.1:4321", "localhost:4321"}, []string{"127.0.0.1:0"}},
		{"[::1]:8080", &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, []string{"[::1]:8080", "localhost:8080"}, []string{"127.0.0.1:8080"}},
		{"192.0.2.7:8080", &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 8080}, []string{"192.0.2.7:8080"}, []string{"localhost:8080", "127.0.0.1:8080"}},
		{"localhost:8080", &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}, []string{"127.0.0.1:8080", "localhost:8080"}, nil},
		{"myhost.example:8080", &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 8080}, []string{"192.0.2.7:8080", "myhost.example:8080"}, nil},
		// A wildcard: loopback names and this machine's addresses, never a
		// DNS name that was not given.
		{":8080", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080"}, []string{"0.0.0.0:8080"}},
		{"[::]:8080", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080"}, []string{"[::]:8080"}},
	}
	for _, tt := range tests {
		got := listenHosts(tt.addr, tt.ln)
		for _, h := range tt.want {
			if !has(got, h) {
				t.Errorf("listenHosts(%q, %s) = %q, lacks %q", tt.addr, tt.ln, got, h)
			}
		}
		for _, h := range tt.not {
			if has(got, h) {
				t.Errorf("listenHosts(%q, %s) = %q, should not hold %q", tt.addr, tt.ln, got, h)
			}
		}
	}
}

// The real binary: starts with a setup link, serves pages, lets other
// commands use the home meanwhile, tells `token authorize` where to go, and
// stops gracefully on SIGTERM.
func TestServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	home := t.TempDir()
	cmd := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0", "--callback-url", "http://127.0.0.1:0/oauth/callback")
	cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+home)
	stdout, _ := cmd.StdoutPipe()
	var logs syncBuffer
	cmd.Stderr = &logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var base, callback, setup string
	deadline := time.After(20 * time.Second)
	for setup == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited early; stderr:\n%s", logs.String())
			}
			switch {
			case strings.HasPrefix(line, "scriptrun console: "):
				base = strings.TrimSuffix(strings.TrimPrefix(line, "scriptrun console: "), "/")
			case strings.HasPrefix(line, "OAuth callback"):
				callback = line[strings.LastIndex(line, " ")+1:]
			case strings.Contains(line, "/setup?token="):
				setup = strings.TrimSpace(line)
			}
		case <-deadline:
			t.Fatalf("serve printed no setup link; stderr:\n%s", logs.String())
		}
	}
	t.Logf("serve ready after %v", time.Since(start).Round(time.Millisecond))
	if !strings.HasPrefix(base, "http://127.0.0.1:") || callback != base+"/oauth/callback" || !strings.HasPrefix(setup, base+"/setup?token=") {
		t.Fatalf("serve printed console %q, callback %q, setup %q", base, callback, setup)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(base + "/tokens"); code != http.StatusSeeOther {
		t.Errorf("GET /tokens without a session: %d", code)
	}
	if code, body := get(setup); code != http.StatusOK || !strings.Contains(body, "Choose the admin password") {
		t.Errorf("GET the setup link: %d", code)
	}

	// Other commands share the home while serve runs.
	if code, out, errs := proc(t, home, "a long admin password\n", "admin", "password"); code != 0 {
		t.Fatalf("admin password while serve runs: exit %d\n%s%s", code, out, errs)
	}
	if code, body := get(setup); code != http.StatusOK || !strings.Contains(body, "already set") {
		t.Errorf("the setup link after `admin password`: %d, want it void", code)
	}
	proc(t, home, "secret-value\n", "provider", "add", "p", "--client-id", "x", "--client-secret-stdin", "--auth-url", "https://login.example.com/a", "--token-url", "https://login.example.com/t")
	if code, out, errs := proc(t, home, "", "token", "add", "api", "--provider", "p", "--base-url", "https://api.example.com"); code != 0 {
		t.Fatalf("token add while serve runs: exit %d\n%s%s", code, out, errs)
	}
	// token authorize cannot take the console's callback port: it says what to do.
	code, _, errs := proc(t, home, "", "token", "authorize", "api", "--no-browser", "--callback-url", callback)
	if code != exitUsage || !strings.Contains(errs, "press \"Get authorization token\" in its console") {
		t.Errorf("token authorize on the console's callback: exit %d, stderr %q", code, errs)
	}

	// SIGTERM: a graceful stop, exit 0.
	stopped := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20 s of SIGTERM")
	}
	var rest []string
	for line := range lines {
		rest = append(rest, line)
	}
	if !strings.Contains(strings.Join(rest, "\n"), "console stopped") {
		t.Errorf("serve's last words %q, want it to say it stopped", rest)
	}
	t.Logf("serve stopped %v after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	for _, want := range []string{"console listening", "shutting down"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("serve's log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "token=") && strings.Contains(logs.String(), strings.TrimPrefix(setup, base+"/setup?token=")) {
		t.Error("the setup token appears in the log")
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns their paths.
func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "scriptrun test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	cert, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, keyFile
}

// With --tls-cert/--tls-key the console speaks HTTPS, and its cookies are
// Secure with the __Host- prefix.
func TestServeTLS(t *testing.T) {
	cert, key := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ln.Addr().String()
	var out, logs syncBuffer
	home := t.TempDir()
	a := &app{stdio: Stdio{In: strings.NewReader(""), Out: &out, Err: &logs}, getenv: func(k string) string {
		if k == "SCRIPTRUN_HOME" {
			return home
		}
		return ""
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- a.serve(ctx, ln, serveConfig{callback: base + "/oauth/callback", certFile: cert, keyFile: key})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.close()
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var resp *http.Response
	for i := 0; ; i++ {
		if resp, err = client.Get(base + "/login"); err == nil {
			break
		}
		if i > 200 {
			t.Fatalf("no HTTPS console: %v\n%s", err, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp.Body.Close()
	if c := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(c, "__Host-scriptrun_form=") || !strings.Contains(c, "; Secure") {
		t.Errorf("cookie over HTTPS: %q, want __Host- and Secure", c)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no Strict-Transport-Security over HTTPS")
	}
	if strings.Contains(logs.String(), "warning") || strings.Contains(out.String(), "warning") {
		t.Errorf("serve warned about an HTTPS loopback setup:\n%s%s", out.String(), logs.String())
	}
}

// DNS rebinding, against the real binary: a raw request that reaches the
// console's address under a foreign name is refused with 421 before any
// page (the setup link included), on the console and on the metrics
// listener, while the names serve is reached under are answered.
func TestServeRefusesForeignHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	home := t.TempDir()
	cmd := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0", "--callback-url", "http://127.0.0.1:0/oauth/callback",
		"--allowed-host", "console.example.com,Proxy.Example.NET:8443", "--metrics-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "SCRIPTRUN_HOME="+home)
	stdout, _ := cmd.StdoutPipe()
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var base, metrics, setup string
	sc := bufio.NewScanner(stdout)
	for setup == "" && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "scriptrun console: "):
			base = strings.TrimSuffix(strings.TrimPrefix(line, "scriptrun console: "), "/")
		case strings.HasPrefix(line, "metrics: "):
			metrics = strings.TrimSuffix(strings.TrimPrefix(line, "metrics: "), "/metrics")
		case strings.Contains(line, "/setup?token="):
			setup = strings.TrimPrefix(strings.TrimSpace(line), base)
		}
	}
	if base == "" || metrics == "" || setup == "" {
		t.Fatalf("serve printed console %q, metrics %q, setup %q; stderr:\n%s", base, metrics, setup, logs.String())
	}
	go io.Copy(io.Discard, stdout)
	consoleAddr, metricsAddr := strings.TrimPrefix(base, "http://"), strings.TrimPrefix(metrics, "http://")
	_, port, _ := net.SplitHostPort(consoleAddr)

	// raw sends one request as written and returns the status line.
	raw := func(addr, request string) string {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, request); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the answer to %q: %v", request, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusMisdirectedRequest && !strings.Contains(string(body), "--allowed-host") {
			t.Errorf("the refusal does not name the fix: %q", body)
		}
		return resp.Status
	}
	get := func(path, host string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	}
	tests := []struct {
		addr, request, want string
	}{
		{consoleAddr, get("/login", "attacker.example"), "421 Misdirected Request"},
		{consoleAddr, get("/login", "127.0.0.1.attacker.example:"+port), "421 Misdirected Request"},
		{consoleAddr, get(setup, "attacker.example:"+port), "421 Misdirected Request"},
		{consoleAddr, get("/oauth/callback?state=s&code=c", "attacker.example"), "421 Misdirected Request"},
		{consoleAddr, get("/static/style.css", "attacker.example"), "421 Misdirected Request"},
		{consoleAddr, "GET /login HTTP/1.0\r\n\r\n", "421 Misdirected Request"}, // no Host at all
		{metricsAddr, get("/metrics", "attacker.example"), "421 Misdirected Request"},

		{consoleAddr, get("/login", consoleAddr), "200 OK"},
		{consoleAddr, get("/login", "localhost:"+port), "200 OK"},
		{consoleAddr, get("/login", "console.example.com"), "200 OK"},
		{consoleAddr, get("/login", "proxy.example.net:8443"), "200 OK"},
		{consoleAddr, get(setup, consoleAddr), "200 OK"},
		{metricsAddr, get("/metrics", metricsAddr), "200 OK"},
	}
	for _, tt := range tests {
		if got := raw(tt.addr, tt.request); got != tt.want {
			t.Errorf("%s: %q answered %q, want %q", tt.addr, tt.request, got, tt.want)
		}
	}
	if !strings.Contains(logs.String(), "DNS rebinding") {
		t.Errorf("serve did not log the refusals:\n%s", logs.String())
	}
}
