package main

import (
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// TestNodeName: whatever the host name, the default node name is a valid
// name ending in the pid.
func TestNodeName(t *testing.T) {
	tests := []struct {
		host string
		want string
	}{
		{"web-1.example.com", "web-1.example.com-42"},
		{"", "node-42"},
		{"...", "node-42"},
		{"höst name", "h-st-name-42"},
		{strings.Repeat("a", 80), strings.Repeat("a", 50) + "-42"},
	}
	for _, tt := range tests {
		got := nodeName(tt.host, 42)
		if got != tt.want {
			t.Errorf("nodeName(%q) = %q, want %q", tt.host, got, tt.want)
		}
		if err := store.ValidateName("node", got); err != nil {
			t.Errorf("nodeName(%q) = %q: %v", tt.host, got, err)
		}
	}
	if err := store.ValidateName("node", defaultNodeName()); err != nil {
		t.Errorf("defaultNodeName(): %v", err)
	}
}
