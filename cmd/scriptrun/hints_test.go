package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestHintRepeatsHome(t *testing.T) {
	tests := []struct {
		name      string
		flag, env string
		msg, want string
	}{
		{"default home: unchanged", "", "", "authorize it with: scriptrun token authorize api", "authorize it with: scriptrun token authorize api"},
		{"--home", "/srv/sr", "", "authorize it with: scriptrun token authorize api", "authorize it with: scriptrun --home /srv/sr token authorize api"},
		{"$SCRIPTRUN_HOME", "", "/srv/sr", "run `scriptrun token authorize api` again", "run `scriptrun --home /srv/sr token authorize api` again"},
		{"quoted", "/srv/my home", "", "scriptrun token refresh api to retry now", "scriptrun --home '/srv/my home' token refresh api to retry now"},
		{"quote in path", "/srv/it's", "", "`scriptrun cron list`", `` + "`scriptrun --home '/srv/it'\\''s' cron list`"},
		{"prose untouched", "/srv/sr", "", "is another scriptrun serve running?", "is another scriptrun serve running?"},
		{"every command", "/srv/sr", "", "`scriptrun a` or `scriptrun b`", "`scriptrun --home /srv/sr a` or `scriptrun --home /srv/sr b`"},
	}
	for _, tt := range tests {
		a := &app{home: tt.flag, getenv: func(k string) string {
			if k == "SCRIPTRUN_HOME" {
				return tt.env
			}
			return ""
		}}
		if got := a.hint(tt.msg); got != tt.want {
			t.Errorf("%s: hint(%q) = %q, want %q", tt.name, tt.msg, got, tt.want)
		}
	}
}

// The hints a command prints, on stdout and in its error, name the home.
func TestHintsNameHomeEndToEnd(t *testing.T) {
	home := t.TempDir() + "/a home"
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"--home", home}, args...), Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
		return code, out.String() + errb.String()
	}
	want := "scriptrun --home " + shellQuote(home) + " "
	if code, out := run("token", "add", "api", "--provider", "nope"); code != exitUsage || !strings.Contains(out, want+"provider add nope") {
		t.Errorf("token add with a missing provider: exit %d, %q; want exit 2 and a hint with %q", code, out, want)
	}
	if code, out := run("provider", "add", "p", "--client-id", "x", "--auth-url", "http://127.0.0.1:1/a", "--token-url", "http://127.0.0.1:1/t"); code != 0 {
		t.Fatalf("provider add: exit %d, %s", code, out)
	}
	if code, out := run("token", "add", "api", "--provider", "p", "--base-url", "http://127.0.0.1:1"); code != 0 || !strings.Contains(out, want+"token authorize api") {
		t.Errorf("token add: exit %d, %q; want a hint with %q", code, out, want+"token authorize api")
	}
	if _, out := run("doctor", "--offline"); !strings.Contains(out, want+"token authorize api") {
		t.Errorf("doctor: %q; want a fix with %q", out, want+"token authorize api")
	}
}
