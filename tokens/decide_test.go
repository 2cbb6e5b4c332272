package tokens

import (
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// The policy, state by state, for every reason and token type. Each row of
// decideRows is a token type and state; its columns say what decide answers
// when the token is due for signing, forced (`token refresh`), and rejected
// by an API with the access token it holds, with an older one, and with
// none. "refuse:CODE" and "fail:CODE" name the error's code.
func TestDecide(t *testing.T) {
	for _, tt := range decideRows {
		reasons := []struct {
			name string
			r    reason
			want string
		}{
			{"due", due, tt.want.due},
			{"forced", forced, tt.want.forced},
			{"rejected with its access token", rejectedWith(tt.tok.Secret.AccessToken), tt.want.same},
			{"rejected with an older one", rejectedWith("older"), tt.want.older},
			{"rejected without a credential", rejectedWith(""), tt.want.none},
		}
		if tt.tok.Secret.AccessToken == "" {
			reasons[2].r = rejectedWith("older") // there is no access token to be rejected with
		}
		for _, rs := range reasons {
			if got := describeDecision(decide(&tt.tok, tt.p, rs.r, decideNow)); got != rs.want {
				t.Errorf("%s, %s: %s, want %s", tt.name, rs.name, got, rs.want)
			}
		}
	}
}

type (
	decideWant struct{ due, forced, same, older, none string }
	decideRow  struct {
		name string
		tok  store.Token
		p    *store.Provider
		want decideWant
	}
)

var (
	decideNow   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	authCode    = &store.Provider{Name: "idp", GrantType: store.GrantAuthorizationCode}
	clientCreds = &store.Provider{Name: "m2m", GrantType: store.GrantClientCredentials}
	password    = &store.Provider{Name: "legacy", GrantType: "password"}
)

var decideRows = append([]decideRow{
	// oauth2, authorization_code provider
	{"code: inactive", oauth2At(time.Hour, inactive), authCode, decideWant{"refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE"}},
	{"code: unauthorized", oauth2At(time.Hour, unauthorized), authCode, decideWant{"refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED"}},
	{"code: reauth_required", oauth2At(time.Hour, reauth), authCode, decideWant{"refuse:REAUTH_REQUIRED", "refuse:REAUTH_REQUIRED", "refuse:REAUTH_REQUIRED", "refuse:REAUTH_REQUIRED", "refuse:REAUTH_REQUIRED"}},
	{"code: valid", oauth2At(time.Hour), authCode, decideWant{"use", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
	{"code: no expiry given", oauth2At(0, noExpiry), authCode, decideWant{"use", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
	{"code: within margin", oauth2At(4 * time.Minute), authCode, decideWant{"refresh", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
	{"code: within margin, backing off", oauth2At(4*time.Minute, failedNow), authCode, decideWant{"keep", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
	{"code: within margin, back-off over", oauth2At(4*time.Minute, failedLongAgo), authCode, decideWant{"refresh", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
	{"code: expired", oauth2At(-time.Minute), authCode, decideWant{"refresh", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
	{"code: expired, failed a moment ago", oauth2At(-time.Minute, failedNow), authCode, decideWant{"refresh", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
	{"code: no refresh token, valid", oauth2At(time.Hour, withoutRefreshToken), authCode, decideWant{"use", "fail:REAUTH_REQUIRED", "fail:REAUTH_REQUIRED", "use", "refuse:REFRESH_FAILED"}},
	{"code: no refresh token, within margin", oauth2At(4*time.Minute, withoutRefreshToken), authCode, decideWant{"use", "fail:REAUTH_REQUIRED", "fail:REAUTH_REQUIRED", "use", "refuse:REFRESH_FAILED"}},
	{"code: no refresh token, expired", oauth2At(-time.Minute, withoutRefreshToken), authCode, decideWant{"fail:REAUTH_REQUIRED", "fail:REAUTH_REQUIRED", "fail:REAUTH_REQUIRED", "use", "refuse:REFRESH_FAILED"}},
	{"code: provider gone, valid", oauth2At(time.Hour), nil, decideWant{"use", "fail:REFRESH_FAILED", "fail:REFRESH_FAILED", "use", "refuse:REFRESH_FAILED"}},
	{"code: provider gone, expired", oauth2At(-time.Minute), nil, decideWant{"fail:REFRESH_FAILED", "fail:REFRESH_FAILED", "fail:REFRESH_FAILED", "use", "refuse:REFRESH_FAILED"}},
	{"code: provider with another grant, expired", oauth2At(-time.Minute), password, decideWant{"refuse:UNSUPPORTED_GRANT", "refuse:UNSUPPORTED_GRANT", "refuse:UNSUPPORTED_GRANT", "use", "refuse:REFRESH_FAILED"}},

	// oauth2, client_credentials provider: never refused for its state
	{"client: inactive", oauth2At(time.Hour, inactive), clientCreds, decideWant{"refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE"}},
	{"client: never fetched", oauth2At(0, unauthorized), clientCreds, decideWant{"fetch", "fetch", "use", "use", "refuse:REFRESH_FAILED"}},
	{"client: reauth_required (left by a former grant)", oauth2At(time.Hour, reauth), clientCreds, decideWant{"use", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
	{"client: valid", oauth2At(time.Hour, withoutRefreshToken), clientCreds, decideWant{"use", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
	{"client: no expiry given", oauth2At(0, withoutRefreshToken, noExpiry), clientCreds, decideWant{"use", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
	{"client: within margin", oauth2At(4*time.Minute, withoutRefreshToken), clientCreds, decideWant{"fetch", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
	{"client: within margin, backing off", oauth2At(4*time.Minute, withoutRefreshToken, failedNow), clientCreds, decideWant{"keep", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
	{"client: expired", oauth2At(-time.Minute, withoutRefreshToken), clientCreds, decideWant{"fetch", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
	{"client: expired, failed a moment ago", oauth2At(-time.Minute, withoutRefreshToken, failedNow), clientCreds, decideWant{"fetch", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
}, staticDecideRows()...)

// staticDecideRows are the same rows for each static type.
func staticDecideRows() []decideRow {
	var rows []decideRow
	for _, typ := range []string{store.TypeBasic, store.TypeAPIKey, store.TypeBearer, store.TypeHMACBody} {
		rows = append(rows,
			decideRow{typ + ": inactive", staticAt(typ, 0, inactive), nil, decideWant{"refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE"}},
			decideRow{typ + ": no credential", staticAt(typ, 0, noCredentialHeld), nil, decideWant{"refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED"}},
			decideRow{typ + ": no expiry", staticAt(typ, 0), nil, decideWant{"use", "refuse:UNSUPPORTED_GRANT", "reload", "reload", "reload"}},
			decideRow{typ + ": before its expiry", staticAt(typ, 4*time.Minute), nil, decideWant{"use", "refuse:UNSUPPORTED_GRANT", "reload", "reload", "reload"}},
			decideRow{typ + ": expired", staticAt(typ, -time.Minute), nil, decideWant{"refuse:TOKEN_EXPIRED", "refuse:UNSUPPORTED_GRANT", "reload", "reload", "reload"}},
		)
	}
	return rows
}

// oauth2At is an authorized oauth2 token refreshed an hour before
// decideNow and expiring left after it (none when left is 0), changed by mods.
func oauth2At(left time.Duration, mods ...func(*store.Token)) store.Token {
	tok := store.Token{Name: "t", Type: store.TypeOAuth2, Provider: "idp", Active: true, State: store.StateAuthorized,
		Secret:        store.Secret{AccessToken: "AT", RefreshToken: "RT", TokenType: "Bearer"},
		LastRefreshed: decideNow.Add(-time.Hour), Expires: decideNow.Add(left)}
	for _, mod := range mods {
		mod(&tok)
	}
	return tok
}

// staticAt is an authorized static token of type typ, expiring left after
// decideNow (never when left is 0), changed by mods.
func staticAt(typ string, left time.Duration, mods ...func(*store.Token)) store.Token {
	tok := staticToken("t", typ, "")
	tok.State = store.StateAuthorized
	if left != 0 {
		tok.Expires = decideNow.Add(left)
	}
	for _, mod := range mods {
		mod(&tok)
	}
	return tok
}

// Changes to a token for the rows of decideRows.
func inactive(tok *store.Token)            { tok.Active = false }
func unauthorized(tok *store.Token)        { tok.State, tok.Secret = store.StateUnauthorized, store.Secret{} }
func reauth(tok *store.Token)              { tok.State = store.StateReauthRequired }
func withoutRefreshToken(tok *store.Token) { tok.Secret.RefreshToken = "" }
func noExpiry(tok *store.Token)            { tok.Expires = time.Time{} }
func noCredentialHeld(tok *store.Token)    { tok.Secret = store.Secret{} }
func failedNow(tok *store.Token) {
	tok.RefreshFailures, tok.RefreshFailed = 1, decideNow.Add(-100*time.Millisecond)
}
func failedLongAgo(tok *store.Token) {
	tok.RefreshFailures, tok.RefreshFailed = 1, decideNow.Add(-time.Hour)
}

// describeDecision renders a decision as the table in TestDecide writes it.
func describeDecision(d decision) string {
	switch {
	case (d.action == refuse || d.action == fail) && d.err == nil:
		return d.action.String() + " without an error"
	case d.action == refuse || d.action == fail:
		return d.action.String() + ":" + d.err.Code
	case d.err != nil:
		return d.action.String() + " with an error"
	}
	return d.action.String()
}

// decide's refusals name the token and carry no secret.
func TestDecideRefusalsCarryNoSecret(t *testing.T) {
	now := time.Now()
	tok := store.Token{Name: "t", Type: store.TypeOAuth2, Provider: "idp", Active: true, State: store.StateAuthorized,
		Secret: store.Secret{AccessToken: "AT-secret-value", RefreshToken: "RT-secret-value"}, Expires: now.Add(-time.Minute),
		LastMessage: "provider answered invalid_grant"}
	for _, d := range []decision{
		decide(&tok, nil, due, now),
		decide(&tok, nil, rejectedWith(""), now),
		decide(func() *store.Token { t := tok; t.State = store.StateReauthRequired; return &t }(), nil, due, now),
		decide(func() *store.Token { t := tok; t.Secret.RefreshToken = ""; return &t }(), &store.Provider{GrantType: store.GrantAuthorizationCode}, due, now),
	} {
		if d.err == nil {
			t.Fatalf("%v: no error", d.action)
		}
		if strings.Contains(d.err.Msg, "secret-value") || !strings.Contains(d.err.Msg, `token "t"`) {
			t.Errorf("%s: %q; want the token named, without a secret", d.action, d.err.Msg)
		}
	}
}
