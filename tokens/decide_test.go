package tokens

import (
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// The policy, state by state, for every reason and token type. Each row is
// a token type and state; the columns say what decide answers when the
// token is due for signing, forced (`token refresh`), and rejected by an API
// with the access token it holds, with an older one, and with none. "-"
// marks a column that does not apply; "refuse:CODE" and "fail:CODE" name the
// error's code.
func TestDecide(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hour := time.Hour
	authCode := &store.Provider{Name: "idp", GrantType: store.GrantAuthorizationCode}
	clientCreds := &store.Provider{Name: "m2m", GrantType: store.GrantClientCredentials}
	password := &store.Provider{Name: "legacy", GrantType: "password"}

	// oauth2 builds an authorized oauth2 token refreshed an hour before now
	// and expiring at now+left; mods change it.
	oauth2 := func(left time.Duration, mods ...func(*store.Token)) store.Token {
		tok := store.Token{Name: "t", Type: store.TypeOAuth2, Provider: "idp", Active: true, State: store.StateAuthorized,
			Secret:        store.Secret{AccessToken: "AT", RefreshToken: "RT", TokenType: "Bearer"},
			LastRefreshed: now.Add(-hour), Expires: now.Add(left)}
		for _, mod := range mods {
			mod(&tok)
		}
		return tok
	}
	inactive := func(tok *store.Token) { tok.Active = false }
	unauthorized := func(tok *store.Token) { tok.State, tok.Secret = store.StateUnauthorized, store.Secret{} }
	reauth := func(tok *store.Token) { tok.State = store.StateReauthRequired }
	failedNow := func(tok *store.Token) { tok.RefreshFailures, tok.RefreshFailed = 1, now.Add(-100*time.Millisecond) }
	failedLongAgo := func(tok *store.Token) { tok.RefreshFailures, tok.RefreshFailed = 1, now.Add(-hour) }
	noRefreshToken := func(tok *store.Token) { tok.Secret.RefreshToken = "" }
	noExpiry := func(tok *store.Token) { tok.Expires = time.Time{} }
	static := func(typ string, left time.Duration, mods ...func(*store.Token)) store.Token {
		tok := staticToken("t", typ, "")
		tok.State = store.StateAuthorized
		if left != 0 {
			tok.Expires = now.Add(left)
		}
		for _, mod := range mods {
			mod(&tok)
		}
		return tok
	}
	noCredential := func(tok *store.Token) { tok.Secret = store.Secret{} }

	type want struct{ due, forced, same, older, none string }
	type row struct {
		name string
		tok  store.Token
		p    *store.Provider
		want want
	}
	tests := []row{
		// oauth2, authorization_code provider
		{"code: inactive", oauth2(hour, inactive), authCode, want{"refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE"}},
		{"code: unauthorized", oauth2(hour, unauthorized), authCode, want{"refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED"}},
		{"code: reauth_required", oauth2(hour, reauth), authCode, want{"refuse:REAUTH_REQUIRED", "refuse:REAUTH_REQUIRED", "refuse:REAUTH_REQUIRED", "refuse:REAUTH_REQUIRED", "refuse:REAUTH_REQUIRED"}},
		{"code: valid", oauth2(hour), authCode, want{"use", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
		{"code: no expiry given", oauth2(0, noExpiry), authCode, want{"use", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
		{"code: within margin", oauth2(4 * time.Minute), authCode, want{"refresh", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
		{"code: within margin, backing off", oauth2(4*time.Minute, failedNow), authCode, want{"keep", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
		{"code: within margin, back-off over", oauth2(4*time.Minute, failedLongAgo), authCode, want{"refresh", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
		{"code: expired", oauth2(-time.Minute), authCode, want{"refresh", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
		{"code: expired, failed a moment ago", oauth2(-time.Minute, failedNow), authCode, want{"refresh", "refresh", "refresh", "use", "refuse:REFRESH_FAILED"}},
		{"code: no refresh token, valid", oauth2(hour, noRefreshToken), authCode, want{"use", "fail:REAUTH_REQUIRED", "fail:REAUTH_REQUIRED", "use", "refuse:REFRESH_FAILED"}},
		{"code: no refresh token, within margin", oauth2(4*time.Minute, noRefreshToken), authCode, want{"use", "fail:REAUTH_REQUIRED", "fail:REAUTH_REQUIRED", "use", "refuse:REFRESH_FAILED"}},
		{"code: no refresh token, expired", oauth2(-time.Minute, noRefreshToken), authCode, want{"fail:REAUTH_REQUIRED", "fail:REAUTH_REQUIRED", "fail:REAUTH_REQUIRED", "use", "refuse:REFRESH_FAILED"}},
		{"code: provider gone, valid", oauth2(hour), nil, want{"use", "fail:REFRESH_FAILED", "fail:REFRESH_FAILED", "use", "refuse:REFRESH_FAILED"}},
		{"code: provider gone, expired", oauth2(-time.Minute), nil, want{"fail:REFRESH_FAILED", "fail:REFRESH_FAILED", "fail:REFRESH_FAILED", "use", "refuse:REFRESH_FAILED"}},
		{"code: provider with another grant, expired", oauth2(-time.Minute), password, want{"refuse:UNSUPPORTED_GRANT", "refuse:UNSUPPORTED_GRANT", "refuse:UNSUPPORTED_GRANT", "use", "refuse:REFRESH_FAILED"}},

		// oauth2, client_credentials provider: never refused for its state
		{"client: inactive", oauth2(hour, inactive), clientCreds, want{"refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE"}},
		{"client: never fetched", oauth2(0, unauthorized), clientCreds, want{"fetch", "fetch", "use", "use", "refuse:REFRESH_FAILED"}},
		{"client: reauth_required (left by a former grant)", oauth2(hour, reauth), clientCreds, want{"use", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
		{"client: valid", oauth2(hour, noRefreshToken), clientCreds, want{"use", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
		{"client: no expiry given", oauth2(0, noRefreshToken, noExpiry), clientCreds, want{"use", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
		{"client: within margin", oauth2(4*time.Minute, noRefreshToken), clientCreds, want{"fetch", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
		{"client: within margin, backing off", oauth2(4*time.Minute, noRefreshToken, failedNow), clientCreds, want{"keep", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
		{"client: expired", oauth2(-time.Minute, noRefreshToken), clientCreds, want{"fetch", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
		{"client: expired, failed a moment ago", oauth2(-time.Minute, noRefreshToken, failedNow), clientCreds, want{"fetch", "fetch", "fetch", "use", "refuse:REFRESH_FAILED"}},
	}
	// The static types: the same rows for each.
	for _, typ := range []string{store.TypeBasic, store.TypeAPIKey, store.TypeBearer, store.TypeHMACBody} {
		tests = append(tests,
			row{typ + ": inactive", static(typ, 0, inactive), nil, want{"refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE", "refuse:TOKEN_INACTIVE"}},
			row{typ + ": no credential", static(typ, 0, noCredential), nil, want{"refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED", "refuse:TOKEN_UNAUTHORIZED"}},
			row{typ + ": no expiry", static(typ, 0), nil, want{"use", "refuse:UNSUPPORTED_GRANT", "reload", "reload", "reload"}},
			row{typ + ": before its expiry", static(typ, 4*time.Minute), nil, want{"use", "refuse:UNSUPPORTED_GRANT", "reload", "reload", "reload"}},
			row{typ + ": expired", static(typ, -time.Minute), nil, want{"refuse:TOKEN_EXPIRED", "refuse:UNSUPPORTED_GRANT", "reload", "reload", "reload"}},
		)
	}
	for _, tt := range tests {
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
			if got := describeDecision(decide(tt.tok, tt.p, rs.r, now)); got != rs.want {
				t.Errorf("%s, %s: %s, want %s", tt.name, rs.name, got, rs.want)
			}
		}
	}
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
		decide(tok, nil, due, now),
		decide(tok, nil, rejectedWith(""), now),
		decide(func() store.Token { t := tok; t.State = store.StateReauthRequired; return t }(), nil, due, now),
		decide(func() store.Token { t := tok; t.Secret.RefreshToken = ""; return t }(), &store.Provider{GrantType: store.GrantAuthorizationCode}, due, now),
	} {
		if d.err == nil {
			t.Fatalf("%v: no error", d.action)
		}
		if strings.Contains(d.err.Msg, "secret-value") || !strings.Contains(d.err.Msg, `token "t"`) {
			t.Errorf("%s: %q; want the token named, without a secret", d.action, d.err.Msg)
		}
	}
}
