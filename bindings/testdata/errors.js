// Bad arguments give BAD_REQUEST with useful messages; bad JSON gives BAD_JSON.
(async () => {
  // A connection reset by the server is a NETWORK error, for every way of sending.
  assertThrows(() => http.get(BASE + '/reset').send(), 'NETWORK', 'GET ' + BASE + '/reset', 'reset: send');
  await assertRejects(http.get(BASE + '/reset').sendAsync(), 'NETWORK', 'closed', 'reset: sendAsync');
  await assertRejects(fetch(BASE + '/reset'), 'NETWORK', 'closed', 'reset: fetch');

  const cases = [
    [() => http.get(), 'http.get(url): url must be a string or a URL object, got undefined'],
    [() => http.get(42), 'got number'],
    [() => http.get({}), 'got object'],
    [() => http.get('/relative/path'), ['http.get(url)', 'is not an absolute URL']],
    [() => http.get('ftp://example.com/x'), ['unsupported scheme "ftp"', 'only http and https']],
    [() => http.get('file:///etc/passwd'), 'unsupported scheme "file"'],
    [() => http.get('http://exa mple.com/'), 'is not a valid URL'],
    [() => http.request(1, BASE), 'http.request(method, url): method must be an HTTP method name'],
    [() => http.request('GE T', BASE), 'method must be an HTTP method name'],
    [() => http.get(BASE).header(), '.header(name, value): name must be a string'],
    [() => http.get(BASE).header('X-A'), 'missing the value for header "X-A"'],
    [() => http.get(BASE).header('Bad Name', 'x'), '"Bad Name" is not a valid header name'],
    [() => http.get(BASE).header('X-A', 'a\r\nInjected: yes'), ['header "X-A"', 'line break']],
    [() => http.get(BASE).header('X-A', { a: 1 }), 'must be a string, number or boolean, got object'],
    [() => http.get(BASE).header('X-A', []), 'empty array'],
    [() => http.get(BASE).query(), '.query(params): params must be an object'],
    [() => http.get(BASE).query('x'), 'got string "x"'],
    [() => http.get(BASE).query({ a: { b: 1 } }), ['.query({...})', 'the value of "a"', 'got object']],
    [() => http.get(BASE).query({ a: [1, [2]] }), 'element 1 of "a" must be a string, number or boolean, got array'],
    [() => http.get(BASE).query({ f: () => 1 }), 'got function'],
    [() => http.get(BASE).query({ s: Symbol('x') }), 'got symbol'],
    [() => http.post(BASE).form('a=b'), '.form(fields): fields must be an object'],
    [() => http.post(BASE).json(), 'missing the value'],
    [() => http.post(BASE).json(() => 1), 'has no JSON form'],
    [() => { const o = {}; o.o = o; http.post(BASE).json(o); }, ['cannot be converted to JSON', 'circular']],
    [() => http.post(BASE).body({ a: 1 }), ['text must be a string', 'use .json(value)']],
    [() => http.post(BASE).body('x', 5), 'contentType must be a string'],
    [() => http.get(BASE).apiTokenAuth(''), '.apiTokenAuth(name): name must be the non-empty name'],
    [() => http.get(BASE).apiTokenAuth(7), 'got number 7'],
    [() => http.get(BASE).timeout('10'), '.timeout(ms): ms must be a number'],
    [() => http.get(BASE).timeout(-1), 'zero (no timeout) or a positive number'],
    [() => http.get(BASE).timeout(NaN), 'zero (no timeout)'],
    [() => { const send = http.get(BASE).send; send(); }, '.send() must be called on a request'],
    [() => http.get(BASE).header.call({}, 'a', 'b'), '.header() must be called on a request'],
    [() => { const r = http.get(BASE + '/echo').send(); r.json.call({}); }, '.json() must be called on a response'],
    [() => http.get(BASE + '/echo').send().header(1), 'res.header(name): name must be a string'],
  ];
  for (const [fn, includes] of cases) {
    assertThrows(fn, 'BAD_REQUEST', includes, String(fn));
  }
  // Messages do not repeat the query string, which may hold secrets.
  const e = assertThrows(() => http.get('ftp://host/path?api_key=hunter2'), 'BAD_REQUEST', 'ftp://host/path?…', 'query hidden');
  assert(!e.message.includes('hunter2'), 'query value not in message');

  // BAD_JSON: where, what, and a short excerpt.
  let err = assertThrows(() => http.get(BASE + '/badjson').send().json(), 'BAD_JSON',
    ['res.json()', 'GET ' + BASE + '/badjson', 'status 200', 'content-type "text/html"', 'line 1, column 1', '"<!DOCTYPE html><html"…'], 'html is not JSON');
  err = assertThrows(() => http.get(BASE + '/badjson2').send().json(), 'BAD_JSON', ['line 3, column 8', 'near'], 'broken JSON');
  assert(err.message.length < 400, 'BAD_JSON message stays short: ' + err.message.length);
  assertThrows(() => http.get(BASE + '/empty').send().json(), 'BAD_JSON', ['is empty', 'status 204'], 'empty body');

  // Network errors.
  assertThrows(() => http.get(CLOSED + '/x?token=abc').send(), 'NETWORK', ['GET ' + CLOSED + '/x?…', 'connection refused'], 'closed port');
  await assertRejects(http.get(CLOSED).sendAsync(), 'NETWORK', 'connection refused', 'sendAsync to a closed port');

  // apiTokenAuth without a signer.
  assertThrows(() => http.get(BASE + '/echo').apiTokenAuth('t').send(), 'TOKEN_NOT_FOUND', 'no token store is configured', 'no signer');
})();
