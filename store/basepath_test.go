package store

import (
	"strings"
	"testing"
)

// A base URL binds its path, so only plain paths are accepted: the forms
// servers read in different ways are refused with a message saying why.
func TestBaseURLPathMustBePlain(t *testing.T) {
	tests := []struct {
		base    string
		wantErr string
	}{
		{"https://gitlab.example.com", ""},
		{"https://gitlab.example.com/", ""},
		{"https://gitlab.example.com/api/v4/projects/42/", ""},
		{"https://gitlab.example.com/api/v4/projects/42", ""},
		{"https://gitlab.example.com/api/v4/projects/gr%C3%BCn/", ""},
		{"https://gitlab.example.com/api/v4/projects/42/../43/", "dot segment"},
		{"https://gitlab.example.com/api/v4/projects/./42/", "dot segment"},
		{"https://gitlab.example.com/api/v4/projects/%2e%2e/42/", "dot segment"},
		{"https://gitlab.example.com/api//v4/projects/42/", "empty segment"},
		{"https://gitlab.example.com/api/v4/projects/group%2Fproject/", `encoded "/"`},
		{"https://gitlab.example.com/api/v4/projects/42;x=1/", `";"`},
		{"https://gitlab.example.com/api/v4/projects/%252e/", `"%25"`},
		{"https://gitlab.example.com/api/v4/projects/%00/", "control character"},
		{"https://gitlab.example.com/api/v4/projects/%c0%ae/", "invalid UTF-8"},
	}
	for _, tt := range tests {
		tk := testToken("mail", "graph")
		tk.BaseURL = tt.base
		err := tk.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("base URL %s: %v, want it accepted", tt.base, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("base URL %s: %v, want a refusal mentioning %q", tt.base, err, tt.wantErr)
		}
	}
}
