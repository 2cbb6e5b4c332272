package bindings_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/bindings"
)

// TestServiceNowScript runs testdata/servicenow.js: sn_ws.RESTMessageV2 and
// RESTResponseV2 against the test API, signed by the fake Signer.
func TestServiceNowScript(t *testing.T) {
	src, err := testdata.ReadFile("testdata/servicenow.js")
	if err != nil {
		t.Fatal(err)
	}
	api, other := newServer(t), newServer(t)
	cookies := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1; Path=/")
		w.Header().Add("Set-Cookie", "b=2; HttpOnly")
	}))
	t.Cleanup(cookies.Close)
	globals := map[string]any{"BASE": api.URL, "OTHER": other.URL, "CLOSED": closedURL(t), "COOKIES": cookies.URL}
	if err := runJS(context.Background(), "servicenow.js", string(src), bindings.Options{Signer: bearerSigner()}, globals); err != nil {
		t.Fatal(err)
	}
	for _, a := range api.authSeen() {
		if a != "" && a != secret && !strings.HasPrefix(a, "Basic ") {
			t.Errorf("the API received Authorization %q", a)
		}
	}
}

// Arguments of the wrong kind are TypeErrors with code BAD_REQUEST, methods
// that cannot apply throw NOT_SUPPORTED naming what to do instead, and a
// failure nobody waited for is not lost.
func TestServiceNowErrors(t *testing.T) {
	tests := []struct {
		name      string
		js        string
		code      string
		typeError bool
		want      []string
	}{
		{"endpoint not a URL", `m.setEndpoint('not a url')`, "BAD_REQUEST", true, []string{"setEndpoint(url)", "not an absolute URL"}},
		{"endpoint ftp", `m.setEndpoint('ftp://example.com/x')`, "BAD_REQUEST", true, []string{"unsupported scheme"}},
		{"endpoint object", `m.setEndpoint({})`, "BAD_REQUEST", true, []string{"url must be a string"}},
		{"method with a space", `m.setHttpMethod('GE T')`, "BAD_REQUEST", true, []string{"setHttpMethod(method)", "not an HTTP method"}},
		{"method missing", `m.setHttpMethod()`, "BAD_REQUEST", true, []string{"method must be a string, got undefined"}},
		{"header name", `m.setRequestHeader('Bad Name', 'x')`, "BAD_REQUEST", true, []string{"not a valid header name"}},
		{"header value object", `m.setRequestHeader('X-A', {})`, "BAD_REQUEST", true, []string{"value of header", "must be a string"}},
		{"header injection", `m.setRequestHeader('X-A', 'a\r\nX-B: b')`, "BAD_REQUEST", true, []string{"line break"}},
		{"query value missing", `m.setQueryParameter('a')`, "BAD_REQUEST", true, []string{"setQueryParameter(name, value)", "must be a string, got undefined"}},
		{"body object", `m.setRequestBody({a: 1})`, "BAD_REQUEST", true, []string{"setRequestBody(body)", "JSON.stringify"}},
		{"timeout string", `m.setHttpTimeout('10s')`, "BAD_REQUEST", true, []string{"setHttpTimeout(ms)", "number of milliseconds"}},
		{"timeout negative", `m.setHttpTimeout(-1)`, "BAD_REQUEST", true, []string{"positive number"}},
		{"basic password object", `m.setBasicAuth('u', {secret: 'hunter2'})`, "BAD_REQUEST", true, []string{"userPass must be a string, got object"}},
		{"basic user with colon", `m.setBasicAuth('a:b', 'p')`, "BAD_REQUEST", true, []string{`may not contain ":"`}},
		{"profile type", `m.setAuthenticationProfile('kerberos', 'x')`, "BAD_REQUEST", true, []string{"type must be one of oauth2, basic"}},
		{"profile name empty", `m.setAuthenticationProfile('oauth2', '')`, "BAD_REQUEST", true, []string{"name must be the non-empty name of an outbound token"}},
		{"log level", `m.setLogLevel('verbose')`, "BAD_REQUEST", true, []string{`"basic", "elevated" or "all"`}},
		{"method on another object", `m.execute.call({})`, "BAD_REQUEST", true, []string{"new sn_ws.RESTMessageV2()"}},
		{"waitForResponse without seconds", `m.setEndpoint(BASE); m.executeAsync().waitForResponse()`, "BAD_REQUEST", true, []string{"timeoutSecs must be a positive number"}},
		{"record constructor", `new sn_ws.RESTMessageV2('Yahoo Finance', 'get')`, "NOT_SUPPORTED", false, []string{"REST message records", "setEndpoint(url)"}},
		{"setMIDServer", `m.setMIDServer('mid1')`, "NOT_SUPPORTED", false, []string{"setMIDServer()", "no MID Server"}},
		{"setEccParameter", `m.setEccParameter('source', 'x')`, "NOT_SUPPORTED", false, []string{"setEccParameter()", "MID Server"}},
		{"setEccTopic", `m.setEccTopic('t')`, "NOT_SUPPORTED", false, []string{"setEccTopic()"}},
		{"saveResponseBodyAsAttachment", `m.saveResponseBodyAsAttachment('incident', 'id', 'f.txt')`, "NOT_SUPPORTED", false, []string{"attachment", "getBody()"}},
		{"setRequestBodyFromAttachment", `m.setRequestBodyFromAttachment('id')`, "NOT_SUPPORTED", false, []string{"attachment", "setRequestBody(text)"}},
		{"setMutualAuth", `m.setMutualAuth('p')`, "NOT_SUPPORTED", false, []string{"mutual TLS"}},
		{"setRequestorProfile", `m.setRequestorProfile('c', 'id')`, "NOT_SUPPORTED", false, []string{"another token"}},
		{"setStringParameter", `m.setStringParameter('s', 'NOW')`, "NOT_SUPPORTED", false, []string{"template literals"}},
		{"getResponseAttachmentSysid", `m.setEndpoint(BASE + '/echo'); m.execute().getResponseAttachmentSysid()`, "NOT_SUPPORTED", false, []string{"attachment"}},
	}
	api := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := `var m = new sn_ws.RESTMessageV2();
var e = assertThrows(function () { ` + tt.js + `; }, ` + jsString(tt.code) + `, ` + jsStrings(tt.want) + `, 'the call');
assertEq(e instanceof TypeError, ` + boolJS(tt.typeError) + `, 'is a TypeError');
assert(e.message.indexOf('hunter2') < 0, 'no password in the message');`
			if err := runJS(context.Background(), tt.name, src, bindings.Options{Signer: bearerSigner()}, map[string]any{"BASE": api.URL}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// An executeAsync whose credential failed and that the script never waited
// for ends as an unhandled rejection, so it cannot pass unnoticed; one whose
// transaction failed does not (haveError would have said so).
func TestServiceNowUnwaitedFailure(t *testing.T) {
	api := newServer(t)
	opts := bindings.Options{Signer: bearerSigner()}
	err := runJS(context.Background(), "unwaited.js", `var m = new sn_ws.RESTMessageV2();
m.setEndpoint(BASE + '/echo');
m.setAuthenticationProfile('oauth2', 'missing');
m.executeAsync();`, opts, map[string]any{"BASE": api.URL})
	if err == nil || !strings.Contains(err.Error(), "unhandled rejection") || !strings.Contains(err.Error(), "TOKEN_NOT_FOUND") {
		t.Errorf("an unwaited credential failure: %v; want an unhandled TOKEN_NOT_FOUND rejection", err)
	}
	err = runJS(context.Background(), "unwaited404.js", `var m = new sn_ws.RESTMessageV2();
m.setEndpoint(CLOSED);
m.executeAsync();`, opts, map[string]any{"CLOSED": closedURL(t)})
	if err != nil {
		t.Errorf("an unwaited transport failure: %v; want none", err)
	}
}

func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s))
	b.WriteByte('\'')
	return b.String()
}

