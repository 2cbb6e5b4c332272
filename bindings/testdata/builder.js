// Every builder method, checked against /echo.
(async () => {
  // Methods.
  for (const [fn, method] of [['get', 'GET'], ['post', 'POST'], ['put', 'PUT'], ['patch', 'PATCH'], ['delete', 'DELETE']]) {
    const res = http[fn](BASE + '/echo').send();
    assertEq(res.json().method, method, 'http.' + fn + ' sends ' + method);
  }
  assertEq(http.request('propfind', BASE + '/echo').send().json().method, 'propfind', 'custom methods keep their case');
  assertEq(http.request('options', BASE + '/echo').send().json().method, 'OPTIONS', 'standard methods are upper-cased');
  const head = http.head(BASE + '/echo').send();
  assertEq(head.status, 200, 'HEAD status');
  assertEq(head.body, '', 'HEAD has no body');

  // Builders describe themselves but never their headers.
  const b = http.get(BASE + '/echo?x=1').header('X-Secret-Header', 'v').query({ y: 2 });
  assertEq(Object.keys(b), ['method', 'url'], 'builder keys');
  assertEq(b.method, 'GET', 'builder method');
  assertEq(b.url, BASE + '/echo?x=1&y=2', 'builder url includes added query');
  assert(!JSON.stringify(b).includes('X-Secret'), 'builder does not show headers');

  // Methods act on their own builder, whichever was made last.
  const first = http.get(BASE + '/echo?which=first');
  const second = http.post(BASE + '/echo?which=second');
  first.header('X-Which', 'first');
  second.header('X-Which', 'second');
  const third = http.put(BASE + '/echo?which=third');
  const sentFirst = first.send().json(), sentSecond = second.send().json();
  assertEq([sentFirst.method, sentFirst.rawQuery, sentFirst.headers['x-which']], ['GET', 'which=first', 'first'], 'an older builder sends itself');
  assertEq([sentSecond.method, sentSecond.rawQuery, sentSecond.headers['x-which']], ['POST', 'which=second', 'second'], 'another older builder sends itself');
  assertEq(third.send().json().headers['x-which'], undefined, 'the last builder has only its own headers');
  assertThrows(() => Object.create(Object.getPrototypeOf(third)).send(), 'BAD_REQUEST', '.send() must be called on a request', 'an object inheriting from the last builder is not a builder');

  // Headers: single, object, array, removal, default User-Agent, Host.
  let echo = http.get(BASE + '/echo')
    .header('Accept', 'application/json')
    .header({ 'X-One': 1, 'X-Bool': true })
    .header('X-Many', ['a', 'b'])
    .header('X-Gone', 'x').header('X-Gone', undefined)
    .send().json();
  assertEq(echo.headers['accept'], 'application/json', 'header(name, value)');
  assertEq(echo.headers['x-one'], '1', 'numbers become strings');
  assertEq(echo.headers['x-bool'], 'true', 'booleans become strings');
  assertEq(echo.headers['x-many'], 'a, b', 'arrays send the header several times');
  assertEq(echo.headers['x-gone'], undefined, 'undefined removes a header');
  assertEq(echo.headers['user-agent'], 'scriptrun', 'default User-Agent');
  echo = http.get(BASE + '/echo').header('User-Agent', 'mine/1').header('Host', 'api.example.com').send().json();
  assertEq(echo.headers['user-agent'], 'mine/1', 'own User-Agent');
  assertEq(echo.headers['host'], 'api.example.com', 'Host header');

  // Query encoding.
  echo = http.get(BASE + '/echo?keep=1')
    .query({ $top: 10, $filter: "name eq 'a&b'", flag: false, tags: ['x', 'y z'], skip: undefined, none: null })
    .query('extra', 'ü€')
    .send().json();
  assertEq(echo.rawQuery, "keep=1&$top=10&$filter=name%20eq%20'a%26b'&flag=false&tags=x&tags=y%20z&extra=%C3%BC%E2%82%AC", 'raw query');
  assertEq(echo.query, { $filter: ["name eq 'a&b'"], $top: ['10'], extra: ['ü€'], flag: ['false'], keep: ['1'], tags: ['x', 'y z'] }, 'decoded query');
  echo = http.get(BASE + '/echo').query(new URLSearchParams({ a: '1 2', b: 'c' })).query({ n: 1.5 }).send().json();
  assertEq(echo.rawQuery, 'a=1+2&b=c&n=1.5', 'URLSearchParams are appended as they are');
  echo = http.get(new URL('/echo?u=1', BASE)).send().json();
  assertEq(echo.rawQuery, 'u=1', 'URL objects are accepted');
  echo = http.get(BASE + '/echo#frag').send().json();
  assertEq(echo.path, '/echo', 'fragments are not sent');

  // Bodies.
  echo = http.post(BASE + '/echo').json({ a: [1, 'two'], b: null }).send().json();
  assertEq(echo.body, '{"a":[1,"two"],"b":null}', 'json body');
  assertEq(echo.headers['content-type'], 'application/json', 'json content type');
  echo = http.put(BASE + '/echo').form({ grant_type: 'client_credentials', scope: 'a b', n: [1, 2] }).send().json();
  assertEq(echo.body, 'grant_type=client_credentials&scope=a+b&n=1&n=2', 'form body');
  assertEq(echo.headers['content-type'], 'application/x-www-form-urlencoded', 'form content type');
  echo = http.patch(BASE + '/echo').body('a,b\n1,2', 'text/csv').send().json();
  assertEq([echo.body, echo.headers['content-type']], ['a,b\n1,2', 'text/csv'], 'body with a content type');
  echo = http.post(BASE + '/echo').body('plain').send().json();
  assertEq(echo.headers['content-type'], 'text/plain; charset=utf-8', 'body default content type');
  echo = http.post(BASE + '/echo').header('Content-Type', 'application/merge-patch+json').json({ a: 1 }).send().json();
  assertEq(echo.headers['content-type'], 'application/merge-patch+json', 'json() keeps the script\'s content type');
  echo = http.post(BASE + '/echo').body('x', 'text/csv').json({ a: 1 }).send().json();
  assertEq(echo.headers['content-type'], 'application/json', 'a later body method replaces the earlier one\'s content type');
  echo = http.post(BASE + '/echo').body(new Uint8Array([104, 105])).send().json();
  assertEq([echo.body, echo.headers['content-type']], ['hi', 'application/octet-stream'], 'binary body');
  echo = http.post(BASE + '/echo').json('just a string').send().json();
  assertEq(echo.body, '"just a string"', 'json of a string');

  // Timeouts that do not elapse; 0 means none.
  assertEq(http.get(BASE + '/echo').timeout(5000).send().status, 200, 'timeout(5000)');
  assertEq(http.get(BASE + '/echo').timeout(0).send().status, 200, 'timeout(0)');

  // Responses.
  const res = http.get(BASE + '/echo').send();
  assertEq([res.status, res.ok, res.statusText], [200, true, 'OK'], 'status, ok, statusText');
  assertEq(res.url, BASE + '/echo', 'url');
  assertEq(res.headers['content-type'], 'application/json', 'headers have lower-case names');
  assertEq(res.headers['x-multi'], 'one, two', 'repeated headers are joined');
  assert(!('X-Multi' in res.headers), 'no canonical-case names');
  assertEq(res.header('X-MULTI'), 'one, two', 'header() is case-insensitive');
  assertEq(res.header('x-nope'), null, 'header() of a missing header is null');
  assert(res.headers === res.headers, 'headers are built once');
  assertEq(typeof res.body, 'string', 'body is a string');
  assertEq(res.text(), res.body, 'text() is the body');
  assertEq(Object.keys(res), ['status', 'ok', 'statusText', 'url', 'headers', 'body'], 'response keys');
  assertEq(JSON.parse(JSON.stringify(res)).status, 200, 'responses serialize');
  res.parsed = res.json();
  assertEq(res.parsed.method, 'GET', 'scripts can add properties to responses');
  res.status = 999;
  assertEq(res.status, 200, 'status is read-only');
  assertEq(http.get(BASE + '/text').send().body, 'héllo wörld', 'UTF-8 bodies');

  // A non-2xx status is not an exception.
  const nf = http.get(BASE + '/status/404').send();
  assertEq([nf.status, nf.ok, nf.statusText, nf.body], [404, false, 'Not Found', 'status 404'], '404');
  assertEq(http.delete(BASE + '/status/500').send().ok, false, '500');

  // Redirects are followed; url is the final one.
  const red = http.get(BASE + '/redirect?to=' + encodeURIComponent(BASE + '/echo?after=1')).send();
  assertEq([red.status, red.url], [200, BASE + '/echo?after=1'], 'redirect followed');
})();
