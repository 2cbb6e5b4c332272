// Request and Response constructors, fetch(request), response.clone() and
// Headers iteration as the Fetch standard says.
(async () => {
  // Headers: sorted, lower-case, combined, Set-Cookie kept apart.
  const h = new Headers([['B', '1'], ['a', '2'], ['b', '3'], ['Set-Cookie', 'x=1'], ['set-cookie', 'y=2'], ['C', '']]);
  assertEq([...h], [['a', '2'], ['b', '1, 3'], ['c', ''], ['set-cookie', 'x=1'], ['set-cookie', 'y=2']], 'sort and combine');
  assertEq(h.get('set-cookie'), 'x=1, y=2', 'get joins Set-Cookie');
  assertEq(h.getSetCookie(), ['x=1', 'y=2'], 'getSetCookie');
  assertEq(new Headers().getSetCookie(), [], 'getSetCookie with none');
  assertEq([...h.keys()], ['a', 'b', 'c', 'set-cookie', 'set-cookie'], 'keys');
  assertEq([...h.values()], ['2', '1, 3', '', 'x=1', 'y=2'], 'values');

  // Response.
  let r = new Response('hé', { status: 201, statusText: 'Made', headers: { 'X-A': 'a' } });
  assert(r instanceof Response, 'instanceof Response');
  assertEq([r.status, r.ok, r.statusText, r.url, r.headers.get('x-a'), r.headers.get('content-type')], [201, true, 'Made', '', 'a', 'text/plain;charset=UTF-8'], 'fields');
  assertEq(await r.text(), 'hé', 'text()');
  assertEq(Array.from(new Uint8Array(await r.arrayBuffer())), [0x68, 0xc3, 0xa9], 'arrayBuffer()');
  r.headers.set('x-b', 'b');
  assertEq(r.headers.get('x-b'), 'b', 'a constructed response has mutable headers');
  const c = r.clone();
  c.headers.set('x-b', 'changed');
  assertEq([r.headers.get('x-b'), await c.text(), c.status], ['b', 'hé', 201], 'clone is separate and has the same body');
  r = new Response();
  assertEq([r.status, r.statusText, await r.text(), r.headers.get('content-type')], [200, '', '', null], 'defaults');
  r = new Response(new Uint8Array([1, 2]));
  assertEq([r.headers.get('content-type'), (await r.arrayBuffer()).byteLength], [null, 2], 'binary body has no content type');
  r = new Response(new URLSearchParams({ a: '1 2' }));
  assertEq([await r.text(), r.headers.get('content-type')], ['a=1+2', 'application/x-www-form-urlencoded;charset=UTF-8'], 'URLSearchParams body');
  r = Response.json({ a: [1] }, { status: 202 });
  assertEq([r.status, r.headers.get('content-type'), await r.json()], [202, 'application/json', { a: [1] }], 'Response.json');
  r = new Response(null, { status: 204 });
  assertEq(r.status, 204, 'a null body with 204');
  for (const [f, name, what] of [
    [() => new Response('x', { status: 204 }), 'TypeError', 'a body with 204'],
    [() => new Response('x', { status: 199 }), 'RangeError', 'status below 200'],
    [() => new Response('x', { status: 600 }), 'RangeError', 'status above 599'],
    [() => new Response('x', { status: 200.5 }), 'RangeError', 'a fractional status'],
    [() => new Response('x', { statusText: 'a\nb' }), 'TypeError', 'a line break in statusText'],
    [() => new Response({}), 'TypeError', 'an object body'],
    [() => Response.json(undefined), 'TypeError', 'Response.json(undefined)'],
  ]) {
    let e;
    try { f(); } catch (x) { e = x; }
    assertEq(e && e.name, name, what);
  }

  // A fetch response is a Response, and clones.
  const fr = await fetch(BASE + '/echo');
  assert(fr instanceof Response, 'fetch responses are Responses');
  const fc = fr.clone();
  assertEq([fc.status, fc.url, (await fc.json()).method], [200, BASE + '/echo', 'GET'], 'a fetch response clones');
  assertThrows(() => fc.headers.set('x', 'y'), 'BAD_REQUEST', 'read-only', 'the clone of a fetch response keeps immutable headers');

  // Request.
  const req = new Request(BASE + '/echo?q=1', { method: 'post', headers: { 'Content-Type': 'application/json' }, body: '{"a":1}' });
  assert(req instanceof Request, 'instanceof Request');
  assertEq([req.method, req.url, req.headers.get('content-type'), req.signal], ['POST', BASE + '/echo?q=1', 'application/json', null], 'fields');
  assertEq(await req.json(), { a: 1 }, 'request.json()');
  assertEq(await req.text(), '{"a":1}', 'request.text()');
  assertEq(Object.keys(req), ['method', 'url', 'headers', 'signal'], 'keys');
  req.headers.set('X-Late', 'yes');
  let echo = await (await fetch(req)).json();
  assertEq([echo.method, echo.body, echo.headers['x-late'], echo.query], ['POST', '{"a":1}', 'yes', { q: ['1'] }], 'fetch(request) sends what the Request holds, headers set later included');
  echo = await (await fetch(req, { method: 'PUT', headers: { 'X-B': 'b' } })).json();
  assertEq([echo.method, echo.headers['x-b'], echo.headers['x-late'], echo.body], ['PUT', 'b', undefined, '{"a":1}'], 'init overrides: method, headers replaced, body kept');
  const copy = new Request(req, { method: 'PATCH' });
  assertEq([copy.method, req.method, await copy.text()], ['PATCH', 'POST', '{"a":1}'], 'new Request(request, init) copies');
  const cl = req.clone();
  cl.headers.set('X-Late', 'no');
  assertEq([req.headers.get('x-late'), cl.headers.get('x-late')], ['yes', 'no'], 'clone has its own headers');
  await assertRejects(Promise.resolve().then(() => new Request('ftp://x/')), 'BAD_REQUEST', 'http', 'a non-http URL');
  let thrown;
  try { new Request(BASE, { body: 'x' }); } catch (e) { thrown = e; }
  assertEq(thrown && thrown.code, 'BAD_REQUEST', 'a GET Request cannot have a body');
})();
