// apiTokenAuth: the server receives the credential; JavaScript never sees it.
(async () => {
  const b = http.get(BASE + '/echo').apiTokenAuth('graph-mail');
  const res = b.send();
  assertEq(res.json().authorized, true, 'server received the signer header');
  const everything = JSON.stringify([b, res, res.headers, Object.keys(b), b.url]);
  assert(!everything.includes('s3cr3t'), 'no credential in the builder or the response');
  assert(!everything.toLowerCase().includes('authorization'), 'no Authorization header visible');

  const r = await fetch(BASE + '/echo', { apiTokenAuth: 'graph-mail' });
  assertEq((await r.json()).authorized, true, 'fetch is signed');
  assert(!JSON.stringify([...r.headers]).includes('s3cr3t'), 'fetch response does not show the credential');

  const a = await http.get(BASE + '/protected').apiTokenAuth('graph-mail').sendAsync();
  assertEq([a.status, a.json().ok], [200, true], 'sendAsync is signed');

  // Signer errors surface with their code.
  assertThrows(() => http.get(BASE + '/echo').apiTokenAuth('missing').send(), 'TOKEN_NOT_FOUND',
    ['GET ' + BASE + '/echo', 'apiTokenAuth("missing")', 'does not exist'], 'missing token');
  const e = assertThrows(() => http.get(BASE + '/echo').apiTokenAuth('reauth').send(), 'REAUTH_REQUIRED', 'Get authorization token', 'wrapped coded error');
  assert(!e.message.includes('s3cr3t'), 'no secret in messages');
  assertThrows(() => http.get(BASE + '/echo').apiTokenAuth('broken').send(), 'SIGN_FAILED', 'the token store is unreadable', 'uncoded error');
  await assertRejects(fetch(BASE + '/echo', { apiTokenAuth: 'reauth' }), 'REAUTH_REQUIRED', 'apiTokenAuth("reauth")', 'fetch signer error');
  await assertRejects(http.get(BASE + '/echo').apiTokenAuth('missing').sendAsync(), 'TOKEN_NOT_FOUND', 'does not exist', 'sendAsync signer error');

  // A redirect to another origin does not carry the credential.
  const red = http.get(BASE + '/redirect?to=' + encodeURIComponent(OTHER + '/echo')).apiTokenAuth('graph-mail').send();
  assertEq(red.json().authorized, false, 'credential dropped on a cross-origin redirect');
  const same = http.get(BASE + '/redirect?to=' + encodeURIComponent(BASE + '/echo')).apiTokenAuth('graph-mail').send();
  assertEq(same.json().authorized, true, 'credential kept on a same-origin redirect');
  const fred = await fetch(BASE + '/redirect?to=' + encodeURIComponent(OTHER + '/echo'), { apiTokenAuth: 'graph-mail' });
  assertEq((await fred.json()).authorized, false, 'fetch: credential dropped on a cross-origin redirect');
  const ared = await http.get(BASE + '/redirect?to=' + encodeURIComponent(OTHER + '/echo')).apiTokenAuth('graph-mail').sendAsync();
  assertEq(ared.json().authorized, false, 'sendAsync: credential dropped on a cross-origin redirect');

  // A Request carries apiTokenAuth to fetch, and shows nothing of it.
  const req = new Request(BASE + '/echo', { apiTokenAuth: 'graph-mail', headers: { 'X-A': 'a' } });
  const shown = JSON.stringify([req, Object.keys(req), [...req.headers], req.clone()]);
  assert(!shown.includes('graph-mail') && !shown.includes('s3cr3t'), 'a Request shows neither the token name nor the credential: ' + shown);
  const rr = await (await fetch(req)).json();
  assertEq([rr.authorized, rr.headers['x-a']], [true, 'a'], 'fetch(request) is signed and keeps the headers');
  assertEq((await (await fetch(req.clone())).json()).authorized, true, 'a clone is signed too');
  assertEq((await (await fetch(new Request(req))).json()).authorized, true, 'new Request(request) keeps apiTokenAuth');
  assertEq((await (await fetch(req, { apiTokenAuth: null })).json()).authorized, true, 'init.apiTokenAuth null does not remove it');
})();