func jsStrings(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = jsString(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func boolJS(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// A script stopped while waitForResponse or execute() holds the loop gets
// the run's TIMEOUT thrown, not a response with haveError() to carry on
// with, and the server sees the request cancelled.
func TestServiceNowScriptStopped(t *testing.T) {
	api := newServer(t)
	for _, call := range []string{"m.executeAsync().waitForResponse(60)", "m.execute()"} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := runJS(ctx, "stopped.js", `var m = new sn_ws.RESTMessageV2();
m.setEndpoint(BASE + '/slow');
assertThrows(function () { `+call+`; }, 'TIMEOUT', 'ran out of time', 'stopped');`, bindings.Options{}, map[string]any{"BASE": api.URL})
		cancel()
		if err != nil {
			t.Errorf("%s: %v", call, err)
		}
		select {
		case <-api.cancelled:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the server did not see the request cancelled", call)
		}
	}
}

// A body over the response limit throws BODY_TOO_LARGE from execute(), as
// from send(): there is no body to show.
func TestServiceNowBodyTooLarge(t *testing.T) {
	api := newServer(t)
	err := runJS(context.Background(), "big.js", `var m = new sn_ws.RESTMessageV2();
m.setEndpoint(BASE + '/big?n=5000');
assertThrows(function () { m.execute(); }, 'BODY_TOO_LARGE', 'larger than the limit', 'execute');
var r = m.executeAsync();
assertThrows(function () { r.waitForResponse(30); }, 'BODY_TOO_LARGE', 'larger than the limit', 'executeAsync');
m.setEndpoint(BASE + '/big?n=1000');
assertEq(m.execute().getBody().length, 1000, 'a body under the limit');`, bindings.Options{MaxResponseBytes: 1024}, map[string]any{"BASE": api.URL})
	if err != nil {
		t.Fatal(err)
	}
}
