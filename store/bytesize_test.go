package store

import (
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"512MiB", 512 << 20}, {"512MB", 512 << 20}, {"512m", 512 << 20}, {" 2 GiB ", 2 << 30},
		{"1.5g", 3 << 29}, {"1048576", 1 << 20}, {"64KiB", 64 << 10}, {"1TiB", 1 << 40}, {"10b", 10},
	} {
		got, err := ParseBytes(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "lots", "1PiB", "NaN", "1e30GiB"} {
		if _, err := ParseBytes(in); err == nil || !strings.Contains(err.Error(), "e.g. 512MiB") {
			t.Errorf("ParseBytes(%q): %v, want an error with an example", in, err)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tt := range []struct {
		in   int64
		want string
	}{
		{2 << 30, "2 GiB"}, {256 << 20, "256 MiB"}, {3 << 29, "1.5 GiB"}, {900 << 10, "900 KiB"}, {12, "12 bytes"}, {1 << 40, "1 TiB"},
	} {
		if got := FormatBytes(tt.in); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
