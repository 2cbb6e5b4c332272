// sn_ws.RESTMessageV2 and RESTResponseV2, as ServiceNow scripts use them.
// Globals: BASE and OTHER (test API servers), CLOSED (nothing listens),
// COOKIES (answers two Set-Cookie headers).

// A signed POST with headers, query parameters and a body.
var sm = new sn_ws.RESTMessageV2();
assert(sm instanceof sn_ws.RESTMessageV2, 'instanceof RESTMessageV2');
sm.setEndpoint(BASE + '/echo?fixed=1');
sm.setHttpMethod('post');
sm.setRequestHeader('Accept', 'application/json');
sm.setRequestHeader('Content-Type', 'application/json');
sm.setQueryParameter('sysparm_query', 'active=true^ORDERBYnumber');
sm.setQueryParameter('sysparm_limit', 10);
sm.setRequestBody(JSON.stringify({ short_description: 'Printer on fire' }));
sm.setHttpTimeout(10000);
sm.setAuthenticationProfile('oauth2', 'graph');
sm.setLogLevel('all');
assertEq(sm.getEndpoint(), BASE + '/echo?fixed=1', 'getEndpoint');
assertEq(sm.getRequestBody(), '{"short_description":"Printer on fire"}', 'getRequestBody');
assertEq(sm.getRequestHeader('accept'), 'application/json', 'getRequestHeader is case-insensitive');
assertEq(sm.getRequestHeader('Authorization'), null, 'getRequestHeader never shows the credential');
assertEq(sm.getRequestHeaders(), { Accept: 'application/json', 'Content-Type': 'application/json' }, 'getRequestHeaders');
var response = sm.execute();
assertEq(response.getStatusCode(), 200, 'signed POST status');
assertEq(response.haveError(), false, 'haveError after a 200');
assertEq(response.getErrorCode(), 0, 'getErrorCode after a 200');
assertEq(response.getErrorMessage(), '', 'getErrorMessage after a 200');
var echo = JSON.parse(response.getBody());
assertEq(echo.method, 'POST', 'method upper-cased');
assertEq(echo.authorized, true, 'signed with the token, as apiTokenAuth does');
assertEq(echo.query, { fixed: ['1'], sysparm_limit: ['10'], sysparm_query: ['active=true^ORDERBYnumber'] }, 'query parameters appended');
assertEq(echo.body, '{"short_description":"Printer on fire"}', 'body sent');
assertEq(echo.headers['content-type'], 'application/json', 'script Content-Type kept');
assertEq(echo.headers['accept'], 'application/json', 'Accept sent');
assertEq(response.getHeader('content-type'), 'application/json', 'getHeader is case-insensitive');
assertEq(response.getHeader('X-Nope'), null, 'getHeader of a missing header');
assertEq(response.getHeaders()['X-Multi'], 'two', 'getHeaders keeps the last of duplicate headers');
var multi = response.getAllHeaders().filter(function (h) { return h.name === 'X-Multi'; });
assertEq(multi, [{ name: 'X-Multi', value: 'one' }, { name: 'X-Multi', value: 'two' }], 'getAllHeaders keeps every header');
assert(response.getQueryString().indexOf('/echo?fixed=1&sysparm_query=active%3Dtrue%5EORDERBYnumber&sysparm_limit=10') > 0, 'getQueryString: ' + response.getQueryString());
assert(JSON.stringify(response.getHeaders()).indexOf('s3cr3t') < 0, 'no credential in headers');

// The message may be executed again; later changes do not touch a sent copy.
sm.setHttpMethod('GET');
sm.setRequestBody('');
assertEq(JSON.parse(sm.execute().getBody()).method, 'GET', 'second execute with the new method');

// Basic authentication: sent, never shown; the last credential set wins.
var b = new sn_ws.RESTMessageV2();
b.setEndpoint(BASE + '/echo');
b.setAuthenticationProfile('oauth2', 'graph');
b.setBasicAuth('svc-user', 'pa:ss');
assertEq(b.getRequestHeader('Authorization'), null, 'basic credential not shown');
var be = JSON.parse(b.execute().getBody());
assertEq(be.authorized, false, 'setBasicAuth replaced the profile');
assertEq(be.method, 'GET', 'GET when no method was set');

// HTTP errors are not exceptions: haveError, the status and a message.
var nf = new sn_ws.RESTMessageV2();
nf.setEndpoint(BASE + '/status/404?q=secret-looking');
var r404 = nf.execute();
assertEq([r404.haveError(), r404.getStatusCode(), r404.getErrorCode()], [true, 404, 404], '404');
assertEq(r404.getErrorMessage(), 'Method failed: (/status/404) with code: 404', '404 message');
assertEq(r404.getBody(), 'status 404', 'the body of an error answer');
nf.setEndpoint(BASE + '/status/500');
var r500 = nf.execute();
assertEq([r500.haveError(), r500.getStatusCode(), r500.getErrorCode()], [true, 500, 500], '500');

