package config

import (
	"errors"
	"slices"
	"testing"
)

// TestApplyReportsEveryFieldError checks that apply reports every problem
// store validation finds in a record, each on its field's line and path.
func TestApplyReportsEveryFieldError(t *testing.T) {
	tests := []struct {
		name, data string
		want       []Error // Line and Path
	}{
		{"provider", `providers:
  - name: g
    clientId: " "
    authorizationUrl: https://a.example.com/a
    tokenUrl: http://plain.example.com/t
    authStyle: auto
`, []Error{{Line: 3, Path: "providers[0].clientId"}, {Line: 5, Path: "providers[0].tokenUrl"}, {Line: 6, Path: "providers[0].authStyle"}}},
		{"provider, nested and missing", `providers:
  - name: g
    clientId: c
    authorizationUrl: https://a.example.com/a
    rejection:
      statuses: [200]
    scopes: ['a"b']
`, []Error{{Line: 2, Path: "providers[0].tokenUrl"}, {Line: 7, Path: "providers[0].scopes"}, {Line: 6, Path: "providers[0].rejection.statuses"}}},
		{"token", `tokens:
  - name: t
    type: api-key
    keyQuery: "a&b"
    keyPrefix: "Token "
    baseUrl: ftp://api.example.com
`, []Error{{Line: 6, Path: "tokens[0].baseUrl"}, {Line: 4, Path: "tokens[0].keyQuery"}, {Line: 5, Path: "tokens[0].keyPrefix"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Apply(newDB(t), []byte(tt.data), Options{Getenv: func(string) string { return "" }})
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Apply: %v, want Errors", err)
			}
			got := make([]Error, len(es))
			for i, e := range es {
				got[i] = Error{Line: e.Line, Path: e.Path}
				if e.Msg == "" {
					t.Errorf("error %d (%s) has no message", i, e.Path)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Apply: %v\ngot  %v\nwant %v", err, got, tt.want)
			}
		})
	}
}
