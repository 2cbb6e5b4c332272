package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// proxiedHost is the host test URLs use to reach loopback servers through
// a proxy. Go (and curl) never proxy "localhost" or a loopback IP, and a
// name such as "localhost." resolves through /etc/hosts on some machines
// and not others (glibc's files backend does not match the trailing dot).
// 0.0.0.0 is neither loopback to Go nor a name to resolve, and on Linux a
// connection to it reaches the local host, where the servers listen on
// 127.0.0.1: so requests go through the proxy, and from there to the test
// server, on any machine.
const proxiedHost = "0.0.0.0"

// A table of the environments proxyFunc reads: which proxy, if any, each
// URL goes through.
func TestProxyFunc(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		url     string
		want    string // proxy URL, "" for direct
		wantErr string
	}{
		{"nothing set", nil, "https://api.example.com/", "", ""},
		{"https", map[string]string{"HTTPS_PROXY": "http://proxy.corp:3128"}, "https://api.example.com/", "http://proxy.corp:3128", ""},
		{"https proxy not used for http", map[string]string{"HTTPS_PROXY": "http://proxy.corp:3128"}, "http://api.example.com/", "", ""},
		{"http", map[string]string{"HTTP_PROXY": "proxy.corp:8080"}, "http://api.example.com/", "http://proxy.corp:8080", ""},
		{"lower case", map[string]string{"https_proxy": "http://low:1"}, "https://api.example.com/", "http://low:1", ""},
		{"upper case first", map[string]string{"HTTPS_PROXY": "http://up:1", "https_proxy": "http://low:1"}, "https://api.example.com/", "http://up:1", ""},
		{"NO_PROXY domain", map[string]string{"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".example.com"}, "https://api.example.com/", "", ""},
		{"no_proxy lower case", map[string]string{"HTTPS_PROXY": "http://p:1", "no_proxy": "api.example.com"}, "https://api.example.com/", "", ""},
		{"NO_PROXY other host", map[string]string{"HTTPS_PROXY": "http://p:1", "NO_PROXY": "internal.corp"}, "https://api.example.com/", "http://p:1", ""},
		{"NO_PROXY *", map[string]string{"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://api.example.com/", "", ""},
		{"NO_PROXY CIDR", map[string]string{"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3/", "", ""},
		{"loopback never proxied", map[string]string{"HTTPS_PROXY": "http://p:1", "HTTP_PROXY": "http://p:1"}, "http://127.0.0.1:8080/", "", ""},
		{"localhost never proxied", map[string]string{"HTTP_PROXY": "http://p:1"}, "http://localhost:8080/", "", ""},
		{"0.0.0.0 is proxied (the tests' host)", map[string]string{"HTTP_PROXY": "http://p:1"}, "http://0.0.0.0:8080/", "http://p:1", ""},
		{"CGI ignores HTTP_PROXY", map[string]string{"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}, "http://api.example.com/", "", ""},
		{"bad value, password kept out of the message", map[string]string{"HTTPS_PROXY": "http://user:pa55word@[::1"}, "https://api.example.com/", "", "HTTPS_PROXY (or its lower-case twin) is not a proxy URL"},
		{"unknown proxy scheme", map[string]string{"HTTPS_PROXY": "ftp://user:pa55word@p:21"}, "https://api.example.com/", "", `names a "ftp" proxy`},
		{"bad value unused under NO_PROXY", map[string]string{"HTTPS_PROXY": "ftp://p:21", "NO_PROXY": "api.example.com"}, "https://api.example.com/", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := proxyFunc(func(k string) string { return tt.env[k] })
			req, _ := http.NewRequest("GET", tt.url, nil)
			got, err := proxy(req)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "pa55word") {
					t.Errorf("the message shows the proxy's password: %v", err)
				}
			case err != nil:
				t.Fatalf("error %v", err)
			case tt.want == "" && got != nil:
				t.Errorf("%s goes through %s, want direct", tt.url, got)
			case tt.want != "" && (got == nil || got.String() != tt.want):
				t.Errorf("%s goes through %v, want %s", tt.url, got, tt.want)
			}
		})
	}
}

// Every client the app builds shares the transport whose proxy is
// proxyFunc's: the token manager's, the scripts', doctor's.
func TestAppClientsUseTheProxy(t *testing.T) {
	a := &app{getenv: func(k string) string {
		return map[string]string{"HTTPS_PROXY": "http://proxy.corp:3128"}[k]
	}}
	req, _ := http.NewRequest("GET", "https://api.example.com/", nil)
	for name, tr := range map[string]http.RoundTripper{"transport": a.transport(), "scriptClient": a.scriptClient().Transport} {
		u, err := tr.(*http.Transport).Proxy(req)
		if err != nil || u == nil || u.Host != "proxy.corp:3128" {
			t.Errorf("%s: proxy %v, %v; want proxy.corp:3128", name, u, err)
		}
	}
}

// tinyproxy is a real HTTP proxy process (Debian's tinyproxy) for the test.
type tinyproxy struct {
	url     string // http://127.0.0.1:PORT
	logFile string
}

// log returns what tinyproxy has logged so far.
func (p *tinyproxy) log(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startTinyproxy runs tinyproxy in the foreground on a free loopback port,
// allowing CONNECT to connectPorts, until the test ends. Without tinyproxy
// the test is skipped, or fails when SCRIPTRUN_REQUIRE_TINYPROXY is set (CI
// installs it).
func startTinyproxy(t *testing.T, connectPorts ...int) *tinyproxy {
	t.Helper()
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		if os.Getenv("SCRIPTRUN_REQUIRE_TINYPROXY") != "" {
			t.Fatalf("tinyproxy is required (SCRIPTRUN_REQUIRE_TINYPROXY is set) but not on PATH: %v", err)
		}
		t.Skip("tinyproxy is not installed (apt-get install tinyproxy-bin); skipping the test through a real proxy")
	}
	dir := t.TempDir()
	port := freePort(t)
	p := &tinyproxy{url: "http://127.0.0.1:" + strconv.Itoa(port), logFile: filepath.Join(dir, "tinyproxy.log")}
	conf := fmt.Sprintf("Port %d\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nAllow 127.0.0.1\nLogFile %q\nLogLevel Info\nDisableViaHeader Yes\n", port, p.logFile)
	for _, cp := range connectPorts {
		conf += fmt.Sprintf("ConnectPort %d\n", cp)
	}
	confFile := filepath.Join(dir, "tinyproxy.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", confFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return p
		}
		select {
		case <-exited:
			t.Fatalf("tinyproxy exited: %s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("tinyproxy did not listen on port %d within 10 s: %s", port, out.String())
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serverPort is the port of an httptest server.
func serverPort(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return port
}

// proxied rewrites a test server's URL to reach it through proxiedHost.
func proxied(t *testing.T, srv *httptest.Server) string {
	return "http" + map[bool]string{true: "s"}[srv.TLS != nil] + "://" + proxiedHost + ":" + strconv.Itoa(serverPort(t, srv))
}

// A script's signed request to a plain-http API goes through HTTP_PROXY:
// tinyproxy logs it and the API gets the credential. (Over plain http the
// proxy necessarily sees the request, credential and all.)
func TestScriptRequestThroughProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		fmt.Fprint(w, "hello")
	}))
	defer api.Close()
	proxy := startTinyproxy(t)
	c := newCLI(t)
	c.stdin = "plain-bearer-7777\n"
	c.must("token", "add", "api", "--type", "bearer", "--token-stdin")
	c.env["HTTP_PROXY"] = proxy.url
	target := proxied(t, api) + "/me"
	file := writeScript(t, t.TempDir(), "p.js", `const r = http.get(args[0]).apiTokenAuth('api').send(); console.log(r.status, r.body)`)
	if out := c.must(file, target); out != "200 hello\n" {
		t.Fatalf("the script printed %q, want 200 hello", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "Bearer plain-bearer-7777" {
		t.Errorf("the API saw Authorization %q, want the bearer once", seen)
	}
	if plog := proxy.log(t); !strings.Contains(plog, "GET "+target+" HTTP/1.1") {
		t.Errorf("tinyproxy's log does not show the request to %s:\n%s", target, plog)
	}
}

// tlsServer is an httptest TLS server whose certificate names proxiedHost
// (and 127.0.0.1), with that certificate written as a PEM file a process
// can trust through SSL_CERT_FILE.
func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "scriptrun proxy test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP(proxiedHost), net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	// TestEveryClientUsesTheProxy's handshakes fail on purpose: keep them
	// out of the test output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, certFile
}

// oauthAPI is a token endpoint (refresh_token grant) and an API on one TLS
// server; it records the refresh tokens presented and the credentials the
// API saw.
type oauthAPI struct {
	mu        sync.Mutex
	refreshes []string
	bearers   []string
}

func (o *oauthAPI) handler(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch r.URL.Path {
	case "/token":
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") != "refresh_token" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
			return
		}
		o.refreshes = append(o.refreshes, r.PostForm.Get("refresh_token"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"proxied-access-%d","refresh_token":"proxied-refresh-%d","token_type":"Bearer","expires_in":3600}`, len(o.refreshes), len(o.refreshes))
	case "/api":
		o.bearers = append(o.bearers, r.Header.Get("Authorization"))
		fmt.Fprint(w, "hello")
	default:
		http.NotFound(w, r)
	}
}

func (o *oauthAPI) seen() (refreshes, bearers []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.refreshes...), append([]string(nil), o.bearers...)
}

// The real binary, with HTTPS_PROXY set, refreshes an expired token and
// sends the script's signed request through tinyproxy, both to a TLS
// server: tinyproxy only tunnels them (CONNECT) and never sees a token or
// a path. With NO_PROXY naming the host, nothing goes through the proxy.
func TestBinaryThroughProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	o := &oauthAPI{}
	srv, certFile := tlsServer(t, http.HandlerFunc(o.handler))
	proxy := startTinyproxy(t, serverPort(t, srv))
	base := proxied(t, srv)
	home := t.TempDir()
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"client-secret-4242\n", []string{"provider", "add", "corp", "--client-id", "app", "--client-secret-stdin", "--auth-url", base + "/authorize", "--token-url", base + "/token", "--auth-style", "body"}},
		{"", []string{"token", "add", "api", "--provider", "corp", "--base-url", base}},
	} {
		if code, out, errs := proc(t, home, c.stdin, c.args...); code != 0 {
			t.Fatalf("scriptrun %v: exit %d\n%s%s", c.args, code, out, errs)
		}
	}
	seedExpiredToken(t, home, "api", "stale-access-1111", "first-refresh-2222")
	script := writeScript(t, t.TempDir(), "p.js", `const r = http.get(args[0] + '/api').apiTokenAuth('api').send(); console.log(r.status, r.body)`)
	env := map[string]string{"HTTPS_PROXY": proxy.url, "NO_PROXY": "", "SSL_CERT_FILE": certFile}

	if code, out, errs := procEnv(t, home, env, "run", script, base); code != 0 || out != "200 hello\n" {
		t.Fatalf("through the proxy: exit %d, stdout %q\n%s", code, out, errs)
	}
	refreshes, bearers := o.seen()
	if len(refreshes) != 1 || refreshes[0] != "first-refresh-2222" || len(bearers) != 1 || bearers[0] != "Bearer proxied-access-1" {
		t.Fatalf("the token endpoint saw refresh tokens %q and the API bearers %q; want one refresh, then the new access token", refreshes, bearers)
	}
	plog := proxy.log(t)
	connect := "CONNECT " + strings.TrimPrefix(base, "https://") + " HTTP/1.1"
	if n := strings.Count(plog, connect); n < 1 {
		t.Errorf("tinyproxy's log has no %q:\n%s", connect, plog)
	}
	for _, secret := range []string{"first-refresh-2222", "proxied-access-1", "proxied-refresh-1", "stale-access-1111", "client-secret-4242", "/token", "/api"} {
		if strings.Contains(plog, secret) {
			t.Errorf("tinyproxy saw %q; a tunnel shows only host and port:\n%s", secret, plog)
		}
	}

	// NO_PROXY: straight to the server; tinyproxy logs nothing new.
	before := strings.Count(plog, "CONNECT ")
	env["NO_PROXY"] = proxiedHost
	if code, out, errs := procEnv(t, home, env, "run", script, base); code != 0 || out != "200 hello\n" {
		t.Fatalf("with NO_PROXY: exit %d, stdout %q\n%s", code, out, errs)
	}
	if after := strings.Count(proxy.log(t), "CONNECT "); after != before {
		t.Errorf("with NO_PROXY=%s tinyproxy saw %d more CONNECTs, want none", proxiedHost, after-before)
	}
	if _, bearers := o.seen(); len(bearers) != 2 {
		t.Errorf("the API saw %d requests, want 2", len(bearers))
	}
}

// seedExpiredToken gives an oauth2 token an access token that has expired
// and a refresh token, as if it had been authorized an hour ago.
func seedExpiredToken(t *testing.T, home, name, access, refresh string) {
	t.Helper()
	db := openHome(t, home)
	err := db.Update(func(tx *store.Tx) error {
		tok, err := tx.Token(name)
		if err != nil {
			return err
		}
		tok.State = store.StateAuthorized
		tok.Secret = store.Secret{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer"}
		tok.Expires = time.Now().Add(-time.Minute)
		return tx.PutToken(tok)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// procEnv runs the binary with a home and env on top of this process's
// environment, minus any proxy settings of its own.
func procEnv(t *testing.T, home string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUEST_METHOD":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "SCRIPTRUN_HOME="+home)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, strings.NewReader("")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

// Each way out of the app, run in-process with the proxy named only by the
// app's own getenv, opens its tunnel through tinyproxy: the token refresh
// (shared by code exchange and client credentials), revocation, doctor's
// endpoint checks and a script's request. The TLS server's certificate is
// not trusted in this process, so each call fails after the tunnel: what
// is checked is only that the tunnel went through the proxy. With NO_PROXY
// naming the host, none does. (TestBinaryThroughProxy completes the calls.)
func TestEveryClientUsesTheProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "") // only the app's getenv may name the proxy
	t.Setenv("https_proxy", "")
	srv, _ := tlsServer(t, http.HandlerFunc((&oauthAPI{}).handler))
	proxy := startTinyproxy(t, serverPort(t, srv))
	base := proxied(t, srv)
	connect := "CONNECT " + strings.TrimPrefix(base, "https://") + " HTTP/1.1"
	c := newCLI(t)
	c.stdin = "client-secret-4242\n"
	c.must("provider", "add", "corp", "--client-id", "app", "--client-secret-stdin", "--auth-url", base+"/authorize",
		"--token-url", base+"/token", "--revocation-url", base+"/revoke", "--auth-style", "body")
	c.must("token", "add", "api", "--provider", "corp", "--base-url", base)
	script := writeScript(t, t.TempDir(), "p.js", `try { http.get(args[0] + '/api').apiTokenAuth(args[1]).send() } catch (e) { console.log(e.code) }`)
	c.stdin = "static-bearer-5555\n"
	c.must("token", "add", "static", "--type", "bearer", "--token-stdin", "--base-url", base)
	steps := []struct {
		name string
		args []string
	}{
		{"token refresh", []string{script, base, "api"}},
		{"script request", []string{script, base, "static"}},
		{"revocation", []string{"token", "revoke", "api"}},
		{"doctor", []string{"doctor"}},
	}
	for _, noProxy := range []bool{false, true} {
		if noProxy {
			c.env["NO_PROXY"] = proxiedHost
		}
		for _, st := range steps {
			seedExpiredToken(t, c.home, "api", "stale-access-1111", "first-refresh-2222")
			c.env["HTTPS_PROXY"] = proxy.url
			before := strings.Count(proxy.log(t), connect)
			c.run(st.args...)
			tunnels := strings.Count(proxy.log(t), connect) - before
			if noProxy && tunnels != 0 || !noProxy && tunnels == 0 {
				t.Errorf("%s (NO_PROXY set: %v) opened %d tunnels through the proxy", st.name, noProxy, tunnels)
			}
		}
	}
}

// TestScriptClientConnections sends 300 requests at once to one host
// through the scripts' client: it opens at most scriptConnsPerHost
// connections, and a second burst reuses them instead of dialling again.
func TestScriptClientConnections(t *testing.T) {
	var opened atomic.Int32
	release := make(chan struct{})
	var arrived atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == scriptConnsPerHost {
			close(release) // every connection is busy: let them all answer
		}
		<-release
		fmt.Fprint(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	a := &app{getenv: func(string) string { return "" }}
	client := a.scriptClient()
	burst := func() {
		var wg sync.WaitGroup
		errs := make(chan error, 300)
		for range 300 {
			wg.Go(func() {
				resp, err := client.Get(srv.URL)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	burst()
	if n := opened.Load(); n != scriptConnsPerHost {
		t.Errorf("300 requests in flight opened %d connections, want %d", n, scriptConnsPerHost)
	}
	burst()
	if n := opened.Load(); n != scriptConnsPerHost {
		t.Errorf("after a second burst, %d connections in all, want the first %d reused", n, scriptConnsPerHost)
	}
}
