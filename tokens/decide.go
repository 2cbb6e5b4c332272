package tokens

import (
	"fmt"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// The one rule of the token lifecycle: given a token as stored, its provider
// and why it is asked for, decide whether it signs as it is, is renewed at
// the provider, or is refused. decide is pure (no clock, no store, no lock),
// so Sign, Rejected and Refresh ask it before taking any lock, the flight
// asks it again under the token's file lock on what it re-read, and after a
// failed call it says whether the old token may still sign.

// reasonKind is why a token is asked for.
type reasonKind uint8

const (
	// reasonDue: a request is about to be signed; the provider is asked only
	// when the token is due (expired, inside its margin, or never fetched).
	reasonDue reasonKind = iota
	// reasonForced: `scriptrun token refresh` wants a new token whatever its
	// expiry.
	reasonForced
	// reasonRejected: an API refused the access token in reason.refused.
	reasonRejected
)

// A reason is why a token is asked for, with the access token an API
// refused for reasonRejected (compared, never shown).
type reason struct {
	kind    reasonKind
	refused string
}

var (
	due    = reason{kind: reasonDue}
	forced = reason{kind: reasonForced}
)

// rejectedWith is the reason of a report that an API refused access.
func rejectedWith(access string) reason { return reason{kind: reasonRejected, refused: access} }

// An action is what decide says to do with a token.
type action uint8

const (
	use     action = iota // sign with the token as it is
	keep                  // sign with it although it is due: a recent failure backs off and it has not expired
	refresh               // ask the provider with the refresh token (authorization_code providers)
	fetch                 // ask the provider with the client's own credentials (client_credentials providers)
	reload                // a static credential was refused: drop the cached copy, there is nothing to call
	refuse                // do not sign: decision.err says why
	fail                  // do not sign, and record decision.err in the token (reauth_required when its code is CodeReauthRequired)
)

var actionNames = [...]string{"use", "keep", "refresh", "fetch", "reload", "refuse", "fail"}

func (a action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", a)
}

// A decision is an action and, for refuse and fail, the error to return.
type decision struct {
	action action
	err    *Error
}

// signs reports whether the token signs as it is.
func (d decision) signs() bool { return d.action == use || d.action == keep }

// calls reports whether the provider's token endpoint is to be called.
func (d decision) calls() bool { return d.action == refresh || d.action == fetch }

// decide is the policy: what to do with token t of provider p (nil when the
// provider is gone) asked for r at now.
func decide(t *store.Token, p *store.Provider, r reason, now time.Time) decision {
	if err := refusal(t, p); err != nil {
		return decision{action: refuse, err: err}
	}
	switch {
	case t.Static():
		return decideStatic(t, r, now)
	case r.kind == reasonRejected && r.refused == "":
		return decision{action: refuse, err: nothingRejected(t)}
	case r.kind == reasonRejected && t.Secret.AccessToken != r.refused:
		return decision{action: use} // renewed since that request was signed
	case fetches(p):
		return decideFetch(t, r, now)
	}
	return decideRefresh(t, p, r, now)
}

// fetches reports whether tokens of p are fetched with the client_credentials
// grant: they have no authorization step and no refresh token.
func fetches(p *store.Provider) bool {
	return p != nil && p.GrantType == store.GrantClientCredentials
}

// refusal refuses tokens that must not sign anything, whatever the reason:
// inactive, a static type without its credential, and an oauth2 token that
// was never authorized or needs a new authorization. A token of a
// client_credentials provider is never refused for its state: without an
// access token it is fetched.
func refusal(t *store.Token, p *store.Provider) *Error {
	switch {
	case !t.Active:
		return newError(CodeInactive, t.Name, nil, "token %q is inactive: activate it with `scriptrun token update %s --active true`", t.Name, t.Name)
	case t.Static():
		if t.State != store.StateAuthorized || !t.Complete() {
			return noCredential(*t)
		}
		return nil
	case fetches(p):
		return nil
	case t.State == store.StateReauthRequired:
		return reauthRequired(t)
	case t.State != store.StateAuthorized || t.Secret.AccessToken == "":
		return newError(CodeUnauthorized, t.Name, nil, "token %q has not been authorized yet: press \"Get authorization token\" in the console or run `scriptrun token authorize %s`", t.Name, t.Name)
	}
	return nil
}

// decideStatic: a fixed credential signs until the expiry an admin gave it;
// there is nothing to refresh, and a rejection only means the store may hold
// a newer one.
func decideStatic(t *store.Token, r reason, now time.Time) decision {
	switch {
	case r.kind == reasonForced:
		return decision{action: refuse, err: notRefreshable(*t)}
	case r.kind == reasonRejected:
		return decision{action: reload}
	case !t.Expires.IsZero() && !now.Before(t.Expires):
		return decision{action: refuse, err: expired(t)}
	}
	return decision{action: use}
}

// decideFetch: a client_credentials token is fetched when it has none, when
// it is due (unless a recent failure backs off), when forced, and when an API
// refused the access token it still holds (decide has answered the other
// rejections).
func decideFetch(t *store.Token, r reason, now time.Time) decision {
	have := t.Secret.AccessToken != ""
	switch {
	case r.kind == reasonDue && have && !isDue(t, now):
		return decision{action: use}
	case r.kind == reasonDue && have && backingOff(t, now):
		return decision{action: keep}
	}
	return decision{action: fetch}
}

// decideRefresh: an authorization-code token is refreshed when due (unless a
// recent failure backs off), when forced, and when an API refused the access
// token it still holds (decide has answered the other rejections); without
// a refresh token it signs until it expires, then needs a new authorization.
func decideRefresh(t *store.Token, p *store.Provider, r reason, now time.Time) decision {
	switch {
	case r.kind == reasonDue && !isDue(t, now):
		return decision{action: use}
	case r.kind == reasonDue && backingOff(t, now):
		return decision{action: keep}
	case p == nil:
		return decision{action: fail, err: providerGone(t)}
	case t.Secret.RefreshToken == "" && r.kind == reasonDue && now.Before(t.Expires):
		return decision{action: use} // cannot refresh early; the access token still works
	case t.Secret.RefreshToken == "":
		return decision{action: fail, err: noRefreshToken(t)}
	case p.GrantType != store.GrantAuthorizationCode:
		return decision{action: refuse, err: newError(CodeUnsupportedGrant, t.Name, nil, "token %q: provider %q uses grant type %q, which this scriptrun cannot refresh", t.Name, p.Name, p.GrantType)}
	}
	return decision{action: refresh}
}

// isDue reports whether an oauth2 token has expired or is inside its refresh
// margin. A token without a lifetime is used until an API refuses it.
func isDue(t *store.Token, now time.Time) bool {
	if t.Expires.IsZero() {
		return false
	}
	return !now.Before(t.Expires.Add(-margin(t)))
}

// Margin is how long before expiry a token is refreshed: the smaller of five
// minutes and a tenth of its lifetime, so short-lived tokens are not
// refreshed on every call.
func Margin(t store.Token) time.Duration { return margin(&t) }

func margin(t *store.Token) time.Duration {
	margin := 5 * time.Minute
	if !t.LastRefreshed.IsZero() {
		if life := t.Expires.Sub(t.LastRefreshed); life > 0 && life/10 < margin {
			margin = life / 10
		}
	}
	return margin
}

// backingOff reports whether a recent failed refresh should not be retried
// yet: while the access token still works, failures back off exponentially
// (1 s, 2 s, 4 s ... up to 5 min, with jitter) instead of hitting the
// provider on every call.
//
// A token endpoint that answered 429 or 503 with Retry-After is not asked
// again before that time either (see NextAttempt).
func backingOff(t *store.Token, now time.Time) bool {
	if t.RefreshFailures == 0 || t.RefreshFailed.IsZero() {
		return false
	}
	if !now.Before(t.Expires) {
		return false // expired: only a refresh helps, try it
	}
	return now.Before(NextAttempt(*t))
}

// NextAttempt is the earliest time an automatic refresh of t is tried
// again after failures: the exponential back-off from its last failure, or
// the token endpoint's Retry-After when that is later. It is zero when no
// refresh has failed. An expired token is refreshed regardless, and an
// explicit refresh (`token refresh`, an API refusing the token) does not
// wait.
func NextAttempt(t store.Token) time.Time {
	if t.RefreshFailures == 0 || t.RefreshFailed.IsZero() {
		return time.Time{}
	}
	next := t.RefreshFailed.Add(coolDown(t.Name, t.RefreshFailures))
	if t.RetryAfter.After(next) {
		next = t.RetryAfter
	}
	return next
}

// coolDown is 2^(failures-1) seconds, at most 5 minutes, stretched by up to
// 25 % of jitter derived from the token's name so that processes sharing a
// token agree and different tokens spread out.
func coolDown(name string, failures int) time.Duration {
	d := 5 * time.Minute
	if failures < 10 {
		d = min(d, time.Second<<(failures-1))
	}
	var h uint32 = 2166136261
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return d + d*time.Duration(h%256)/1024
}

// The refusals decide gives, in words that say what to do.

func reauthRequired(t *store.Token) *Error {
	msg := fmt.Sprintf("token %q needs a new authorization", t.Name)
	if t.LastMessage != "" {
		msg += " (" + t.LastMessage + ")"
	}
	return newError(CodeReauthRequired, t.Name, nil, "%s: an admin must press \"Get authorization token\" again or run `scriptrun token authorize %s`", msg, t.Name)
}

func expired(t *store.Token) *Error {
	return newError(CodeExpired, t.Name, nil, "token %q expired at %s: store a new credential with `scriptrun token update %s %s` (or in the console), with --expires for its new expiry",
		t.Name, t.Expires.UTC().Format(time.RFC3339), t.Name, CredentialFlags(t.Type))
}

func nothingRejected(t *store.Token) *Error {
	return newError(CodeRefreshFailed, t.Name, nil, "token %q: the rejected request carried no credential", t.Name)
}

func providerGone(t *store.Token) *Error {
	return newError(CodeRefreshFailed, t.Name, nil, "token %q: its provider %q no longer exists: add it again with `scriptrun provider add %s ...`", t.Name, t.Provider, t.Provider)
}

func noRefreshToken(t *store.Token) *Error {
	return newError(CodeReauthRequired, t.Name, nil,
		"token %q expired and the provider issued no refresh token: ask for offline access (e.g. scope offline_access, or Google's access_type=offline) and run `scriptrun token authorize %s`", t.Name, t.Name)
}
