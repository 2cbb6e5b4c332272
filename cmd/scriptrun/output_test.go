package main

import (
	"testing"
	"time"
)

// relative drops only the zero units its rounding leaves: a time 40 s or
// 10 min away must not read "in 4" or "in 1".
func TestRelative(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "in 0s"},
		{10 * time.Second, "in 10s"},
		{40 * time.Second, "in 40s"},
		{59*time.Second + 600*time.Millisecond, "in 1m"},
		{4 * time.Minute, "in 4m"},
		{10 * time.Minute, "in 10m"},
		{50*time.Minute + 20*time.Second, "in 50m"},
		{time.Hour, "in 1h"},
		{20 * time.Hour, "in 20h"},
		{-30 * time.Second, "30s ago"},
		{-2 * time.Hour, "2h ago"},
	} {
		if got := relative(now.Add(c.d), now); got != c.want {
			t.Errorf("relative(now%+v) = %q, want %q", c.d, got, c.want)
		}
	}
	if got := relative(time.Time{}, now); got != "" {
		t.Errorf("relative(zero) = %q, want empty", got)
	}
}
