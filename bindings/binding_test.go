package bindings_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/scriptrun/scriptrun/bindings"
)

// arrival is one request as a test server received it.
type arrival struct {
	Server  string `json:"server"`
	Method  string `json:"method"`
	Host    string `json:"host"`
	Path    string `json:"path"`
	Query   string `json:"query"`
	Referer string `json:"referer"`
	Auth    string `json:"auth"`
}

// arrivals records what several test servers received.
type arrivals struct {
	mu   sync.Mutex
	list []arrival
}

func (l *arrivals) add(server string, r *http.Request) arrival {
	a := arrival{server, r.Method, r.Host, r.URL.EscapedPath(), r.URL.RawQuery, r.Referer(), r.Header.Get("Authorization")}
	l.mu.Lock()
	l.list = append(l.list, a)
	l.mu.Unlock()
	return a
}

func (l *arrivals) all() []arrival {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]arrival(nil), l.list...)
}

// A signed request goes to its URL's own host. Behind a front that routes
// by Host to two tenants (as shared ingresses and CDNs do), a script that
// sets Host on a signed request, in any letter case and through every API
// that sets headers, gets HOST_MISMATCH and nothing reaches the front; an
// unsigned request may still pick its tenant with Host.
func TestHostRoutingFront(t *testing.T) {
	var seen arrivals
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant := "tenant-a"
		if r.Host == "tenant-b.example" {
			tenant = "tenant-b"
		}
		a := seen.add(tenant, r)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"tenant": tenant, "authorized": a.Auth == secret})
	}))
	defer front.Close()
	own := strings.TrimPrefix(front.URL, "http://")
	signer := &fakeSigner{SignFn: func(_ context.Context, _ string, req *http.Request) error {
		req.Header.Set("Authorization", secret)
		return nil
	}}
	src := `
(async () => {
  const u = FRONT + '/me';
  const refusals = [
    () => http.get(u).header('Host', 'tenant-b.example').apiTokenAuth('t').send(),
    () => http.get(u).apiTokenAuth('t').header('host', 'tenant-b.example').send(),
    () => http.get(u).header({HOST: 'tenant-b.example'}).apiTokenAuth('t').send(),
    () => http.post(u).header('hOsT', ['tenant-b.example']).json({}).apiTokenAuth('t').send(),
    () => http.get(u).header('Host', 'tenant-b.example:' + PORT).apiTokenAuth('t').send(),
    () => http.get(u).header('Host', 'localhost:' + PORT).apiTokenAuth('t').send(),
  ];
  for (const [i, f] of refusals.entries()) {
    const e = assertThrows(f, 'HOST_MISMATCH', ['GET', 'Host header', 'remove the Host header'].slice(i === 3 ? 1 : 0), 'builder ' + i);
    assert(!e.message.includes('s3cr3t'), 'no secret in the message');
  }
  await assertRejects(http.get(u).header('Host', 'tenant-b.example').apiTokenAuth('t').sendAsync(), 'HOST_MISMATCH', 'Host header', 'sendAsync');
  for (const headers of [{Host: 'tenant-b.example'}, {host: 'tenant-b.example'}, [['HoSt', 'tenant-b.example']], new Headers({host: 'tenant-b.example'})]) {
    await assertRejects(fetch(u, {headers, apiTokenAuth: 't'}), 'HOST_MISMATCH', 'Host header', 'fetch ' + JSON.stringify(headers));
  }

  // The URL's own host, in any spelling, is no mismatch; no Host at all is the usual case.
  const who = (o) => [o.tenant, o.authorized];
  assertEq(who(http.get(u).apiTokenAuth('t').send().json()), ['tenant-a', true], 'signed, no Host');
  assertEq(who(http.get(u).header('Host', OWN.toUpperCase()).apiTokenAuth('t').send().json()), ['tenant-a', true], 'signed, own Host');
  assertEq(who(await (await fetch(u, {apiTokenAuth: 't'})).json()), ['tenant-a', true], 'fetch signed');
  // Unsigned requests may choose their virtual host.
  assertEq(who(http.get(u).header('Host', 'tenant-b.example').send().json()), ['tenant-b', false], 'unsigned with Host');
  assertEq(who(await (await fetch(u, {headers: {host: 'tenant-b.example'}})).json()), ['tenant-b', false], 'unsigned fetch with Host');
})();
`
	port := own[strings.LastIndex(own, ":")+1:]
	err := runJS(context.Background(), "host.js", src, bindings.Options{Signer: signer}, map[string]any{"FRONT": front.URL, "OWN": own, "PORT": port})
	if err != nil {
		t.Fatal(err)
	}
	var tenantB int
	for _, a := range seen.all() {
		if a.Server == "tenant-b" {
			tenantB++
			if a.Auth != "" {
				t.Errorf("tenant B received the credential: %+v", a)
			}
		}
	}
	if tenantB != 2 {
		t.Errorf("tenant B got %d requests, want 2 (the unsigned ones)", tenantB)
	}
	if signs, _ := signer.counts(); signs != 3 {
		t.Errorf("the Signer was asked %d times, want 3: refused requests must not reach it", signs)
	}
}

