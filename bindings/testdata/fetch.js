// fetch, Headers and fetch responses.
(async () => {
  let r = await fetch(BASE + '/echo');
  assertEq([r.ok, r.status, r.statusText, r.url], [true, 200, 'OK', BASE + '/echo'], 'basic fields');
  assertEq(r.headers.get('Content-Type'), 'application/json', 'headers.get');
  assertEq(r.headers.get('x-multi'), 'one, two', 'joined values');
  assertEq(r.headers.get('x-none'), null, 'missing header is null');
  assert(r.headers.has('x-multi') && !r.headers.has('x-none'), 'headers.has');
  assert(r.headers instanceof Headers, 'response headers are Headers');
  const seen = [];
  r.headers.forEach((v, k) => seen.push(k));
  assert(seen.includes('x-multi') && seen.every(k => k === k.toLowerCase()), 'forEach with lower-case names');
  assert([...r.headers].some(([k, v]) => k === 'x-multi' && v === 'one, two'), 'Headers are iterable');
  assertEq([...r.headers.keys()], seen, 'keys() in the same order');
  assertThrows(() => r.headers.set('x', 'y'), 'BAD_REQUEST', 'read-only', 'response headers are immutable');
  const body = await r.json();
  assertEq(body.method, 'GET', 'json()');
  assertEq(typeof await r.text(), 'string', 'text() after json()');
  assertEq(Object.keys(r), ['status', 'ok', 'statusText', 'url', 'headers'], 'fetch response keys');
  assertEq(new TextDecoderLike(await r.arrayBuffer()).length > 0, true, 'arrayBuffer()');

  // init: method, headers (object, Headers, pairs), body.
  r = await fetch(BASE + '/echo', { method: 'post', headers: { 'Content-Type': 'application/json', 'X-A': 1 }, body: JSON.stringify({ a: 1 }) });
  let echo = await r.json();
  assertEq([echo.method, echo.body, echo.headers['content-type'], echo.headers['x-a']], ['POST', '{"a":1}', 'application/json', '1'], 'POST with headers');
  const h = new Headers({ 'X-B': 'b' });
  h.append('X-B', 'c');
  h.set('X-C', 'c');
  h.delete('X-C');
  assertEq([h.get('x-b'), h.has('x-c')], ['b, c', false], 'Headers methods');
  echo = await (await fetch(BASE + '/echo', { method: 'PUT', headers: h, body: 'text' })).json();
  assertEq([echo.headers['x-b'], echo.headers['content-type']], ['b, c', 'text/plain;charset=UTF-8'], 'Headers init and default content type');
  echo = await (await fetch(BASE + '/echo', { method: 'POST', headers: [['X-D', 'd']], body: new URLSearchParams({ q: 'a b' }) })).json();
  assertEq([echo.headers['x-d'], echo.body, echo.headers['content-type']], ['d', 'q=a+b', 'application/x-www-form-urlencoded;charset=UTF-8'], 'pairs and URLSearchParams');

  // Non-2xx resolves.
  r = await fetch(BASE + '/status/418');
  assertEq([r.ok, r.status, await r.text()], [false, 418, 'status 418'], 'teapot');

  // Bad input rejects (never throws).
  const bad = [
    [() => fetch(), 'fetch(url, init): url must be a string'],
    [() => fetch('nope'), 'is not an absolute URL'],
    [() => fetch(BASE, 5), 'init must be an object'],
    [() => fetch(BASE, { method: 'GET', body: 'x' }), 'a GET request cannot have a body'],
    [() => fetch(BASE, { method: 'POST', body: { a: 1 } }), ['init.body must be a string', 'JSON.stringify']],
    [() => fetch(BASE, { headers: 'x' }), 'init.headers must be an object'],
    [() => fetch(BASE, { headers: [['a']] }), 'must be a [name, value] pair'],
    [() => fetch(BASE, { signal: {} }), 'AbortSignal is not available here'],
    [() => fetch(BASE, { timeout: -5 }), 'init.timeout'],
    [() => fetch(BASE, { apiTokenAuth: 3 }), 'init.apiTokenAuth'],
  ];
  for (const [fn, includes] of bad) {
    let p;
    try { p = fn(); } catch (e) { throw new Error('fetch threw synchronously: ' + e.message); }
    await assertRejects(p, 'BAD_REQUEST', includes, String(fn));
  }
  await assertRejects(fetch(BASE + '/badjson').then(r => r.json()), 'BAD_JSON', ['r.json()', 'status 200'], 'fetch json() rejects on bad JSON');
})();

// TextDecoderLike measures an ArrayBuffer without TextDecoder (not in goja).
function TextDecoderLike(buf) { this.length = new Uint8Array(buf).length; }
