package tokens

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// recorder collects the events a Manager emits.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(ev Event) { r.mu.Lock(); r.events = append(r.events, ev); r.mu.Unlock() }

// take returns the kinds recorded since the last take, and the events.
func (r *recorder) take() ([]EventKind, []Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.events
	r.events = nil
	kinds := make([]EventKind, len(evs))
	for i, ev := range evs {
		kinds[i] = ev.Kind
	}
	return kinds, evs
}

// Every outcome of an authorization-code token reaches OnEvent, and the log
// records are written from the same events (LogEvent); neither carries a
// secret.
func TestEvents(t *testing.T) {
	var rec recorder
	var logs syncBuffer
	e := newEnv(t, envOpts{onEvent: rec.add})
	e.m.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.authorize(t, "api")
	first := e.token(t, "api")
	e.clock.Add(2 * time.Hour)
	e.call(t, "api", "/me")
	req, _ := http.NewRequest("GET", e.srv.APIURL()+"/me", nil)
	if err := e.m.Sign(context.Background(), "api", req); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Rejected(context.Background(), "api", req); err != nil {
		t.Fatal(err)
	}
	e.srv.SetTokenFault(unavailable)
	e.m.Refresh(context.Background(), "api")
	e.m.Close()
	kinds, evs := rec.take()
	want := []EventKind{EventAuthorized, EventRefreshed, EventRejected, EventRefreshed, EventRefreshFailed}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if ev := evs[1]; !ev.Rotated || ev.Provider != "sandbox" || ev.Type != store.TypeOAuth2 || ev.Duration <= 0 || !ev.Expires.After(ev.Time) || ev.Failed() {
		t.Errorf("refreshed event: %+v", ev)
	}
	if ev := evs[4]; ev.Code != CodeRefreshFailed || !strings.Contains(ev.Message, "503") || !ev.Failed() {
		t.Errorf("failure event: %+v", ev)
	}
	secrets := []string{first.Secret.AccessToken, first.Secret.RefreshToken, e.token(t, "api").Secret.AccessToken, e.srv.ClientSecret()}
	checkLog(t, logs.String(), fmt.Sprintf("%+v", evs), secrets)
}

// checkLog checks that the log has a record of each outcome, and
// that neither it nor the events carry a secret.
func checkLog(t *testing.T, log, events string, secrets []string) {
	t.Helper()
	for _, msg := range []string{`msg="token authorized"`, `msg="token refreshed" token=api rotated=true expires_in=`, `msg="token rejected by the API"`, `msg="token refresh failed" token=api code=REFRESH_FAILED`} {
		if !strings.Contains(log, msg) {
			t.Errorf("log lacks %s:\n%s", msg, log)
		}
	}
	for _, s := range secrets {
		if strings.Contains(log, s) || strings.Contains(events, s) {
			t.Errorf("a secret reached the log or an event")
		}
	}
}

// A client-credentials token's fetches are events too, successes included.
func TestEventsClientCredentials(t *testing.T) {
	var rec recorder
	e := ccEnv(t, envOpts{onEvent: rec.add}, nil)
	e.get(t, "api", "/me")
	e.srv.SetTokenFault(unavailable)
	e.m.Refresh(context.Background(), "api")
	e.m.Close()
	kinds, evs := rec.take()
	if want := []EventKind{EventFetched, EventFetchFailed}; fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if ev := evs[0]; ev.Provider != "sandbox" || ev.Duration <= 0 || ev.Expires.IsZero() || ev.Failed() {
		t.Errorf("fetched event: %+v", ev)
	}
}

// unavailable is a token-endpoint fault: an outage.
func unavailable(w http.ResponseWriter, r *http.Request) bool {
	http.Error(w, "down", http.StatusServiceUnavailable)
	return true
}

// Each kind logs the message it always had (the table was a map literal,
// built at every start; it is a switch now), and a kind without one says
// which kind it is.
func TestLogMessages(t *testing.T) {
	for _, tc := range []struct {
		kind EventKind
		want string
	}{
		{EventRefreshed, "token refreshed"},
		{EventRefreshFailed, "token refresh failed"},
		{EventReauthRequired, "token refresh failed"},
		{EventFetched, "token fetched"},
		{EventFetchFailed, "token refresh failed"},
		{EventRejected, "token rejected by the API"},
		{EventAuthorized, "token authorized"},
		{EventAuthorizeFailed, "token authorization failed"},
		{EventRevoked, "token revoked"},
		{EventRevokeFailed, "token revocation failed"},
		{EventUseNotRecorded, "record token use"},
		{EventReplaySuspected, "possible refresh-token replay"},
		{EventLockLost, "token lock lost during its refresh"},
		{"something_new", "token event something_new"},
	} {
		var logs syncBuffer
		LogEvent(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Event{Kind: tc.kind, Token: "api"})
		if want := fmt.Sprintf("msg=%q token=api", tc.want); !strings.Contains(logs.String(), want) {
			t.Errorf("%s logged %q, want %s", tc.kind, logs.String(), want)
		}
	}
}
