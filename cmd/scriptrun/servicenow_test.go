package main

import (
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/sandbox"
)

// snScript is a ServiceNow-style script, written as one would for
// ServiceNow, with only the profile's name changed: an outbound token.
const snScript = `var base = args[0], other = args[1];
function message(url, method) {
  var sm = new sn_ws.RESTMessageV2();
  sm.setEndpoint(url);
  sm.setHttpMethod(method || 'get');
  sm.setRequestHeader('Accept', 'application/json');
  sm.setAuthenticationProfile('oauth2', 'api');
  sm.setHttpTimeout(10000);
  return sm;
}
var response = message(base + '/me').execute();
gs.info('me {0} {1}', response.getStatusCode(), JSON.parse(response.getBody()).user);

var post = message(base + '/echo', 'post');
post.setRequestHeader('Content-Type', 'application/json');
post.setQueryParameter('sysparm_limit', '1');
post.setRequestBody(JSON.stringify({ short_description: 'Printer on fire' }));
var echo = JSON.parse(post.execute().getBody());
gs.info('echo {0} {1} {2}', echo.method, echo.query.sysparm_limit, echo.body);

var nf = message(base + '/nope').execute();
gs.warn('nope {0} {1} {2}', nf.haveError(), nf.getStatusCode(), nf.getErrorMessage());

var async = message(base + '/items?n=2').executeAsync();
async.waitForResponse(30);
gs.info('items {0} {1}', async.getStatusCode(), JSON.parse(async.getBody()).length);

try {
  message(other + '/me').execute();
  gs.info('sent to another host');
} catch (ex) {
  gs.info('elsewhere {0}', ex.code);
}
try {
  var missing = message(base + '/me');
  missing.setAuthenticationProfile('oauth2', 'nosuch');
  missing.execute();
} catch (ex) {
  gs.info('missing {0}', ex.code);
}
gs.info(JSON.stringify([response.getHeaders(), response.getAllHeaders(), post.getRequestHeaders()]));
`

// A ServiceNow-style script signs with an OAuth token of the sandbox
// provider through `scriptrun run`, the REPL and cron: every call carries the token, HTTP
// errors are responses, credential problems throw, the credential never
// shows, and an expired access token is refreshed once on the way.
func TestServiceNowScriptWithOAuthToken(t *testing.T) {
	srv, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := newCLI(t)
	c.env["SECRET"] = srv.ClientSecret()
	c.must("provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-env", "SECRET",
		"--auth-url", srv.AuthURL(), "--token-url", srv.TokenURL(), "--scopes", "read")
	c.must("token", "add", "api", "--provider", "sandbox", "--base-url", srv.URL())
	authorizeInProcess(t, c, srv, "api")
	script := writeScript(t, t.TempDir(), "incident.js", snScript)
	other := strings.Replace(srv.APIURL(), "127.0.0.1", "localhost", 1)

	for _, expired := range []bool{false, true} {
		if expired {
			srv.ExpireAccessTokens()
		}
		calls, rejected := tokenCalls(srv), srv.Stats().APIRejected
		code, out, errs := c.run("run", script, srv.APIURL(), other)
		if code != 0 {
			t.Fatalf("expired=%v: exit %d\n%s%s", expired, code, out, errs)
		}
		for _, want := range []string{
			"me 200 demo\n",
			"echo POST 1 {\"short_description\":\"Printer on fire\"}\n",
			"items 200 2\n",
			"elsewhere TOKEN_HOST_MISMATCH\n",
			"missing TOKEN_NOT_FOUND\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("expired=%v: stdout lacks %q:\n%s", expired, want, out)
			}
		}
		if want := "nope true 404 Method failed: (/api/nope) with code: 404\n"; errs != want {
			t.Errorf("expired=%v: stderr %q, want %q", expired, errs, want)
		}
		if strings.Contains(out+errs, "Bearer") || strings.Contains(out+errs, srv.ClientSecret()) {
			t.Errorf("expired=%v: the output shows a credential:\n%s%s", expired, out, errs)
		}
		wantCalls := 0
		if expired {
			wantCalls = 1
		}
		if n := tokenCalls(srv) - calls; n != wantCalls {
			t.Errorf("expired=%v: %d token-endpoint calls, want %d", expired, n, wantCalls)
		}
		if n := srv.Stats().APIRejected - rejected; n > 1 {
			t.Errorf("expired=%v: the API refused %d requests, want at most the one that found the token expired", expired, n)
		}
	}

	// The same from the REPL and from a cron job.
	c.stdin = "var m = new sn_ws.RESTMessageV2()\nm.setEndpoint('" + srv.APIURL() + "/me')\n" +
		"m.setAuthenticationProfile('oauth2', 'api')\nm.execute().getStatusCode()\ngs.info('from the {0}', 'repl')\n"
	if code, out, errs := c.run("repl"); code != 0 || !strings.Contains(out, "200\n") || !strings.Contains(out, "from the repl\n") {
		t.Errorf("REPL: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	c.must("cron", "add", "incident", "--schedule", "@daily", "--script", script, "--", srv.APIURL(), other)
	if code, out, errs := c.run("cron", "run", "incident"); code != 0 || !strings.Contains(out, "me 200 demo") || !strings.Contains(out, "missing TOKEN_NOT_FOUND") {
		t.Errorf("cron run: exit %d\n%s%s", code, out, errs)
	}
}