// querySigner signs like an api-key token with a query parameter: it sets
// api_key to the key, replacing any value the script gave. Token "bound" is
// bound to paths under /api/42/ (Permits), token "key" to its origin only.
func querySigner(key string) *fakeSigner {
	return &fakeSigner{
		SignFn: func(_ context.Context, _ string, req *http.Request) error {
			q := req.URL.Query()
			q.Set("api_key", key)
			req.URL.RawQuery = q.Encode()
			return nil
		},
		PermitsFn: func(token string, u *neturl.URL) bool {
			return token != "bound" || strings.HasPrefix(u.Path, "/api/42/")
		},
	}
}

// twoOrigins starts two echo servers. Each records what it received and
// answers it as JSON; /redirect?status=N&to=URL answers N with Location URL,
// /dir answers 301 to /dir/ keeping the query (as servers do to add a
// trailing slash), /loop redirects to itself keeping the query, /badloc
// echoes the query into a Location net/http cannot parse, /nofollow answers
// 300 with a Location keeping the query.
func twoOrigins(t *testing.T) (a, b *httptest.Server, seen *arrivals) {
	seen = &arrivals{}
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got := seen.add(name, r)
			switch r.URL.Path {
			case "/redirect", "/api/42/redirect":
				code, _ := strconv.Atoi(r.URL.Query().Get("status"))
				w.Header().Set("Location", r.URL.Query().Get("to"))
				w.WriteHeader(code)
				return
			case "/dir":
				http.Redirect(w, r, "/dir/?"+r.URL.RawQuery, http.StatusMovedPermanently)
				return
			case "/loop":
				http.Redirect(w, r, "/loop?"+r.URL.RawQuery, http.StatusFound)
				return
			case "/badloc":
				w.Header().Set("Location", "http://[::1%zz/?"+r.URL.RawQuery)
				w.WriteHeader(http.StatusFound)
				return
			case "/nofollow":
				w.Header().Set("Location", "/elsewhere?"+r.URL.RawQuery)
				w.WriteHeader(http.StatusMultipleChoices)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(got)
		})
	}
	a, b = httptest.NewServer(handler("a")), httptest.NewServer(handler("b"))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	return a, b, seen
}

