package main

import (
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// token show's back-off line says when the next automatic refresh is tried
// and whether the provider's Retry-After set it.
func TestBackOffLine(t *testing.T) {
	now := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		tok  store.Token
		want []string // substrings; none means the line is empty
	}{
		{"no failure", store.Token{Name: "api"}, nil},
		{"usual back-off", store.Token{Name: "api", RefreshFailures: 3, RefreshFailed: now}, []string{"not before 2026-12-07T07:00:0", "(in "}},
		{"retry-after", store.Token{Name: "api", RefreshFailures: 1, RefreshFailed: now, RetryAfter: now.Add(2 * time.Minute)}, []string{"in 2m", "Retry-After"}},
		{"over", store.Token{Name: "api", RefreshFailures: 1, RefreshFailed: now.Add(-time.Hour)}, []string{"over"}},
	}
	for _, tt := range tests {
		got := backOffLine(tt.tok, now)
		if len(tt.want) == 0 && got != "" {
			t.Errorf("%s: %q, want no line", tt.name, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q, want it to contain %q", tt.name, got, w)
			}
		}
	}
}

func TestUsedStamp(t *testing.T) {
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Time{}, ""},
		{time.Date(2026, 12, 7, 7, 10, 59, 999, time.UTC), "2026-12-07T07:10Z (to the minute)"},
		{time.Date(2026, 12, 7, 8, 10, 5, 0, time.FixedZone("CET", 3600)), "2026-12-07T07:10Z (to the minute)"},
	}
	for _, tt := range tests {
		if got := usedStamp(tt.at); got != tt.want {
			t.Errorf("usedStamp(%v) = %q, want %q", tt.at, got, tt.want)
		}
	}
}
