package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestUnknownSubcommandIsUsageError walks the command tree: every command
// that groups subcommands refuses a mistyped one with exit 2 instead of
// printing its help and succeeding.
func TestUnknownSubcommandIsUsageError(t *testing.T) {
	var parents [][]string
	walkTree(newRoot(&app{}), func(c *cobra.Command) {
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

// TestHelpOfEveryCommand walks the command tree: every command's help has
// an example and names what each flag takes, never a Go type.
func TestHelpOfEveryCommand(t *testing.T) {
	goType := regexp.MustCompile(`--[a-z-]+ (string|stringArray|strings|int|int64|duration|float64|stringSlice|uint)\b`)
	n := 0
	walkTree(newRoot(&app{}), func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s: no example in its help", c.CommandPath())
		}
		var out bytes.Buffer
		c.SetOut(&out)
		if err := c.Help(); err != nil {
			t.Fatalf("%s --help: %v", c.CommandPath(), err)
		}
		if m := goType.FindString(out.String()); m != "" {
			t.Errorf("%s --help shows a type where a placeholder belongs: %q", c.CommandPath(), m)
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "-") && strings.Contains(line, "`") {
				t.Errorf("%s --help: a flag's line keeps a backquote: %q", c.CommandPath(), line)
			}
		}
		if c.CommandPath() == "scriptrun run" && !strings.Contains(out.String(), "--timeout DURATION") {
			t.Errorf("run --help does not list --timeout:\n%s", out.String())
		}
	})
	if n < 30 {
		t.Errorf("walked %d commands, want every one", n)
	}
}