// A query-parameter key never leaves its origin in a Referer or a URL, on
// any redirect status, cross-origin or same-origin; a redirect leaving a
// path-bound token's path drops the credential like one leaving its
// origin; and every URL shown to the script (res.url, r.url, Location,
// messages, JSON.stringify of responses) has the key masked.
func TestQueryKeyRedirects(t *testing.T) {
	const key = "qk-S3CRET-query-key-0042"
	a, b, seen := twoOrigins(t)
	src := `
(async () => {
  const send = {
    send: (u, tok) => http.get(u).apiTokenAuth(tok || 'key').send(),
    sendAsync: (u, tok) => http.get(u).apiTokenAuth(tok || 'key').sendAsync(),
    fetch: async (u, tok) => { const r = await fetch(u, {apiTokenAuth: tok || 'key'}); return {url: r.url, status: r.status, json: await r.json(), r}; },
  };
  const shown = [];
  // What a script prints of a response, except the body: the echo server puts the request's query there.
  const view = (res) => { const o = res.r || res; return JSON.stringify(Object.keys(o).filter((k) => k !== 'body').map((k) => [k, o[k]])); };
  const body = async (res) => (typeof res.json === 'function' ? res.json() : res.json);
  for (const [how, f] of Object.entries(send)) {
    for (const status of [301, 302, 303, 307, 308]) {
      for (const [where, to] of [['cross', B + '/echo?x=1'], ['same', A + '/echo?x=1']]) {
        const res = await f(A + '/redirect?status=' + status + '&to=' + encodeURIComponent(to));
        const got = await body(res);
        assertEq([got.server, got.path, got.referer, got.query], [where === 'cross' ? 'b' : 'a', '/echo', '', 'x=1'], how + ' ' + status + ' ' + where);
        assertEq(res.url, to, how + ' ' + status + ' ' + where + ': res.url is the final URL');
        shown.push(res.url, view(res));
      }
    }
    // A trailing-slash redirect keeps the query, key included: the script sees it masked.
    const res = await f(A + '/dir?page=2');
    const got = await body(res);
    assertEq([got.path, got.referer], ['/dir/', ''], how + ' trailing slash');
    assert(got.query.includes('api_key=' + KEY_ESCAPED), how + ': the key stays on a same-origin redirect that keeps it');
    assertEq(res.url, A + '/dir/?api_key=REDACTED&page=2', how + ': res.url masks the key');
    shown.push(res.url, view(res));

    // A server that echoes the key under another name: scrubbed from the URL shown.
    const renamed = await f(A + '/redirect?status=302&to=' + encodeURIComponent(A + '/echo?other=' + KEY_ESCAPED));
    assertEq(res.url.includes(KEY_ESCAPED) || renamed.url !== A + '/echo?other=REDACTED', false, how + ': a key echoed under another name is scrubbed');
    shown.push(renamed.url, view(renamed));

    // A token bound to /api/42/: a same-origin redirect out of it drops the key.
    const inside = await body(await f(A + '/api/42/redirect?status=302&to=' + encodeURIComponent(A + '/api/42/echo'), 'bound'));
    assertEq([inside.path, inside.query, inside.referer], ['/api/42/echo', '', ''], how + ': redirect inside the path');
    const outside = await f(A + '/api/42/redirect?status=302&to=' + encodeURIComponent(A + '/api/43/echo?api_key=' + KEY_ESCAPED + '&y=1'), 'bound');
    assertEq([(await body(outside)).path, (await body(outside)).query], ['/api/43/echo', 'y=1'], how + ': redirect out of the path drops the key');
    shown.push(outside.url);
  }
  // A 300 is not followed: its Location echoes the query, masked.
  const nf = http.get(A + '/nofollow').apiTokenAuth('key').send();
  assertEq(nf.headers.location, '/elsewhere?api_key=REDACTED', 'Location masked');
  assertEq((await fetch(A + '/nofollow', {apiTokenAuth: 'key'})).headers.get('location'), '/elsewhere?api_key=REDACTED', 'fetch Location masked');
  // Failures that carry a server's Location.
  for (const path of ['/badloc', '/loop']) {
    try { http.get(A + path).apiTokenAuth('key').send(); throw new Error('no error for ' + path); } catch (e) { shown.push(e.message, e.stack, String(e.code)); }
    try { await fetch(A + path, {apiTokenAuth: 'key'}); throw new Error('no error for fetch ' + path); } catch (e) { shown.push(e.message, e.stack, String(e.code)); }
  }
  report(shown.join('\n'));
})();
`
	var shown string
	globals := map[string]any{"A": a.URL, "B": b.URL, "KEY_ESCAPED": neturl.QueryEscape(key), "report": func(s string) { shown = s }}
	if err := runJS(context.Background(), "query.js", src, bindings.Options{Signer: querySigner(key)}, globals); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(shown, "REDACTED") || !strings.Contains(shown, "NETWORK") {
		t.Fatalf("the script saw too little to prove anything:\n%s", shown)
	}
	if strings.Contains(shown, key) {
		t.Errorf("the key is visible to the script:\n%s", shown)
	}
	for _, got := range seen.all() {
		if strings.Contains(got.Referer, key) || strings.Contains(got.Referer, neturl.QueryEscape(key)) {
			t.Errorf("%s received the key in Referer: %+v", got.Server, got)
		}
		if got.Server == "b" && strings.Contains(got.Query, "api_key") {
			t.Errorf("the other origin received the key: %+v", got)
		}
		if strings.HasPrefix(got.Path, "/api/43") && strings.Contains(got.Query, "api_key") {
			t.Errorf("a path outside the binding received the key: %+v", got)
		}
	}
}

