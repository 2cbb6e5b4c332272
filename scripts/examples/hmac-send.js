// Sends a signed JSON body to the example receiver (scripts/examples/hmac-receiver).
//
//   export HMAC_API_TOKEN=hooks-token-0001 HMAC_API_SECRET="$(openssl rand -hex 32)"
//   go run ./scripts/examples/hmac-receiver &
//   scriptrun token add hooks --type hmac-body --api-token-env HMAC_API_TOKEN \
//     --api-secret-env HMAC_API_SECRET --base-url http://127.0.0.1:8088
//   scriptrun scripts/examples/hmac-send.js
//
// The script never sees the API secret: apiTokenAuth('hooks') signs the request.
const res = http.post('http://127.0.0.1:8088/hooks/tickets')
  .apiTokenAuth('hooks')
  .json({ title: 'Printer on fire', priority: 1 })
  .send();
console.log(res.status, res.body);
if (!res.ok) throw new Error('the receiver refused the request: ' + res.body);
