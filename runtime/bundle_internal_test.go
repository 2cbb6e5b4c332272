package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestShiftColumns(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"AAAA,CAAC", "AAAC,CAAC"},     // original column 0 → 1; later segments are relative
		{";;AAAA;AACA", ";;AAAC;AACA"}, // leading empty lines kept
		{"A", "A"},                     // a segment without a source is left alone
		{"AAAf", "AAAd"},               // -15 → -14
		{"AAA+B", "AAAgC"},             // 31 → 32, which needs a second digit
		{"", ""},
	} {
		if got := shiftColumns(tt.in); got != tt.want {
			t.Errorf("shiftColumns(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, v := range []int{0, 1, -1, 15, 16, -16, 1000, -123456} {
		got, ok := decodeVLQ(encodeVLQ(v))
		if !ok || len(got) != 1 || got[0] != v {
			t.Errorf("VLQ round trip of %d: %v %v", v, got, ok)
		}
	}
}

func TestTrimCache(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	entry := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fresh := entry("fresh.json", time.Hour)
	stale := entry("stale.json", cacheMaxAge+time.Hour)
	other := entry("notes.txt", cacheMaxAge+time.Hour) // not an entry: left alone
	trimCache(dir, now)
	for path, want := range map[string]bool{fresh: true, stale: false, other: true} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s kept = %v, want %v", filepath.Base(path), err == nil, want)
		}
	}

	// Beyond cacheMaxEntries the least recently used go.
	for i := range cacheMaxEntries + 5 {
		entry(fmt.Sprintf("e%04d.json", i), time.Duration(i+2)*time.Minute)
	}
	trimCache(dir, now)
	names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(names) != cacheMaxEntries {
		t.Fatalf("%d entries after the trim, want %d", len(names), cacheMaxEntries)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("the most recently used entry was removed")
	}
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("e%04d.json", cacheMaxEntries+4))); err == nil {
		t.Error("the least recently used entry was kept")
	}

	// A hit marks an entry used, at most once a day.
	touchCache(stale, now) // gone: no error, nothing created
	old := entry("old.json", 2*cacheTouchEvery)
	touchCache(old, now)
	if fi, err := os.Stat(old); err != nil || !fi.ModTime().Equal(now) {
		t.Errorf("a hit on a 2-day-old entry left it at %v (%v)", fi.ModTime(), err)
	}
}