// Over TLS, a signed request names its URL's host both in the handshake
// (SNI) and in Host, so a front that picks a tenant by either gets the
// token's own host.
func TestSignedTLSServerName(t *testing.T) {
	var mu sync.Mutex
	var names []string
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		names = append(names, r.TLS.ServerName+" "+r.Host)
		mu.Unlock()
	}))
	front.StartTLS()
	defer front.Close()
	// The test certificate names example.com: dial the server for it.
	client := front.Client()
	tr := client.Transport.(*http.Transport).Clone()
	addr := front.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	client.Transport = tr
	port := addr[strings.LastIndex(addr, ":")+1:]
	src := `
(async () => {
  const u = 'https://example.com:' + PORT + '/me';
  assertEq(http.get(u).apiTokenAuth('t').send().status, 200, 'signed');
  assertEq((await fetch(u, {apiTokenAuth: 't'})).status, 200, 'fetch signed');
  assertThrows(() => http.get(u).header('Host', 'tenant-b.example').apiTokenAuth('t').send(), 'HOST_MISMATCH', 'Host header', 'signed with Host');
})();
`
	if err := runJS(context.Background(), "tls.js", src, bindings.Options{Signer: bearerSigner(), Client: client}, map[string]any{"PORT": port}); err != nil {
		t.Fatal(err)
	}
	want := "example.com example.com:" + port
	mu.Lock()
	defer mu.Unlock()
	if len(names) != 2 || names[0] != want || names[1] != want {
		t.Errorf("the front saw (server name, Host) %q, want %q twice", names, want)
	}
}

// Builders of one URL text share its parsed form, so what a Signer adds to
// one request's URL must stay there: each request carries the key once,
// and neither the builder's url nor res.url ever shows it.
func TestQueryKeyOncePerRequest(t *testing.T) {
	const key = "qk-once-per-request"
	a, _, seen := twoOrigins(t)
	src := `
(async () => {
  const u = A + '/api/42/items?page=1';
  const b = http.get(u).apiTokenAuth('key');
  const shown = [b.url];
  for (let i = 0; i < 3; i++) {
    shown.push(http.get(u).apiTokenAuth('key').send().url);
    shown.push((await http.get(u).apiTokenAuth('key').sendAsync()).url);
    shown.push((await fetch(u, {apiTokenAuth: 'key'})).url);
  }
  shown.push(b.send().url, http.get(u).url);
  report(shown.join('\n'));
})();
`
	var shown string
	globals := map[string]any{"A": a.URL, "report": func(s string) { shown = s }}
	if err := runJS(context.Background(), "once.js", src, bindings.Options{Signer: querySigner(key)}, globals); err != nil {
		t.Fatal(err)
	}
	for _, u := range strings.Split(shown, "\n") {
		if u != a.URL+"/api/42/items?page=1" && u != a.URL+"/api/42/items?api_key=REDACTED&page=1" {
			t.Errorf("the script saw the URL %q", u)
		}
	}
	arrived := seen.all()
	if len(arrived) != 10 {
		t.Fatalf("%d requests arrived, want 10", len(arrived))
	}
	for _, got := range arrived {
		if got.Query != "api_key="+key+"&page=1" {
			t.Errorf("a request arrived with the query %q, want the key once", got.Query)
		}
	}
}
