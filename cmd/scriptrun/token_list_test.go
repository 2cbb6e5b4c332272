package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestTokenListPages pages through tokens with --limit and --after, and
// searches them with --search: each page holds its own names, standard
// error names the next page's --after while more follow.
func TestTokenListPages(t *testing.T) {
	c := newCLI(t)
	c.env["SR_SECRET"] = "bearer-secret-value-1234"
	for _, n := range []string{"alpha-1", "alpha-2", "beta-3", "beta-4", "gamma-5"} {
		c.must("token", "add", n, "--type", "bearer", "--token-env", "SR_SECRET", "--base-url", "https://api.example.com")
	}
	names := func(args ...string) ([]string, string) {
		t.Helper()
		code, out, errs := c.run(append([]string{"token", "list", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("token list %v: exit %d: %s", args, code, errs)
		}
		var list []tokenView
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("token list %v: %v in %q", args, err, out)
		}
		var got []string
		for _, v := range list {
			got = append(got, v.Name)
		}
		return got, errs
	}
	tests := []struct {
		args     []string
		want     string
		nextHint string // "" = no "more tokens follow"
	}{
		{nil, "alpha-1 alpha-2 beta-3 beta-4 gamma-5", ""},
		{[]string{"--limit", "2"}, "alpha-1 alpha-2", "--after alpha-2"},
		{[]string{"--limit", "2", "--after", "alpha-2"}, "beta-3 beta-4", "--after beta-4"},
		{[]string{"--limit", "2", "--after", "beta-4"}, "gamma-5", ""},
		{[]string{"--search", "BETA"}, "beta-3 beta-4", ""},
		{[]string{"--search", "a-", "--limit", "1", "--after", "alpha-2"}, "beta-3", "--after beta-3"},
		{[]string{"--search", "nothing"}, "", ""},
	}
	for _, tc := range tests {
		got, errs := names(tc.args...)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("token list %v = %v, want %s", tc.args, got, tc.want)
		}
		if hint := strings.Contains(errs, "more tokens follow"); hint != (tc.nextHint != "") || !strings.Contains(errs, tc.nextHint) {
			t.Errorf("token list %v: standard error %q, want the hint %q", tc.args, errs, tc.nextHint)
		}
	}
	if out := c.must("token", "list", "--limit", "1"); !strings.Contains(out, "alpha-1") || strings.Contains(out, "alpha-2") {
		t.Errorf("token list --limit 1 (table):\n%s", out)
	}
	if code, _, errs := c.run("token", "list", "--limit", "-1"); code != exitUsage || !strings.Contains(errs, "--limit -1") {
		t.Errorf("token list --limit -1: exit %d, %q", code, errs)
	}
}
