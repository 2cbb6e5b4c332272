package tokens

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		status int
		header string
		want   time.Duration // 0: not honoured
	}{
		{"seconds on 429", 429, "120", 2 * time.Minute},
		{"seconds on 503", 503, " 30 ", 30 * time.Second},
		{"HTTP date", 429, now.Add(10 * time.Minute).Format(http.TimeFormat), 10 * time.Minute},
		{"bounded to an hour", 429, "86400", maxRetryAfter},
		{"far date bounded", 503, now.Add(48 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
		{"past date", 429, now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"zero", 429, "0", 0},
		{"negative", 429, "-5", 0},
		{"garbage", 429, "soon", 0},
		{"missing", 429, "", 0},
		{"other status", 502, "120", 0},
	}
	for _, tt := range tests {
		until, ok := retryAfter(tt.status, tt.header, now)
		if got := until.Sub(now); ok != (tt.want != 0) || (ok && got != tt.want) {
			t.Errorf("%s: retryAfter(%d, %q) = %v, %v; want %v", tt.name, tt.status, tt.header, got, ok, tt.want)
		}
	}
}

// A token endpoint answering 429 or 503 with Retry-After is not asked again
// before then by automatic refreshes, while the still-valid access token
// keeps signing; the wait is stored and shown by NextAttempt.
func TestRefreshHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header func(now time.Time) string
		wait   time.Duration
	}{
		{"429 seconds", http.StatusTooManyRequests, func(time.Time) string { return "120" }, 2 * time.Minute},
		{"503 date", http.StatusServiceUnavailable, func(now time.Time) string { return now.Add(3 * time.Minute).Format(http.TimeFormat) }, 3 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.authorize(t, "api")
			e.clock.Add(56 * time.Minute) // inside the margin, 4 minutes before expiry
			failedAt := e.clock.Now()
			e.srv.SetTokenFault(func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Retry-After", tt.header(failedAt))
				http.Error(w, "slow down", tt.status)
				return true
			})
			if status := e.call(t, "api", "/me"); status != 200 {
				t.Fatalf("call when the refresh was throttled: %d, want 200 (the access token is still valid)", status)
			}
			tok := e.token(t, "api")
			// An HTTP date has whole seconds: allow the fraction cut off.
			if got := tok.RetryAfter.Sub(failedAt); got > tt.wait || got <= tt.wait-time.Second {
				t.Errorf("stored Retry-After is %v after the failure, want %v (to the second)", got, tt.wait)
			}
			if got := NextAttempt(tok); !got.Equal(tok.RetryAfter) {
				t.Errorf("NextAttempt = %v, want the Retry-After %v", got, tok.RetryAfter)
			}
			if !strings.Contains(tok.LastMessage, "Retry-After") {
				t.Errorf("lastMessage %q does not say the provider asked to wait", tok.LastMessage)
			}
			// Long past the usual 1 s cool-down, still inside Retry-After.
			e.clock.Add(tt.wait - 2*time.Second)
			for range 5 {
				if status := e.call(t, "api", "/me"); status != 200 {
					t.Fatalf("call inside Retry-After: %d", status)
				}
			}
			if n := e.srv.Stats().InjectedFaults; n != 1 {
				t.Errorf("calls inside Retry-After reached the token endpoint %d times in all, want 1", n)
			}
			e.srv.SetTokenFault(nil)
			e.clock.Add(3 * time.Second)
			e.call(t, "api", "/me")
			tok = e.token(t, "api")
			if tok.RefreshFailures != 0 || !tok.RetryAfter.IsZero() {
				t.Errorf("after Retry-After passed: failures %d, retryAfter %v; want a successful refresh clearing both", tok.RefreshFailures, tok.RetryAfter)
			}
		})
	}
}
