// sendAsync and Promise.all of 64 concurrent requests.
(async () => {
  const started = Date.now();
  const reqs = [];
  for (let i = 0; i < 64; i++) reqs.push(http.get(BASE + '/delay').query({ ms: 100, i }).sendAsync());
  assert(reqs.every(p => p instanceof Promise), 'sendAsync returns promises');
  const all = await Promise.all(reqs);
  assertEq(all.map(r => r.json().i), Array.from({ length: 64 }, (_, i) => String(i)), 'responses in order');
  assert(Date.now() - started < 3000, 'requests ran concurrently: ' + (Date.now() - started) + ' ms');

  // The builder is copied: changing it after sendAsync does not affect the request.
  const b = http.get(BASE + '/echo').query({ a: 1 });
  const p = b.sendAsync();
  b.query({ b: 2 });
  const pr = await p;
  assertEq(pr.json().rawQuery, 'a=1', 'sendAsync sends the builder as it was');
  assertEq([pr.url, b.url], [BASE + '/echo?a=1', BASE + '/echo?a=1&b=2'], 'res.url is the URL sent, not the builder changed since');

  // res.url: the URL's own query with the parameters .query() added, as sent.
  const q = http.get(BASE + '/echo?x=1').query({ y: 'a b', $top: 2 });
  const qs = q.send(), qa = await q.sendAsync(), qf = await fetch(q.url);
  q.query({ z: 3 });
  assertEq([qs.url, qa.url, qf.url], Array(3).fill(BASE + '/echo?x=1&y=a%20b&$top=2'), 'res.url with .query()');
  assertEq([qs.json().rawQuery, qa.json().rawQuery], ['x=1&y=a%20b&$top=2', 'x=1&y=a%20b&$top=2'], 'the query sent');
  assertEq(http.get(BASE + '/echo?').send().url, BASE + '/echo?', 'an empty query is kept');

  // Builders of one URL text are independent of each other.
  const same = () => http.get(BASE + '/echo?k=1#frag');
  const s1 = same().query({ only: 1 }), s2 = same();
  const [r1, r2] = await Promise.all([s1.sendAsync(), s2.sendAsync()]);
  assertEq([s1.url, s2.url, r1.url, r2.url, r1.json().rawQuery, r2.json().rawQuery],
    [BASE + '/echo?k=1&only=1', BASE + '/echo?k=1', BASE + '/echo?k=1&only=1', BASE + '/echo?k=1', 'k=1&only=1', 'k=1'], 'builders of one URL');

  // The same response object as send().
  const res = await http.post(BASE + '/echo').json({ x: 1 }).sendAsync();
  assertEq([res.status, res.ok, res.json().body], [200, true, '{"x":1}'], 'async response');
  const nf = await http.get(BASE + '/status/503').sendAsync();
  assertEq(nf.ok, false, 'non-2xx resolves');
})();
