package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// walkCommands calls fn for c and every command below it.
func walkCommands(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, fn)
	}
}

// TestUnknownSubcommandIsUsageError walks the command tree: every command
// that groups subcommands refuses a mistyped one with exit 2 instead of
// printing its help and succeeding.
func TestUnknownSubcommandIsUsageError(t *testing.T) {
	var parents [][]string
	walkCommands(newRoot(&app{}), func(c *cobra.Command) {
		if c.HasSubCommands() {
			path := strings.Fields(c.CommandPath())[1:]
			parents = append(parents, path)
		}
	})
	if len(parents) < 3 {
		t.Fatalf("found %d parent commands, want the root, token, cron and more", len(parents))
	}
	home := t.TempDir()
	for _, path := range parents {
		args := append([]string{"--home", home}, path...)
		args = append(args, "bogus-sub")
		var out, errb bytes.Buffer
		code := Main(args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
		if code != exitUsage {
			t.Errorf("scriptrun %s: exit %d, want %d (stderr %q)", strings.Join(args[2:], " "), code, exitUsage, errb.String())
		}
		if !strings.Contains(errb.String(), `unknown command "bogus-sub"`) {
			t.Errorf("scriptrun %s: stderr %q, want it to name the unknown command", strings.Join(args[2:], " "), errb.String())
		}
	}
}

// TestUnknownSubcommandSuggests checks the "did you mean" and that a bare
// parent command still prints its help and succeeds.
func TestUnknownSubcommandSuggests(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"token", "shwo", "x"}, exitUsage, "did you mean show?"},
		{[]string{"cron", "ad"}, exitUsage, "did you mean add"},
		{[]string{"token"}, exitOK, ""},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		args := append([]string{"--home", t.TempDir()}, tt.args...)
		code := Main(args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
		if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) {
			t.Errorf("scriptrun %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errb.String(), tt.wantCode, tt.wantErr)
		}
	}
}
