package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/hmacsig"
	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/tokens"
)

// The credentials the CLI tests store; no output may contain one.
var cliSecrets = map[string]string{
	"BASIC_PASSWORD": "basic-PASSWORD-0123-s3cret",
	"API_KEY":        "api-KEY-4567-s3cret",
	"BEARER":         "bearer-TOKEN-89ab-s3cret",
	"HMAC_TOKEN":     "hmac-API-token-cdef",
	"HMAC_SECRET":    "hmac-API-SECRET-0f0f-s3cret",
}

// noSecrets fails if any stored credential appears in what.
func noSecrets(t *testing.T, where, what string) {
	t.Helper()
	for name, s := range cliSecrets {
		if strings.Contains(what, s) {
			t.Errorf("%s contains %s:\n%s", where, name, what)
		}
	}
}

// apiReceiver is the API scripts call: it records every request and
// verifies hmac-body signatures the way a receiving server would.
type apiReceiver struct {
	*httptest.Server
	verifier *hmacsig.Verifier
	mu       sync.Mutex
	got      []received
}

type received struct {
	method, target, body string
	header               http.Header
	hmacErr              error
}

func newAPIReceiver(t *testing.T) *apiReceiver {
	rv := &apiReceiver{verifier: &hmacsig.Verifier{
		Secret: func(tok string) (string, bool) { return cliSecrets["HMAC_SECRET"], tok == cliSecrets["HMAC_TOKEN"] },
		Nonce:  (&hmacsig.NonceCache{}).Check,
	}}
	rv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := received{method: r.Method, target: r.RequestURI, header: r.Header.Clone()}
		if strings.HasPrefix(r.Header.Get("Authorization"), "HMAC-") {
			_, rec.hmacErr = rv.verifier.Verify(r)
		}
		b, _ := io.ReadAll(r.Body)
		rec.body = string(b)
		rv.mu.Lock()
		rv.got = append(rv.got, rec)
		rv.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(rv.Close)
	return rv
}

func (rv *apiReceiver) requests() []received {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]received(nil), rv.got...)
}

// addStaticTokens creates one token of each static type, bound to base,
// with credentials from the environment and standard input.
func addStaticTokens(c *cli, base string) {
	c.t.Helper()
	for k, v := range cliSecrets {
		c.env[k] = v
	}
	c.must("token", "add", "basic", "--type", "basic", "--username", "svc-user", "--password-env", "BASIC_PASSWORD", "--base-url", base)
	c.must("token", "add", "key-header", "--type", "api-key", "--header", "X-API-Key", "--prefix", "Key ", "--key-env", "API_KEY", "--base-url", base)
	c.stdin = cliSecrets["API_KEY"] + "\n"
	c.must("token", "add", "key-query", "--type", "api-key", "--query", "api_key", "--key-stdin", "--base-url", base)
	c.stdin = cliSecrets["BEARER"] + "\r\n"
	c.must("token", "add", "bearer", "--type", "bearer", "--token-stdin", "--expires", "2099-01-01T00:00:00Z", "--base-url", base)
	c.must("token", "add", "hmac", "--type", "hmac-body", "--api-token-env", "HMAC_TOKEN", "--api-secret-env", "HMAC_SECRET", "--base-url", base)
	c.stdin = cliSecrets["HMAC_SECRET"] + "\n"
	c.must("token", "add", "hmac512", "--type", "hmac-body", "--api-token-env", "HMAC_TOKEN", "--api-secret-stdin", "--algorithm", "sha512", "--base-url", base)
}

// checkReceived checks that the API got the credential of the named token,
// exactly as documented.
func checkReceived(t *testing.T, name string, r received) {
	t.Helper()
	switch name {
	case "basic":
		req := &http.Request{Header: r.header}
		if u, p, ok := req.BasicAuth(); !ok || u != "svc-user" || p != cliSecrets["BASIC_PASSWORD"] {
			t.Errorf("basic: the API got user %q (ok %v) and the password %v", u, ok, p == cliSecrets["BASIC_PASSWORD"])
		}
	case "key-header":
		if r.header.Get("X-Api-Key") != "Key "+cliSecrets["API_KEY"] || r.header.Get("Authorization") != "" {
			t.Error("key-header: the API did not get X-API-Key: Key <key> (and nothing else)")
		}
	case "key-query":
		if !strings.HasSuffix(r.target, "api_key="+cliSecrets["API_KEY"]) || strings.Count(r.target, "api_key=") != 1 {
			t.Errorf("key-query: request target %q does not end with the key parameter", strings.ReplaceAll(r.target, cliSecrets["API_KEY"], "KEY"))
		}
	case "bearer":
		if r.header.Get("Authorization") != "Bearer "+cliSecrets["BEARER"] {
			t.Error("bearer: the API did not get Authorization: Bearer <token>")
		}
	case "hmac", "hmac512":
		scheme := "HMAC-SHA256 "
		if name == "hmac512" {
			scheme = "HMAC-SHA512 "
		}
		if r.hmacErr != nil || !strings.HasPrefix(r.header.Get("Authorization"), scheme) {
			t.Errorf("%s: the receiving server could not verify the request: %v (%s)", name, r.hmacErr, r.header.Get("Authorization"))
		}
		if strings.Contains(r.header.Get("Authorization"), cliSecrets["HMAC_SECRET"]) {
			t.Errorf("%s: the API secret travelled", name)
		}
	}
}

