package main

import "github.com/scriptrun/scriptrun/internal/benchdata"

// The scripts each peer runs. Each prints one JSON line with its own timing,
// so process start-up is measured only where it is the point (cold start).

// scriptSeq: URL N signed|bearer TOKEN. signed: apiTokenAuth(TOKEN), a
// token name; bearer: the same Authorization header set by the script,
// TOKEN being the access token (the same request on the wire).
const scriptSeq = `
const url = args[0], n = Number(args[1]), mode = args[2], token = args[3];
const t0 = Date.now();
for (let i = 0; i < n; i++) {
  let req = http.get(url + '/data');
  if (mode === 'signed') req = req.apiTokenAuth(token);
  else if (mode === 'bearer') req = req.header('Authorization', 'Bearer ' + token);
  else throw new Error('mode ' + mode + ': want signed or bearer');
  const res = req.send();
  if (res.status !== 200) throw new Error('status ' + res.status);
}
console.log(JSON.stringify({ ms: Date.now() - t0 }));
`

const nodeSeq = `
const [url, n, token] = process.argv.slice(2);
const t0 = performance.now();
for (let i = 0; i < Number(n); i++) {
  const r = await fetch(url + '/data', { headers: { Authorization: 'Bearer ' + token } });
  await r.text();
  if (r.status !== 200) throw new Error('status ' + r.status);
}
console.log(JSON.stringify({ ms: performance.now() - t0 }));
`

// scriptConc: URL N CONCURRENCY TOKEN, with sendAsync; scriptFetchConc
// the same with fetch. They live in internal/benchdata, so that the
// runtime's in-memory benchmark runs them too.
const (
	scriptConc      = benchdata.ConcSendAsync
	scriptFetchConc = benchdata.ConcFetch
)

const nodeConc = `
const [url, n, c, token] = process.argv.slice(2);
let started = 0;
async function worker() {
  while (started < Number(n)) {
    started++;
    const r = await fetch(url + '/data', { headers: { Authorization: 'Bearer ' + token } });
    await r.text();
    if (r.status !== 200) throw new Error('status ' + r.status);
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: Number(c) }, worker));
console.log(JSON.stringify({ ms: performance.now() - t0 }));
`

const scriptHello = `console.log('hello');`

const scriptStorm = `
const url = args[0], c = Number(args[1]);
const lat = [];
Promise.all(Array.from({ length: c }, () => {
  const t = Date.now();
  return http.get(url + '/data').apiTokenAuth('bench').sendAsync().then((res) => {
    if (res.status !== 200) throw new Error('status ' + res.status);
    lat.push(Date.now() - t);
  });
})).then(() => console.log(JSON.stringify({ lat })));
`

const scriptJSON = `
const url = args[0], iters = Number(args[1]);
const t0 = Date.now();
for (let i = 0; i < iters; i++) {
  const records = http.get(url + '/big').apiTokenAuth('bench').send().json();
  const open = records
    .filter((r) => r.status === 'open' && r.priority > 1)
    .map((r) => ({ id: r.id, email: r.owner.email, score: r.score }));
  const summary = { count: open.length, total: open.reduce((s, r) => s + r.score, 0) };
  const res = http.post(url + '/summary').apiTokenAuth('bench').json(summary).send();
  if (!res.ok) throw new Error('summary ' + res.status);
}
console.log(JSON.stringify({ ms: (Date.now() - t0) / iters }));
`

const nodeJSON = `
const [url, iters, token] = process.argv.slice(2);
const auth = { Authorization: 'Bearer ' + token };
const t0 = performance.now();
for (let i = 0; i < Number(iters); i++) {
  const records = await (await fetch(url + '/big', { headers: auth })).json();
  const open = records
    .filter((r) => r.status === 'open' && r.priority > 1)
    .map((r) => ({ id: r.id, email: r.owner.email, score: r.score }));
  const summary = { count: open.length, total: open.reduce((s, r) => s + r.score, 0) };
  const res = await fetch(url + '/summary', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify(summary) });
  await res.text();
  if (!res.ok) throw new Error('summary ' + res.status);
}
console.log(JSON.stringify({ ms: (performance.now() - t0) / Number(iters) }));
`
