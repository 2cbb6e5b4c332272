// Package bindings is the JavaScript API for outbound HTTP: the http.*
// request builders, fetch, Headers, Request, Response, response objects and
// the error codes scripts see. It knows nothing about OAuth or the store: requests that call
// apiTokenAuth(name) are signed by a [Signer], and asynchronous work is handed
// back to the event loop through a [Host].
//
// # JavaScript API
//
//	const res = http.get(url)               // also post, put, patch, delete, head, request(method, url)
//	  .apiTokenAuth('graph-mail')           // signed by the Signer; the credential never reaches JS
//	  .header('Accept', 'application/json') // or .header({Accept: '…'}); undefined/null removes
//	  .query({ $top: 10, id: [1, 2] })      // arrays repeat the key; undefined/null are skipped
//	  .timeout(10000)                       // ms, for the whole call; 0 = none
//	  .signal(controller.signal)            // an AbortSignal cancels the call; null removes it
//	  .retry({ on: [429, 503], max: 3 })    // opt-in retries; .retry() = on [429, 502, 503, 504], max 3; null removes
//	  .send();                              // synchronous; .sendAsync() returns a Promise
//	res.status; res.ok; res.statusText; res.url; res.body; res.headers; // lower-case names, ", "-joined
//	res.header('content-type'); res.json(); res.text();
//	http.post(url).json(obj) | .form(obj) | .body(text, contentType)
//
//	const r = await fetch(url, { method, headers, body, apiTokenAuth: 'graph-mail', timeout: 5000, signal, retry: { max: 2 } });
//	r.ok; r.status; r.statusText; r.url; r.headers.get(name); await r.text(); await r.json();
//	await r.arrayBuffer(); r.clone(); r instanceof Response
//
//	const req = new Request(url, { method, headers, body, apiTokenAuth: 'graph-mail', signal });
//	await fetch(req); await fetch(req, { method: 'PUT' }); req.clone(); await req.text();
//	new Response(body, { status, statusText, headers }); Response.json(data, init)
//	[...headers]  // sorted, lower-case names, values joined with ", ", each Set-Cookie apart; headers.getSetCookie()
//
//	var sm = new sn_ws.RESTMessageV2();     // ServiceNow style (servicenow.go, docs/SERVICENOW.md)
//	sm.setEndpoint(url); sm.setAuthenticationProfile('oauth2', 'graph-mail');
//	var response = sm.execute();            // the same path as send(); HTTP and transport
//	response.haveError(); response.getBody(); // failures are responses, token problems throw
//
// Errors thrown into JavaScript are Error objects with a code property: the
// Signer's code (TOKEN_NOT_FOUND, REAUTH_REQUIRED, …) or one of the Code*
// constants. A non-2xx status is not an error.
//
// # Caveats
//
//   - An answer to a signed request that the Signer says refuses the
//     credential (Signer.Rejects: by default a 401; a provider may add
//     statuses such as 403, or a pattern in the body of a 200) makes
//     bindings call Signer.Rejected, sign again and retry exactly once.
//     Builders always hold their body as bytes, so every request can be
//     replayed. Bindings ask Rejects with the status alone; only when it
//     asks for the body do they read its start (at most MaxRejectionPeek
//     bytes) and ask again, and the script then gets that start and the
//     rest as one body. The retry's answer is not asked about: it is the
//     script's, whatever it says. Neither is an answer from where a
//     redirect took the request without the credential (another origin, or
//     outside the token's binding): it says nothing about the token.
//   - .timeout(ms) covers signing (including a token refresh), sending, the
//     retry, the retries of .retry with their waits, and reading the body.
//   - .retry(options) and fetch's init.retry (true for the defaults) send a
//     request again when its answer's status is listed in on (HTTP statuses
//     400-599; default 429, 502, 503, 504), at most max more times (0-10,
//     default 3); res.attempts (and r.attempts) says how many were made.
//     Before each retry they wait what the answer's Retry-After says
//     (seconds or an HTTP date), or else a random time up to 200 ms · 2^n
//     (n = retries so far; at most 10 s: exponential back-off with full
//     jitter). When the wait would end after the request's deadline (its
//     .timeout, or the run's timeout) or Retry-After asks for more than
//     60 s, they stop and the script gets that last answer: a response, not
//     an error. A failure to connect or a reset (NETWORK) is retried only when
//     on lists 'network': the server may have acted on a request whose
//     answer was lost, so list it only for requests that are safe to repeat.
//     Every body bindings send is held as bytes (strings, ArrayBuffers, typed
//     arrays, JSON, forms), so every request can be replayed; there is no
//     streaming body. Each attempt is signed afresh; the one resend after a
//     refused credential (Signer.Rejects) happens once per call, not once
//     per attempt. The waits never block the event loop for sendAsync and
//     fetch (they run on their own goroutine); .send() blocks the script,
//     as it does while waiting for an answer, and an AbortSignal, the
//     request's timeout or the run's end stop the wait at once.
//   - Response bodies are read into memory, up to Options.MaxResponseBytes.
//   - A signed request goes to its URL's own host: a script-set Host header
//     naming another host is refused with HOST_MISMATCH before the Signer is
//     asked, and nothing is sent. Unsigned requests may set Host.
//   - Redirects of a signed request never carry a Referer (net/http would
//     copy the previous URL, query and all, into it). When a redirect leaves
//     the signed request's origin, or a URL the Signer permits (Permits: a
//     token bound to a path), the headers and query parameters the Signer
//     added are removed before following it.
//   - What the Signer added is found by comparing the request before and
//     after Sign. Query parameters it set (an api-key in the URL) are shown
//     as REDACTED in res.url, fetch's r.url and Location headers, and the
//     values it set are scrubbed from messages.
//   - Messages show URLs without their query or user info, since those may
//     carry secrets.
//   - fetch supports a subset of the standard: no streams, no Blob or
//     FormData, bodies may be read more than once (there is no bodyUsed), and
//     a response's type, redirected and Response.error/redirect are missing.
//   - A Request made with apiTokenAuth keeps the token's name hidden: its
//     properties are method, url, headers and signal, and fetch(request)
//     (or a clone, or new Request(request)) is signed as fetch with
//     init.apiTokenAuth would be. request.signal is null when it has none.
//   - Request, Response and Headers can be called without new (goja's native
//     constructors cannot tell); the standard throws a TypeError.
//   - An AbortSignal (Options.Signal tells one from other values) cancels
//     the request's context in whatever phase it is: signing, connecting,
//     waiting for headers or reading the body. A request that fails once its
//     signal has aborted throws or rejects with the signal's reason (an
//     AbortError or TimeoutError DOMException unless the script gave
//     another), as fetch does in browsers; one aborted before it is sent is
//     not sent. net/http may finish a dial that was in progress in the
//     background and keep the connection for later requests.
package bindings
