package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/net/http/httpproxy"
)

// httpClients are one app's ways out: every HTTP request scriptrun makes
// (token endpoints, revocation, doctor's checks, scripts) goes through
// transport, so all of them honour the same proxy settings.
type httpClients struct {
	once      sync.Once
	transport *http.Transport
	scripts   *http.Client
}

// transport is net/http's default transport with the proxy the environment
// names (proxyFunc), made once per app.
func (a *app) transport() *http.Transport {
	a.clients.once.Do(func() {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = proxyFunc(a.getenv)
		a.clients.transport = tr
		a.clients.scripts = &http.Client{Transport: scriptTransport(tr)}
	})
	return a.clients.transport
}

// Connections of the scripts' transport. A script keeps many requests in
// flight (sendAsync, fetch with Promise.all): the default idle pool (2
// connections per host) would open and close connections all the time.
// Each host gets at most scriptConnsPerHost connections, and every one of
// them may stay idle for the next request, so none is closed only to be
// dialled again. Requests beyond that wait for a connection in the
// transport: with 1,000 in flight this holds peak RSS to ~63 MiB instead
// of ~100 MiB (one connection, its two goroutines and buffers per
// request) at the same calls per second on loopback (bench/notes.md).
const (
	scriptConnsPerHost = 64
	scriptIdleConns    = 256 // all hosts together
)

// scriptTransport is tr sized for scripts (scriptConnsPerHost).
func scriptTransport(tr *http.Transport) *http.Transport {
	st := tr.Clone()
	st.MaxConnsPerHost = scriptConnsPerHost
	st.MaxIdleConnsPerHost = scriptConnsPerHost
	st.MaxIdleConns = scriptIdleConns
	return st
}

// scriptClient is the HTTP client scripts send through, shared by the runs
// of one process.
func (a *app) scriptClient() *http.Client {
	a.transport()
	return a.clients.scripts
}

// proxyEnv names the variables proxyFunc reads, upper case first, as Go and
// curl do.
var proxyEnv = []struct{ upper, lower string }{
	{"HTTPS_PROXY", "https_proxy"},
	{"HTTP_PROXY", "http_proxy"},
	{"NO_PROXY", "no_proxy"},
}

// proxyFunc chooses the proxy of each request from HTTPS_PROXY (https
// URLs), HTTP_PROXY (http URLs) and NO_PROXY (hosts, domains, CIDRs or *
// that go direct), read once through getenv. As in Go and curl, requests to
// localhost and loopback addresses never go through a proxy; HTTP_PROXY is
// ignored when REQUEST_METHOD is set (a CGI program, where a client's Proxy
// header would arrive as HTTP_PROXY). An https URL goes through a CONNECT
// tunnel: the proxy sees its host and port, never its headers or body.
// A variable that is not a proxy URL fails every request that would use it,
// saying which variable to fix.
func proxyFunc(getenv func(string) string) func(*http.Request) (*url.URL, error) {
	val := make([]string, len(proxyEnv))
	for i, e := range proxyEnv {
		if val[i] = getenv(e.upper); val[i] == "" {
			val[i] = getenv(e.lower)
		}
	}
	if getenv("REQUEST_METHOD") != "" {
		val[1] = ""
	}
	cfg := httpproxy.Config{HTTPSProxy: val[0], HTTPProxy: val[1], NoProxy: val[2]}
	choose := cfg.ProxyFunc()
	// httpproxy ignores a value it cannot parse, and the request would go
	// direct: refuse instead every request that would use that variable.
	// probe answers "would this URL use it?" with a stand-in proxy.
	bad := map[string]error{}
	probeCfg := httpproxy.Config{NoProxy: val[2]}
	for i, scheme := range []string{"https", "http"} {
		if err := checkProxyURL(proxyEnv[i].upper, val[i]); err != nil {
			bad[scheme] = err
		}
	}
	if bad["https"] != nil {
		probeCfg.HTTPSProxy = "http://stand-in.invalid"
	}
	if bad["http"] != nil {
		probeCfg.HTTPProxy = "http://stand-in.invalid"
	}
	probe := probeCfg.ProxyFunc()
	return func(req *http.Request) (*url.URL, error) {
		if e := bad[req.URL.Scheme]; e != nil {
			if u, _ := probe(req.URL); u != nil {
				return nil, e
			}
		}
		return choose(req.URL)
	}
}

// checkProxyURL says what is wrong with a proxy variable's value, without
// repeating it: it may carry the proxy's password.
func checkProxyURL(name, v string) error {
	if v == "" {
		return nil
	}
	if !strings.Contains(v, "://") {
		v = "http://" + v // "host:port" means http://host:port, as in httpproxy
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s (or its lower-case twin) is not a proxy URL; set it like http://proxy.example.com:3128, or unset it", name)
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
		return nil
	}
	return fmt.Errorf("%s (or its lower-case twin) names a %q proxy; scriptrun speaks to http, https and socks5 proxies (set it like http://proxy.example.com:3128)", name, u.Scheme)
}
