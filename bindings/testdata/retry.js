// 401 -> Signer.Rejected -> sign again -> retry once.
(async () => {
  const res = http.post(BASE + '/protected').json({ a: 1 }).apiTokenAuth('stale').send();
  assertEq([res.status, res.json().ok], [200, true], 'retried with a fresh token');
  const again = http.get(BASE + '/always401').apiTokenAuth('graph-mail').send();
  assertEq(again.status, 401, 'a second 401 is returned, not retried again');
  const unsigned = http.get(BASE + '/always401').send();
  assertEq(unsigned.status, 401, 'requests without apiTokenAuth are not retried');
  assertThrows(() => http.get(BASE + '/always401').apiTokenAuth('gone').send(), 'REAUTH_REQUIRED', 'refresh token was revoked', 'Rejected error');
})();
