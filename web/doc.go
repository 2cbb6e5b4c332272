// Package web is scriptrun's admin console: server-rendered pages to manage
// providers, outbound tokens and cron jobs, the "Get authorization token"
// flow and the OAuth callback that finishes it. `scriptrun serve` wires it to
// the home's store, token manager, cron scheduler and provider templates, and
// serves Server.Handler.
//
// # Pages
//
//	GET       /login, /setup?token=T      sign in; choose the first password
//	POST      /login, /setup, /logout
//	GET       /tokens, /tokens/NAME       list; one token with its buttons
//	GET|POST  /tokens/-/new, /tokens/NAME/edit, /tokens/NAME/delete
//	POST      /tokens/NAME/authorize      "Get authorization token": to the provider
//	POST      /tokens/NAME/refresh        "Refresh now"
//	GET|POST  /tokens/NAME/revoke         "Revoke": at the provider (RFC 7009), then erase
//	POST      /tokens/NAME/test           "Test": one signed request (tokens.Manager.Check)
//	GET|POST  /tokens/NAME/links, POST /tokens/NAME/links/ID/revoke   reconnect links
//	GET|POST  /reconnect?link=SECRET      a link holder's one page, without a session (reconnect.go)
//	GET|POST  /providers/... (the same shape as tokens)
//	GET       /providers/-/new?template=T&param.P=V   the form filled from a provider template
//	GET       /cron, /cron/NAME           jobs with next and last run; one job with its history
//	GET|POST  /cron/-/new, /cron/NAME/edit, /cron/NAME/delete   (action=check: validate, show SHA-256, save nothing)
//	POST      /cron/NAME/run, /cron/NAME/enable, /cron/NAME/disable
//	GET       /cron/NAME/runs/ID          a run: status, timing, error, output as text
//	GET       /cron/NAME/runs/ID/output   the run's kept output, as a text/plain download
//	POST      /cron/NAME/runs/ID/cancel   cancel a run queued or running in this serve
//	GET       /oauth/callback             the redirect URI registered at providers
//	GET       /static/FILE                the stylesheet and a small script
//
// Forms to create a record live under "-", which cannot be a sub-page of any
// record, because "new" is a valid record name.
//
// Each area of the console (tokens, providers, cron jobs) is a section: a
// file with a method that returns its navigation entry and routes, listed
// once in Server.sections.
//
// The cron pages read jobs and runs from the store, so they work in a serve
// that does not run the jobs (another serve on the home holds the
// scheduler); Options.Cron says where the jobs run, starts runs there and
// cancels runs of this process. A job's script is captured when the form is
// saved, pasted or read from a .js file on the server (never another kind of
// file: the form must not read the key or the database). Pages of queued and
// running runs reload themselves with a Refresh header, no script needed.
//
// # Security
//
// Before any page, the callback and the static files, the Host header must
// name a host the console serves (Options.AllowedHosts and the callback
// URL's host, see AllowedHosts); anything else gets 421 Misdirected
// Request. Without it, DNS rebinding would let any web page the admin
// visits point its own name at the console's address and use the console
// as same-origin, sign-in and setup link included.
//
// Every page but sign-in, setup and the static files needs a session: a
// random 256-bit cookie (HttpOnly, SameSite=Lax, Secure and __Host- prefixed
// when browsers reach the console over HTTPS) naming server-side state. Lax,
// not Strict, because the provider's redirect back to /oauth/callback is a
// cross-site navigation that must carry the session. Every POST carries the
// session's CSRF token (sign-in and setup, which have no session yet, a
// double-submit cookie), and net/http's CrossOriginProtection refuses
// cross-origin POSTs as a second line. Failed sign-ins are slowed per client
// address with a capped exponential delay, never a lock.
//
// "Get authorization token" keeps the tokens.Authorization (with its PKCE
// verifier) keyed by state, bound to the session that started it,
// single-use and valid for tokens.AuthorizationTTL. The callback refuses any
// other state without consuming the pending one.
//
// Sessions (with their CSRF token and messages), pending authorizations and
// sign-in delays live in the store's ephemeral state (store.Ephemeral):
// sealed with the master key under the SHA-256 of the cookie value, state
// or address, expiring on their own. Every node on one store so serves
// every browser, a callback may reach another node than the one that
// started the authorization (the store's Take uses a state once across
// nodes), and a restart signs nobody out. A used session writes its last
// use at most every sessionTouch. Nodes started on a store without an admin
// password share one setup link the same way.
//
// Templates never see a secret: they get view structs with the client
// secret masked and token secrets reduced to "has a refresh token". Logs
// name who did what (session id prefix, client address) and never carry a
// query string, cookie, code, state or secret.
//
// # Caveats
//
//   - Expiry is judged by each node's clock: keep the nodes' clocks in
//     sync (NTP), or sessions end as early or late as they differ.
//   - A reverse proxy that passes the public Host through needs that name
//     in AllowedHosts (serve's --allowed-host); one that sends its own
//     upstream address (nginx's default) needs nothing.
//   - Sign-in delays are per client address, shared by every node; behind
//     a reverse proxy every client shares the proxy's address. `scriptrun admin password` clears
//     them.
package web