// Transport failures are not exceptions either: status 0, error code 1.
var down = new sn_ws.RESTMessageV2();
down.setEndpoint(CLOSED + '/x');
var rDown = down.execute();
assertEq([rDown.haveError(), rDown.getStatusCode(), rDown.getErrorCode(), rDown.getBody()], [true, 0, 1, ''], 'connection refused');
assert(rDown.getErrorMessage().indexOf('NETWORK: GET ') === 0 && rDown.getErrorMessage().indexOf('connection refused') > 0, 'message: ' + rDown.getErrorMessage());
assertEq(rDown.getHeaders(), {}, 'no headers without an answer');
assertEq(rDown.getAllHeaders().length, 0, 'no header list without an answer');

var slow = new sn_ws.RESTMessageV2();
slow.setEndpoint(BASE + '/slow');
slow.setHttpTimeout(50);
var rSlow = slow.execute();
assertEq([rSlow.haveError(), rSlow.getStatusCode(), rSlow.getErrorCode()], [true, 0, 1], 'setHttpTimeout elapsed');
assert(rSlow.getErrorMessage().indexOf('TIMEOUT: ') === 0 && rSlow.getErrorMessage().indexOf('.timeout(50)') > 0, 'timeout message: ' + rSlow.getErrorMessage());

// Credential problems throw from execute(), with the Signer's code.
function signed(name, url) {
  var m = new sn_ws.RESTMessageV2();
  m.setEndpoint(url || BASE + '/echo');
  m.setAuthenticationProfile('oauth2', name);
  return m;
}
assertThrows(function () { signed('missing').execute(); }, 'TOKEN_NOT_FOUND', 'does not exist', 'missing token');
assertThrows(function () { signed('reauth').execute(); }, 'REAUTH_REQUIRED', 'authorized again', 'token needing authorization');
assertThrows(function () { signed('broken').execute(); }, 'SIGN_FAILED', 'unreadable', 'signer failure');
var hm = signed('graph');
hm.setRequestHeader('Host', 'evil.example');
assertThrows(function () { hm.execute(); }, 'HOST_MISMATCH', 'Host header', 'Host header on a signed message');
assertThrows(function () { new sn_ws.RESTMessageV2().execute(); }, 'BAD_REQUEST', 'setEndpoint', 'no endpoint');

// executeAsync: the response waits for the request.
var a1 = new sn_ws.RESTMessageV2();
a1.setEndpoint(BASE + '/delay?ms=20&i=async');
a1.setAuthenticationProfile('oauth2', 'graph');
var ar = a1.executeAsync();
ar.waitForResponse(60);
assertEq([ar.getStatusCode(), JSON.parse(ar.getBody()).i], [200, 'async'], 'executeAsync + waitForResponse');
var a2 = new sn_ws.RESTMessageV2();
a2.setEndpoint(BASE + '/echo');
assertEq(a2.executeAsync().getStatusCode(), 200, 'a getter waits too');
var a3 = signed('missing').executeAsync();
assertThrows(function () { a3.waitForResponse(60); }, 'TOKEN_NOT_FOUND', 'does not exist', 'async credential error thrown by waitForResponse');
assertThrows(function () { a3.getStatusCode(); }, 'TOKEN_NOT_FOUND', 'does not exist', 'and by getters');
var a4 = new sn_ws.RESTMessageV2();
a4.setEndpoint(BASE + '/delay?ms=300');
var ar4 = a4.executeAsync();
assertThrows(function () { ar4.waitForResponse(0.05); }, 'TIMEOUT', ['waitForResponse', 'no response within 50ms'], 'waitForResponse elapsed');
var a5 = new sn_ws.RESTMessageV2();
a5.setEndpoint(CLOSED + '/y');
var ar5 = a5.executeAsync();
ar5.waitForResponse(60);
assertEq([ar5.haveError(), ar5.getStatusCode(), ar5.getErrorCode()], [true, 0, 1], 'async connection refused');

// Cookies, as an array that also answers get(i) and size().
var ck = new sn_ws.RESTMessageV2();
ck.setEndpoint(COOKIES);
var cookies = ck.execute().getCookies();
assertEq(cookies.length, 2, 'two cookies');
assertEq(cookies.get(0), 'a=1; Path=/', 'cookies.get(0)');
assertEq(cookies.size(), 2, 'cookies.size()');
assertEq(Object.keys(cookies), ['0', '1'], 'get and size are not enumerable');