var staticNames = []string{"basic", "key-header", "key-query", "bearer", "hmac", "hmac512"}

// A script signs with each type through the real CLI (`scriptrun run`, in
// process): the API gets exactly the documented credential, a request to
// another host is refused, and nothing the script or the CLI prints holds a
// secret, even when the script looks for it.
func TestScriptsWithEveryTokenType(t *testing.T) {
	rv := newAPIReceiver(t)
	c := newCLI(t)
	addStaticTokens(c, rv.URL)
	other := strings.Replace(rv.URL, "127.0.0.1", "localhost", 1)
	script := writeScript(t, t.TempDir(), "send.js", `
const [base, other, name] = args;
(async () => {
const res = http.post(base + '/v1/items?x=1').apiTokenAuth(name).json({ title: 'Printer on fire', n: 1 }).send();
console.log('post', res.status, res.json().ok);
const r = await fetch(base + '/v1/raw', { method: 'PUT', body: 'raw text', apiTokenAuth: name });
console.log('fetch', r.status);
const g = http.get(base + '/v1/items').apiTokenAuth(name).query({ page: 2 }).send();
console.log('get', g.status);
// Looking for the credential from inside the script.
const req = http.get(base + '/peek').apiTokenAuth(name);
console.log(JSON.stringify(req), JSON.stringify(res), JSON.stringify(res.headers), res.url, g.url, JSON.stringify(r.headers));
try {
  http.get(other + '/steal').apiTokenAuth(name).send();
  console.log('sent to another host');
} catch (e) {
  console.log(e.code, e.message);
}
})();
`)
	for _, name := range staticNames {
		t.Run(name, func(t *testing.T) {
			before := len(rv.requests())
			code, out, errs := c.run(script, rv.URL, other, name)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			for _, want := range []string{"post 200 true", "fetch 200", "get 200", "TOKEN_HOST_MISMATCH"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			noSecrets(t, "stdout", out)
			noSecrets(t, "stderr", errs)
			reqs := rv.requests()[before:]
			if len(reqs) != 3 {
				t.Fatalf("the API got %d requests, want 3 (post, fetch, get; none to another host)", len(reqs))
			}
			wantBodies := []string{`{"title":"Printer on fire","n":1}`, "raw text", ""}
			for i, r := range reqs {
				checkReceived(t, name, r)
				if r.body != wantBodies[i] {
					t.Errorf("request %d body %q, want %q", i, r.body, wantBodies[i])
				}
			}
		})
	}
	// The same tokens from the REPL and from a cron job.
	c.stdin = "const base = '" + rv.URL + "'\n" +
		"http.post(base + '/repl').apiTokenAuth('hmac').body('from the repl', 'text/plain').send().status\n" +
		"(await fetch(base + '/repl', {apiTokenAuth: 'basic'})).status\n"
	code, out, errs := c.run("repl")
	if code != 0 || out != "200\n200\n" {
		t.Errorf("REPL: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	job := writeScript(t, t.TempDir(), "job.js", "const [base, name] = args;\nconsole.log(http.post(base + '/cron').apiTokenAuth(name).json({ from: 'cron' }).send().status);\n")
	for _, name := range staticNames {
		c.must("cron", "add", "job-"+name, "--schedule", "@daily", "--script", job, "--", rv.URL, name)
		code, out, errs := c.run("cron", "run", "job-"+name)
		if code != 0 || !strings.Contains(out, "200") {
			t.Errorf("cron run with %s: exit %d\n%s%s", name, code, out, errs)
		}
		noSecrets(t, "cron run output", out+errs)
	}
	reqs := rv.requests()
	n := len(reqs)
	for i, name := range staticNames {
		checkReceived(t, name, reqs[n-len(staticNames)+i])
	}
	checkReceived(t, "hmac", reqs[n-len(staticNames)-2])
	checkReceived(t, "basic", reqs[n-len(staticNames)-1])
}

// show and list print settings and masked credentials only; the database
// holds none in clear.
func TestTokenTypesShowAndList(t *testing.T) {
	c := newCLI(t)
	addStaticTokens(c, "https://api.example.com")
	var outputs strings.Builder
	for _, name := range staticNames {
		out := c.must("token", "show", name)
		outputs.WriteString(out)
		js := c.must("token", "show", name, "--json")
		outputs.WriteString(js)
		var v tokenView
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			t.Fatal(err)
		}
		if v.State != "authorized" || !strings.Contains(out, "state:") {
			t.Errorf("%s: state %q", name, v.State)
		}
		switch name {
		case "basic":
			if v.Username != "svc-user" || v.Password != "••••"+cliSecrets["BASIC_PASSWORD"][len(cliSecrets["BASIC_PASSWORD"])-4:] {
				t.Errorf("basic show: %+v", v)
			}
		case "key-header":
			if v.KeyHeader != "X-API-Key" || v.KeyPrefix != "Key " || !strings.HasPrefix(v.APIKey, "••••") || !strings.Contains(out, `header X-API-Key (after "Key ")`) {
				t.Errorf("key-header show: %+v\n%s", v, out)
			}
		case "key-query":
			if v.KeyQuery != "api_key" || !strings.Contains(out, "query parameter api_key") {
				t.Errorf("key-query show: %+v", v)
			}
		case "bearer":
			if !strings.HasPrefix(v.BearerToken, "••••") || v.Expires != "2099-01-01T00:00:00Z" {
				t.Errorf("bearer show: %+v", v)
			}
		case "hmac512":
			if v.HMACAlgorithm != "sha512" || !strings.HasPrefix(v.APIToken, "••••") || !strings.HasPrefix(v.APISecret, "••••") {
				t.Errorf("hmac512 show: %+v", v)
			}
		}
	}
	list := c.must("token", "list")
	outputs.WriteString(list + c.must("token", "list", "--json"))
	for _, want := range []string{"basic", "api-key", "bearer", "hmac-body", "authorized"} {
		if !strings.Contains(list, want) {
			t.Errorf("token list lacks %q:\n%s", want, list)
		}
	}
	noSecrets(t, "show and list", outputs.String())
	raw, _ := os.ReadFile(filepath.Join(c.home, "scriptrun.db"))
	noSecrets(t, "the database file", string(raw))
}

// update changes settings and credentials of a token of its type; revoke
// erases the credential.
func TestTokenTypesUpdateAndRevoke(t *testing.T) {
	rv := newAPIReceiver(t)
	c := newCLI(t)
	addStaticTokens(c, rv.URL)
	script := writeScript(t, t.TempDir(), "one.js", `
try { console.log(http.get(args[0] + '/x').apiTokenAuth(args[1]).send().status) } catch (e) { console.log(e.code) }`)
	c.env["NEW_KEY"] = "new-api-KEY-value-7777"
	if out := c.must("token", "update", "key-header", "--query", "key", "--key-env", "NEW_KEY"); !strings.Contains(out, "credential replaced") {
		t.Errorf("update: %q", out)
	}
	c.must(script, rv.URL, "key-header")
	if r := rv.requests(); !strings.HasSuffix(r[len(r)-1].target, "key=new-api-KEY-value-7777") || r[len(r)-1].header.Get("X-Api-Key") != "" {
		t.Errorf("after moving the key to the query: target %q", r[len(r)-1].target)
	}
	c.must("token", "update", "bearer", "--expires", "never")
	var v tokenView
	json.Unmarshal([]byte(c.must("token", "show", "bearer", "--json")), &v)
	if v.Expires != "" {
		t.Errorf("--expires never left %q", v.Expires)
	}
	// An expiry that passed: the script gets TOKEN_EXPIRED.
	db := openHome(t, c.home)
	db.Update(func(tx *store.Tx) error {
		tok, err := tx.Token("bearer")
		if err != nil {
			return err
		}
		tok.Expires = time.Now().Add(-time.Minute)
		return tx.PutToken(tok)
	})
	if out := c.must(script, rv.URL, "bearer"); out != "TOKEN_EXPIRED\n" {
		t.Errorf("a script with an expired bearer token printed %q", out)
	}
	// revoke erases; the script then gets TOKEN_UNAUTHORIZED.
	for _, name := range []string{"basic", "hmac"} {
		code, out, errs := c.run("token", "revoke", name)
		if code != 0 || !strings.Contains(out, "credential erased") || !strings.Contains(errs, "issued elsewhere") || !strings.Contains(out, "token update "+name) {
			t.Errorf("revoke %s: exit %d\n%s%s", name, code, out, errs)
		}
		if out := c.must(script, rv.URL, name); out != "TOKEN_UNAUTHORIZED\n" {
			t.Errorf("after revoke, a script with %s printed %q", name, out)
		}
		if out := c.must("token", "show", name); !strings.Contains(out, "no credential stored") || !strings.Contains(out, "unauthorized") {
			t.Errorf("show after revoke:\n%s", out)
		}
	}
	// Setting the password again makes it usable.
	c.stdin = "another-password-1234\n"
	c.must("token", "update", "basic", "--password-stdin")
	if out := c.must(script, rv.URL, "basic"); out != "200\n" {
		t.Errorf("after a new password: %q", out)
	}
	if code, _, errs := c.run("token", "refresh", "basic"); code != exitUsage || !strings.Contains(errs, "nothing to refresh") {
		t.Errorf("token refresh of a basic token: exit %d, %q", code, errs)
	}
	if code, _, errs := c.run("token", "revoke", "nope"); code != exitUsage || !strings.Contains(errs, "does not exist") {
		t.Errorf("revoke of a missing token: exit %d, %q", code, errs)
	}
}

func TestTokenTypeUsageErrors(t *testing.T) {
	base := []string{"--base-url", "https://api.example.com"}
	tests := []struct {
		name   string
		args   []string
		stdin  string
		want   string
		absent string
	}{
		{"unknown type", []string{"token", "add", "t", "--type", "magic"}, "", `--type: "magic" is not supported: use one of oauth2, basic`, ""},
		{"password as argument", append([]string{"token", "add", "t", "--type", "basic", "--username", "u", "--password", "pl41n-PASSWORD"}, base...), "", "--password is not accepted", "pl41n-PASSWORD"},
		{"key as argument", []string{"token", "add", "t", "--type", "api-key", "--header", "X-Key", "--key", "pl41n-KEY"}, "", "--key is not accepted", "pl41n-KEY"},
		{"bearer token as argument", []string{"token", "add", "t", "--type", "bearer", "--token", "pl41n-TOKEN"}, "", "--token is not accepted", "pl41n-TOKEN"},
		{"api secret as argument", []string{"token", "add", "t", "--type", "hmac-body", "--api-secret", "pl41n-SECRET"}, "", "--api-secret is not accepted", "pl41n-SECRET"},
		{"basic without user", []string{"token", "add", "t", "--type", "basic", "--password-env", "P"}, "", "--username: required", ""},
		{"api-key without place", []string{"token", "add", "t", "--type", "api-key", "--key-env", "P"}, "", "--header: an api-key token needs a header or a query parameter", ""},
		{"api-key with both places", []string{"token", "add", "t", "--type", "api-key", "--header", "X-Key", "--query", "k"}, "", "not both", ""},
		{"flag of another type", []string{"token", "add", "t", "--type", "basic", "--username", "u", "--header", "X-Key", "--provider", "p"}, "", "--header, --provider do(es) not apply to basic tokens", ""},
		{"expires on oauth2", []string{"token", "add", "t", "--provider", "p", "--expires", "2030-01-01"}, "", "--expires do(es) not apply to oauth2", ""},
		{"bad expiry", []string{"token", "add", "t", "--type", "bearer", "--expires", "soon"}, "", `--expires: expiry "soon" is not a time`, ""},
		{"past expiry", []string{"token", "add", "t", "--type", "bearer", "--expires", "2001-01-01"}, "", "already past", ""},
		{"two secrets on stdin", []string{"token", "add", "t", "--type", "hmac-body", "--api-token-stdin", "--api-secret-stdin"}, "tok\n", "standard input already holds another secret", ""},
		{"empty stdin", []string{"token", "add", "t", "--type", "bearer", "--token-stdin"}, "", "standard input was empty", ""},
		{"missing env", []string{"token", "add", "t", "--type", "bearer", "--token-env", "NOPE"}, "", "--token-env NOPE", ""},
		{"bad algorithm", []string{"token", "add", "t", "--type", "hmac-body", "--algorithm", "md5"}, "", "algorithm \"md5\"", ""},
		{"bad api token", []string{"token", "add", "t", "--type", "hmac-body", "--api-token-env", "BAD"}, "", "API token must", "has spaces"},
		{"reserved header", []string{"token", "add", "t", "--type", "api-key", "--header", "Host"}, "", "set by the HTTP client", ""},
		{"bearer with a space", []string{"token", "add", "t", "--type", "bearer", "--token-stdin"}, "two words-s3cret\n", "no spaces", "two words-s3cret"},
		// A value pasted where a variable's name goes is not repeated.
		{"password in --password-env", append([]string{"token", "add", "t", "--type", "basic", "--username", "u", "--password-env", "hunter2!pw"}, base...), "", "--password-env takes the NAME of an environment variable", "hunter2!pw"},
		{"key in --key-env", append([]string{"token", "add", "t", "--type", "api-key", "--header", "X-Key", "--key-env", "AIzaSyA1b2-C3d4E5"}, base...), "", "--key-env takes the NAME", "AIzaSyA1b2-C3d4E5"},
		{"token in --token-env", append([]string{"token", "add", "t", "--type", "bearer", "--token-env", "ghp_abc.def/ghi"}, base...), "", "--token-env takes the NAME", "ghp_abc.def/ghi"},
		{"api token in --api-token-env", append([]string{"token", "add", "t", "--type", "hmac-body", "--api-token-env", "tok-123", "--api-secret-env", "S"}, base...), "", "--api-token-env takes the NAME", "tok-123"},
		{"api secret in --api-secret-env", append([]string{"token", "add", "t", "--type", "hmac-body", "--api-token-env", "BAD", "--api-secret-env", "s3cr3t=="}, base...), "", "--api-secret-env takes the NAME", "s3cr3t=="},
		{"secret shaped like a name", append([]string{"token", "add", "t", "--type", "bearer", "--token-env", "xoxb1234567890abcdef"}, base...), "", "--token-env: the environment variable it names is empty or not set", "xoxb1234567890abcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.env["BAD"] = "has spaces"
			c.stdin = tt.stdin
			code, out, errs := c.run(tt.args...)
			if code != exitUsage || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, errs, exitUsage, tt.want)
			}
			if tt.absent != "" && strings.Contains(out+errs, tt.absent) {
				t.Errorf("output repeats %q", tt.absent)
			}
		})
	}
	// On update the stored type decides which flags apply.
	c := newCLI(t)
	c.env["P"] = "pw-1234"
	c.must("token", "add", "b", "--type", "basic", "--username", "u", "--password-env", "P")
	for _, args := range [][]string{
		{"token", "update", "b", "--header", "X-Key"},
		{"token", "update", "b", "--scopes", "a"},
		{"token", "update", "b", "--type", "bearer"},
	} {
		if code, _, errs := c.run(args...); code != exitUsage || errs == "" {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
}

// A client_credentials provider from the command line: no --auth-url, no
// authorization; scripts fetch the token on first use; revoke ends it at the
// provider.
func TestClientCredentialsFromCLI(t *testing.T) {
	srv, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newCLI(t)
	c.env["CC_SECRET"] = srv.ClientSecret()
	c.must("provider", "add", "m2m", "--grant-type", "client_credentials", "--client-id", srv.ClientID(), "--client-secret-env", "CC_SECRET",
		"--token-url", srv.TokenURL(), "--revocation-url", srv.RevocationURL(), "--scopes", "read", "--token-param", "audience=https://api.example.com")
	out := c.must("token", "add", "svc", "--provider", "m2m", "--base-url", srv.URL())
	if !strings.Contains(out, "fetched on first use") {
		t.Errorf("token add: %q", out)
	}
	if code, _, errs := c.run("token", "authorize", "svc", "--callback-url", "http://127.0.0.1:0/cb"); code != exitUsage || !strings.Contains(errs, "no authorization step") {
		t.Errorf("token authorize of a client-credentials token: exit %d, %q", code, errs)
	}
	script := writeScript(t, t.TempDir(), "me.js", `
Promise.all(Array.from({ length: 20 }, () => http.get(args[0] + '/me').apiTokenAuth('svc').sendAsync()))
  .then((rs) => console.log(rs.filter((r) => r.ok).length, rs[0].json().client));`)
	if out := c.must(script, srv.APIURL()); out != "20 "+srv.ClientID()+"\n" {
		t.Errorf("script: %q", out)
	}
	if n := srv.Stats().TokenRequests["client_credentials"]; n != 1 {
		t.Errorf("20 concurrent calls: %d token requests, want 1", n)
	}
	var v tokenView
	json.Unmarshal([]byte(c.must("token", "show", "svc", "--json")), &v)
	if v.State != "authorized" || v.Expires == "" {
		t.Errorf("after the first use: %+v", v)
	}
	if show := c.must("token", "show", "svc"); !strings.Contains(show, "grantType:") || !strings.Contains(show, "client_credentials") {
		t.Errorf("token show:\n%s", show)
	}
	var old store.Token
	openHome(t, c.home).View(func(tx *store.Tx) (err error) { old, err = tx.Token("svc"); return err })
	code, out, errs := c.run("token", "revoke", "svc")
	if code != 0 || !strings.Contains(out, "revoked at the provider (access token)") || !strings.Contains(out, "--active false") {
		t.Errorf("token revoke: exit %d\n%s%s", code, out, errs)
	}
	req, _ := http.NewRequest("GET", srv.APIURL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+old.Secret.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("the revoked access token: API %d, want 401", resp.StatusCode)
	}
	if strings.Contains(out+errs, old.Secret.AccessToken) || strings.Contains(out+errs, srv.ClientSecret()) {
		t.Error("revoke printed a secret")
	}
}

// token revoke of an authorization-code token at a real RFC 7009 endpoint:
// the old tokens stop working at the provider; a refusal erases nothing.
func TestRevokeFromCLI(t *testing.T) {
	srv, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newCLI(t)
	c.env["SECRET"] = srv.ClientSecret()
	c.must("provider", "add", "sb", "--client-id", srv.ClientID(), "--client-secret-env", "SECRET", "--auth-url", srv.AuthURL(),
		"--token-url", srv.TokenURL(), "--revocation-url", srv.RevocationURL())
	c.must("token", "add", "api", "--provider", "sb", "--base-url", srv.URL())
	authorize := func() store.Token {
		t.Helper()
		db := openHome(t, c.home)
		m := tokens.New(tokens.Options{DB: db})
		defer m.Close()
		cb := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		defer cb.Close()
		a, err := m.Authorize("api", cb.URL+"/cb")
		if err != nil {
			t.Fatal(err)
		}
		u, err := sandbox.SignIn(context.Background(), a.URL, "demo", "demo")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := m.Complete(context.Background(), a, u.Query())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	old := authorize()
	code, out, errs := c.run("token", "revoke", "api")
	if code != 0 || !strings.Contains(out, "revoked at the provider (refresh token, access token)") || !strings.Contains(out, "token authorize api") {
		t.Fatalf("token revoke: exit %d\n%s%s", code, out, errs)
	}
	for _, s := range []string{old.Secret.AccessToken, old.Secret.RefreshToken, srv.ClientSecret()} {
		if strings.Contains(out+errs, s) {
			t.Error("revoke printed a secret")
		}
	}
	req, _ := http.NewRequest("GET", srv.APIURL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+old.Secret.AccessToken)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 || srv.Stats().Revocations != 1 {
		t.Errorf("after revoke: old access token %d (want 401), revocations %d", resp.StatusCode, srv.Stats().Revocations)
	}
	// The provider refuses: exit 1, nothing erased; --local erases.
	authorize()
	c.env["SECRET"] = "wrong-client-secret-value"
	c.must("provider", "update", "sb", "--client-secret-env", "SECRET")
	code, _, errs = c.run("token", "revoke", "api")
	if code != exitScript || !strings.Contains(errs, "invalid_client") || !strings.Contains(errs, "nothing was cleared") || strings.Contains(errs, "wrong-client-secret-value") {
		t.Errorf("revoke refused by the provider: exit %d, %q", code, errs)
	}
	var v tokenView
	json.Unmarshal([]byte(c.must("token", "show", "api", "--json")), &v)
	if v.State != "authorized" {
		t.Errorf("a refused revocation changed the state to %s", v.State)
	}
	code, out, errs = c.run("token", "revoke", "api", "--local")
	if code != 0 || !strings.Contains(errs, "not revoked at the provider") {
		t.Errorf("revoke --local: exit %d\n%s%s", code, out, errs)
	}
	json.Unmarshal([]byte(c.must("token", "show", "api", "--json")), &v)
	if v.State != "unauthorized" || v.HasRefreshToken {
		t.Errorf("after revoke --local: %+v", v)
	}
}
