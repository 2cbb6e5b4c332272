package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/termtext"
)

// hostile is text a terminal would act on: it retitles the window, clears
// the screen, sends a C1 CSI, reverses what follows, fakes a line.
const hostile = "ok\x1b]0;evil\x07 \x1b[2J\x1b[31m \u009b1m \u202eevil\u202c\nstate: authorized"

// terminalSafe reports what in out, but its newlines and tabs, a terminal
// would act on.
func terminalSafe(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r != '\n' && r != '\t' && termtext.Unsafe(r) {
			t.Errorf("%s shows %U raw:\n%q", what, r, out)
			return
		}
	}
	if !utf8.ValidString(out) {
		t.Errorf("%s is not valid UTF-8: %q", what, out)
	}
}

// Descriptions and lastMessage come from people, providers and the store:
// shown to a terminal, they are text, never escape sequences; --json is
// still JSON holding them unchanged.
func TestRecordsShownAsText(t *testing.T) {
	c := newCLI(t)
	c.addProvider()
	c.must("provider", "update", "graph", "--description", hostile)
	c.must("token", "add", "mail", "--provider", "graph", "--base-url", "https://graph.microsoft.com")
	db := openCronHome(t, c.home)
	if err := db.Update(func(tx *store.Tx) error {
		tok, err := tx.Token("mail")
		if err != nil {
			return err
		}
		tok.LastMessage = hostile
		tok.State = store.StateReauthRequired // doctor shows why
		return tx.PutToken(tok)
	}); err != nil {
		t.Fatal(err)
	}
	oneLineHostile := strings.ReplaceAll(hostile, "\n", " ") // templates refuse a newline
	tmpl, _ := json.Marshal(map[string]any{"name": "corp", "title": oneLineHostile, "quirk": oneLineHostile,
		"authorizationUrl": "https://sso.corp.example/authorize", "tokenUrl": "https://sso.corp.example/token", "authStyle": "header", "pkce": true})
	os.MkdirAll(filepath.Join(c.home, "templates"), 0o700)
	if err := os.WriteFile(filepath.Join(c.home, "templates", "corp.json"), tmpl, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args  []string
		shows bool // the hostile text, as text
	}{
		{[]string{"provider", "show", "graph"}, true}, {[]string{"provider", "list"}, false},
		{[]string{"token", "show", "mail"}, true}, {[]string{"token", "list"}, true}, {[]string{"doctor", "--offline"}, true},
		{[]string{"provider", "templates"}, true},
	} {
		_, out, errs := c.run(tt.args...)
		what := "scriptrun " + strings.Join(tt.args, " ")
		terminalSafe(t, what, out+errs)
		if tt.shows && !strings.Contains(out, `ok\x1b]0;evil\x07`) {
			t.Errorf("%s does not show the escape as text:\n%s", what, out)
		}
		if strings.Contains(out, "\nstate: authorized") {
			t.Errorf("%s lets a record add a line:\n%s", what, out)
		}
	}
	var pv providerView
	out := c.must("provider", "show", "graph", "--json")
	terminalSafe(t, "provider show --json", out)
	if err := json.Unmarshal([]byte(out), &pv); err != nil || pv.Description != hostile {
		t.Errorf("provider show --json: description %q (%v), want it unchanged", pv.Description, err)
	}
	var tv tokenView
	out = c.must("token", "show", "mail", "--json")
	terminalSafe(t, "token show --json", out)
	if err := json.Unmarshal([]byte(out), &tv); err != nil || tv.LastMessage != hostile {
		t.Errorf("token show --json: lastMessage %q (%v), want it unchanged", tv.LastMessage, err)
	}
}

// A job's output is the script's: `cron run` and `cron log` show it as
// text, --raw gives its bytes, --json keeps it.
func TestCronOutputShownAsText(t *testing.T) {
	c := newCLI(t)
	lit, _ := json.Marshal(hostile) // a JS string literal too
	src := "console.log(" + string(lit) + "); throw new Error('bad \\x1b[2J news')\n"
	file := writeScript(t, t.TempDir(), "loud.js", src)
	c.must("cron", "add", "loud", "--schedule", "@daily", "--script", file)
	_, out, errs := c.run("cron", "run", "loud")
	terminalSafe(t, "cron run", out+errs)
	if !strings.Contains(out, `ok\x1b]0;evil\x07`) {
		t.Errorf("cron run does not show the output as text: %q", out)
	}
	var runs []runView
	if err := json.Unmarshal([]byte(c.must("cron", "runs", "loud", "--json")), &runs); err != nil || len(runs) != 1 {
		t.Fatalf("cron runs --json: %v %v", runs, err)
	}
	id := strconv.FormatUint(runs[0].ID, 10)
	out = c.must("cron", "runs", "loud")
	terminalSafe(t, "cron runs", out)
	out = c.must("cron", "log", id)
	terminalSafe(t, "cron log", out)
	if !strings.Contains(out, `ok\x1b]0;evil\x07 \x1b[2J\x1b[31m \u009b1m \u202eevil\u202c`+"\nstate: authorized") || !strings.Contains(out, `bad \x1b[2J news`) {
		t.Errorf("cron log does not show output and error as text:\n%s", out)
	}
	if out := c.must("cron", "log", id, "--raw"); out != hostile+"\n" {
		t.Errorf("cron log --raw = %q, want the output's bytes %q", out, hostile+"\n")
	}
	var logged runView
	out = c.must("cron", "log", id, "--json")
	terminalSafe(t, "cron log --json", out)
	if err := json.Unmarshal([]byte(out), &logged); err != nil || logged.Output != hostile+"\n" {
		t.Errorf("cron log --json: output %q (%v), want it unchanged", logged.Output, err)
	}
}

// Table cells are cut between runes, so a cut never makes invalid UTF-8.
func TestOneLine(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"two\nlines\tand  spaces", 40, "two lines and spaces"},
		{"abcdef", 3, "abc…"},
		{"ab日本", 4, "ab…"},
		{"ab日本", 5, "ab日…"},
	} {
		if got := oneLine(tt.in, tt.max); got != tt.want {
			t.Errorf("oneLine(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
