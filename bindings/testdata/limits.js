// BODY_TOO_LARGE and TIMEOUT.
(async () => {
  assertEq(http.get(BASE + '/big?n=1024').send().body.length, 1024, 'exactly the limit is fine');
  assertThrows(() => http.get(BASE + '/big?n=1025').send(), 'BODY_TOO_LARGE', ['the response body (1025 bytes, per Content-Length) is larger than the limit of 1 KiB (1024 bytes)', 'paging'], 'Content-Length over the limit');
  assertThrows(() => http.get(BASE + '/big?n=5000&chunked=1').send(), 'BODY_TOO_LARGE', 'limit of 1 KiB', 'streamed body over the limit');
  await assertRejects(fetch(BASE + '/big?n=4096'), 'BODY_TOO_LARGE', 'GET ' + BASE + '/big?…', 'fetch over the limit');

  const t0 = Date.now();
  assertThrows(() => http.get(BASE + '/slow').timeout(50).send(), 'TIMEOUT', ['GET ' + BASE + '/slow', 'within 50ms', '.timeout(50)'], 'request timeout');
  assert(Date.now() - t0 < 2000, 'timeout was prompt');
  await assertRejects(http.get(BASE + '/slow').timeout(50).sendAsync(), 'TIMEOUT', 'within 50ms', 'async request timeout');
  await assertRejects(fetch(BASE + '/slow', { timeout: 50 }), 'TIMEOUT', 'within 50ms', 'fetch timeout');
})();
