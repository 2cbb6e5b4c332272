package tokens

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// EventKind says what happened to a token.
type EventKind string

// The kinds of Event. Every call to a token endpoint ends in exactly one of
// EventRefreshed, EventRefreshFailed, EventReauthRequired, EventFetched,
// EventFetchFailed, EventAuthorized, EventAuthorizeFailed or
// EventReplaySuspected.
const (
	// EventRefreshed: a refresh token was exchanged and the new token set
	// stored (Rotated says whether the provider sent a new refresh token).
	EventRefreshed EventKind = "refreshed"
	// EventRefreshFailed: a refresh failed in a way that may pass (an
	// outage, a timeout, a refused client); the token stays authorized.
	EventRefreshFailed EventKind = "refresh_failed"
	// EventReauthRequired: the refresh token is dead (or there is none and
	// the access token expired): the token moved to reauth_required and
	// only a new authorization helps.
	EventReauthRequired EventKind = "reauth_required"
	// EventFetched: a client_credentials token was fetched and stored.
	EventFetched EventKind = "fetched"
	// EventFetchFailed: a client_credentials fetch failed.
	EventFetchFailed EventKind = "fetch_failed"
	// EventRejected: an API refused a token this manager signed with; the
	// token is renewed (oauth2) or read again (static types) for one retry.
	EventRejected EventKind = "rejected"
	// EventAuthorized: an authorization code was exchanged and stored.
	EventAuthorized EventKind = "authorized"
	// EventAuthorizeFailed: an authorization failed (provider error, code
	// exchange refused).
	EventAuthorizeFailed EventKind = "authorize_failed"
	// EventRevoked: the credential was revoked (Revoked lists what the
	// provider confirmed) and erased.
	EventRevoked EventKind = "revoked"
	// EventRevokeFailed: the provider refused a revocation; nothing was
	// erased.
	EventRevokeFailed EventKind = "revoke_failed"
	// EventUseNotRecorded: the last-use time could not be stored.
	EventUseNotRecorded EventKind = "use_not_recorded"
	// EventReplaySuspected: a refresh or fetch succeeded at the provider,
	// but another process had stored a new credential for the token
	// meanwhile (the token's lock was lost, or not shared): the answer was
	// dropped and the token read again. The old refresh token may have
	// been presented twice ("possible refresh-token replay").
	EventReplaySuspected EventKind = "replay_suspected"
	// EventLockLost: the token's lock (an etcd lease) ended while the
	// token endpoint was called; the answer was stored anyway, its write
	// being fenced on the token as read.
	EventLockLost EventKind = "lock_lost"
)

// An Event is one outcome in a token's life, as Options.OnEvent receives it.
// It never carries a secret: Message is the text stored in the token's
// lastMessage, built from the provider's error code and description with
// every secret of the request masked. Its JSON form (the field tags) is how
// a process hands its events to another (scriptrun's cron runs to serve).
type Event struct {
	Kind     EventKind     `json:"kind"`
	Time     time.Time     `json:"time"`               // when it happened (the Manager's clock)
	Token    string        `json:"token"`              // the token's name
	Type     string        `json:"type,omitempty"`     // the token's type (store.TypeOAuth2, ...)
	Provider string        `json:"provider,omitempty"` // the token's provider ("" for the static types)
	Duration time.Duration `json:"duration,omitempty"` // how long the token or revocation endpoint took, when one was called
	Code     string        `json:"code,omitempty"`     // a failure's code (CodeRefreshFailed, CodeReauthRequired, ...); "" on success
	Message  string        `json:"message,omitempty"`  // a failure's message
	Rotated  bool          `json:"rotated,omitempty"`  // EventRefreshed: the provider sent a new refresh token
	Expires  time.Time     `json:"expires,omitzero"`   // EventRefreshed, EventFetched, EventAuthorized: the new access token's expiry (zero: none given)
	Revoked  []string      `json:"revoked,omitempty"`  // EventRevoked: what the provider confirmed revoked ("refresh_token", "access_token")
}

// Failed reports whether the event is a failure.
func (e Event) Failed() bool { return e.Code != "" }

// emit tells the logger and the OnEvent hook. It is called without m.mu
// held, from whichever goroutine saw the outcome.
func (m *Manager) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = m.now()
	}
	LogEvent(m.log, ev)
	if m.onEvent != nil {
		m.onEvent(ev)
	}
}

// logMessage is the log message of each kind (ok false for a kind without
// one); metrics count events, not these. A switch, not a map literal: that
// would be built at every start.
func logMessage(kind EventKind) (msg string, ok bool) {
	switch kind {
	case EventRefreshed:
		return "token refreshed", true
	case EventRefreshFailed, EventReauthRequired, EventFetchFailed:
		return "token refresh failed", true
	case EventFetched:
		return "token fetched", true
	case EventRejected:
		return "token rejected by the API", true
	case EventAuthorized:
		return "token authorized", true
	case EventAuthorizeFailed:
		return "token authorization failed", true
	case EventRevoked:
		return "token revoked", true
	case EventRevokeFailed:
		return "token revocation failed", true
	case EventUseNotRecorded:
		return "record token use", true
	case EventReplaySuspected:
		return "possible refresh-token replay", true
	case EventLockLost:
		return "token lock lost during its refresh", true
	}
	return "", false
}

// LogEvent writes ev to log as a Manager does with its own events: failures
// as warnings, a rejection as debug, the rest as information, with the
// token's name and what the kind has to say (never a secret). A process
// that receives another's events (serve, from its cron runs) logs them with
// it. An event of a kind this package does not know is logged by its kind.
func LogEvent(log *slog.Logger, ev Event) {
	level := slog.LevelInfo
	switch {
	case ev.Failed() || ev.Kind == EventUseNotRecorded || ev.Kind == EventReplaySuspected || ev.Kind == EventLockLost:
		level = slog.LevelWarn
	case ev.Kind == EventRejected:
		level = slog.LevelDebug
	}
	msg, ok := logMessage(ev.Kind)
	if !ok {
		msg = "token event " + string(ev.Kind)
	}
	log.Log(context.Background(), level, msg, eventAttrs(ev)...)
}

// eventAttrs are the log attributes of ev.
func eventAttrs(ev Event) []any {
	attrs := []any{"token", ev.Token}
	switch ev.Kind {
	case EventRefreshed, EventFetched, EventAuthorized:
		if ev.Kind == EventRefreshed {
			attrs = append(attrs, "rotated", ev.Rotated)
		}
		if !ev.Expires.IsZero() {
			attrs = append(attrs, "expires_in", ev.Expires.Sub(ev.Time).Round(time.Second).String())
		}
	case EventRevoked:
		attrs = append(attrs, "type", ev.Type, "at_provider", len(ev.Revoked) > 0, "revoked", strings.Join(ev.Revoked, ","))
	case EventRefreshFailed, EventReauthRequired, EventFetchFailed:
		attrs = append(attrs, "code", ev.Code, "reason", ev.Message)
	case EventAuthorizeFailed, EventRevokeFailed, EventReplaySuspected, EventLockLost:
		attrs = append(attrs, "reason", ev.Message)
	case EventUseNotRecorded:
		attrs = append(attrs, "err", ev.Message)
	}
	return attrs
}
