package main

import (
	"strings"
	"testing"
)

// TestEveryFieldErrorByFlag checks that provider and token add/update show
// every problem validation finds at once, each after its flag, with exit 2,
// and store nothing.
func TestEveryFieldErrorByFlag(t *testing.T) {
	tests := []struct {
		name  string
		setup [][]string
		args  []string
		want  []string
		check []string // a command that must still fail (nothing stored)
	}{
		{"provider add", nil,
			[]string{"provider", "add", "p", "--client-id", " ", "--auth-url", "/authorize", "--token-url", "http://login.example.com/t", "--rejected-status", "forbidden"},
			[]string{"--client-id: required", `--auth-url: "/authorize" is not an absolute`, `--token-url: "http://login.example.com/t" uses plain http`, `--rejected-status: "forbidden" is not an HTTP status code`},
			[]string{"provider", "show", "p"}},
		{"provider update", [][]string{{"provider", "add", "p", "--client-id", "c", "--auth-url", "https://a.example.com/a", "--token-url", "https://a.example.com/t"}},
			[]string{"provider", "update", "p", "--auth-style", "auto", "--scopes", `a"b`, "--rejected-body", ".*"},
			[]string{`--auth-style: "auto" is not a valid auth style`, `--scopes: "a\"b" is not a valid scope`, "--rejected-body: it matches an empty body"},
			nil},
		{"token add", [][]string{{"provider", "add", "p", "--client-id", "c", "--auth-url", "https://a.example.com/a", "--token-url", "https://a.example.com/t"}},
			[]string{"token", "add", "bad name", "--provider", "p", "--prompt", "always", "--base-url", "api.example.com"},
			[]string{`token name: "bad name" is not valid`, `--prompt: "always" is not a valid prompt`, `--base-url: "api.example.com" is not an absolute`},
			[]string{"token", "show", "bad name"}},
		{"static token add", nil,
			[]string{"token", "add", "k", "--type", "api-key", "--header", "X Key", "--prefix", "Tok\x01", "--base-url", "http://api.example.com"},
			[]string{"--base-url: \"http://api.example.com\" uses plain http", `--header: header name "X Key" is not valid`, "--prefix: a key prefix"},
			[]string{"token", "show", "k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			for _, s := range tt.setup {
				c.must(s...)
			}
			code, out, errs := c.run(tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not say %q", errs, w)
				}
			}
			if n := strings.Count(strings.TrimSpace(errs), "\n") + 1; n != len(tt.want) {
				t.Errorf("stderr has %d lines, want one a problem (%d):\n%s", n, len(tt.want), errs)
			}
			if tt.check != nil {
				if code, _, _ := c.run(tt.check...); code == 0 {
					t.Errorf("%v succeeds: the refused record was stored", tt.check)
				}
			}
		})
	}
}
