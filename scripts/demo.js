// demo.js: what `scriptrun demo` runs against its sandbox API.
// args[0] is the API's base URL; the token "demo-api" lives 2 seconds, so the
// calls below cross several expiries and each one is refreshed on the way.
const api = args[0];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const me = http.get(`${api}/me`).apiTokenAuth('demo-api').send().json();
  console.log(`signed in as ${me.user} (scope: ${me.scope})`);

  for (let round = 1; round <= 3; round++) {
    const res = http.get(`${api}/items`)
      .apiTokenAuth('demo-api')
      .header('Accept', 'application/json')
      .query({ n: 3 })
      .timeout(5000)
      .send();
    if (!res.ok) throw new Error(`GET /items answered HTTP ${res.status}`);
    const names = res.json().map((item) => item.name).join(', ');
    console.log(`round ${round}: HTTP ${res.status}, items: ${names}`);
    await sleep(2200); // longer than the token lives: the next call refreshes it
  }

  const r = await fetch(`${api}/echo`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ hello: 'world' }),
    apiTokenAuth: 'demo-api',
  });
  const echo = await r.json();
  console.log(`fetch POST /echo: HTTP ${r.status}, the API saw body ${echo.body}`);

  const many = await Promise.all(
    Array.from({ length: 20 }, () => http.get(`${api}/me`).apiTokenAuth('demo-api').sendAsync()),
  );
  console.log(`20 concurrent calls: ${many.filter((res) => res.ok).length} succeeded`);

  try {
    http.get('https://example.com/').apiTokenAuth('demo-api').send();
  } catch (err) {
    console.log(`sending the token to another host is refused: ${err.code}`);
  }
}

main();
