// Package sandbox is a real OAuth2 authorization server with a login page,
// and a bearer-protected JSON API, on a loopback port. `scriptrun demo`
// runs against it, and tests across scriptrun use it to exercise the
// authorization-code flow with PKCE, token refresh and rotation, client
// authentication styles, error handling and concurrency, over real HTTP.
//
// It is built on github.com/go-oauth2/oauth2/v4 (server, manage, models):
// the library issues and checks codes and tokens; this package adds the
// login and consent page, strict client authentication, an in-memory token
// store, RFC 6749 status codes, counters and fault injection.
//
// A Server has one client (Options.ClientID) and a few users
// (Options.Users, default demo/demo). Its endpoints:
//
//	GET|POST /authorize   login and consent page; response_type=code only
//	POST     /token       authorization_code, refresh_token, client_credentials
//	POST     /revoke      RFC 7009 revocation
//	GET      /.well-known/oauth-authorization-server   RFC 8414 metadata
//	GET      /api/me      {"user", "client", "scope"} of the bearer token
//	GET      /api/items?n=N   N small records
//	ANY      /api/echo    what was received (never the Authorization header)
//	GET      /api/slow?ms=N   waits, or counts the client giving up
//
// SignIn drives the login page like a person would, so the whole flow can
// run unattended.
//
// # Caveats
//
// This is NOT a production authorization server. Everything lives in
// memory and dies with the Server; passwords are plain strings; there is
// one client; any scope is granted as asked.
//
// The library reads the wall clock (time.Now) everywhere, so there is no
// clock injection: use short TTLs, or Server.ExpireAccessTokens to make
// access tokens expire without waiting. expires_in is in whole seconds,
// rounded down, so AccessTTL must be at least one second.
//
// Deliberately stricter than many real providers, to catch client bugs:
// refresh tokens rotate by default and a rotated one fails with
// invalid_grant; the previous access token dies on refresh; a code or
// refresh token is redeemed at most once even under concurrent requests;
// only the configured client authentication style is accepted; PKCE
// "plain" is refused.
package sandbox
