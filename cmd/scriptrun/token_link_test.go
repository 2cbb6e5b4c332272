package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenLinkCLI(t *testing.T) {
	c := newCLI(t)
	c.addProvider()
	c.must("token", "add", "mail", "--provider", "graph", "--base-url", "https://graph.example.com")

	// Default address: the default callback URL's console, on loopback.
	code, out, errs := c.run("token", "link", "mail")
	if code != 0 {
		t.Fatalf("token link: exit %d\n%s%s", code, out, errs)
	}
	link := strings.TrimSpace(out)
	u, err := url.Parse(link)
	if err != nil || strings.Count(out, "\n") != 1 || u.Scheme+"://"+u.Host+u.Path != "http://127.0.0.1:8080/reconnect" || len(u.Query().Get("link")) != 43 {
		t.Fatalf("token link printed %q, want the link alone on the default console", out)
	}
	for _, want := range []string{"usable once until", "only this machine can open", "--revoke"} {
		if !strings.Contains(errs, want) {
			t.Errorf("token link's notes do not say %q:\n%s", want, errs)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(c.home, "scriptrun.db"))
	if strings.Contains(string(raw), u.Query().Get("link")) {
		t.Error("the link's secret is in the database")
	}

	// The console's address from the callback URL serve uses, or given.
	c.env["SCRIPTRUN_CALLBACK_URL"] = "https://ops.example.com/scriptrun/oauth/callback"
	out = c.must("token", "link", "mail", "--expires", "72h")
	if !strings.HasPrefix(out, "https://ops.example.com/scriptrun/reconnect?link=") {
		t.Errorf("with SCRIPTRUN_CALLBACK_URL: %q", out)
	}
	out = c.must("token", "link", "mail", "--console-url", "https://console.example.com/")
	if !strings.HasPrefix(out, "https://console.example.com/reconnect?link=") {
		t.Errorf("with --console-url: %q", out)
	}

	// List, revoke one, list again.
	list := c.must("token", "link", "mail", "--list")
	if strings.Count(list, "usable") != 3 || !strings.Contains(list, "command line") {
		t.Fatalf("--list:\n%s", list)
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	if out := c.must("token", "link", "mail", "--revoke", id[:6]); !strings.Contains(out, "reconnect link "+id+" of token mail revoked") {
		t.Errorf("--revoke: %q", out)
	}
	list = c.must("token", "link", "mail", "--list")
	if strings.Count(list, "usable") != 2 || strings.Count(list, "revoked") != 1 {
		t.Errorf("--list after a revocation:\n%s", list)
	}
	if out := c.must("token", "link", "mail", "--revoke", "all"); strings.Count(out, "revoked") != 2 {
		t.Errorf("--revoke all: %q", out)
	}

	c.env["KEY"] = "static-bearer-SECRET"
	c.must("token", "add", "hook", "--type", "bearer", "--token-env", "KEY")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "link", "mail", "--expires", "200h"}, "from 5m0s to 168h"},
		{[]string{"token", "link", "mail", "--list", "--revoke", "all"}, "do not go together"},
		{[]string{"token", "link", "mail", "--list", "--expires", "1h"}, "are for making a link"},
		{[]string{"token", "link", "mail", "--console-url", "ops.example.com"}, "is not the console's address"},
		{[]string{"token", "link", "mail", "--callback-url", "https://ops.example.com/cb"}, "does not end in /oauth/callback"},
		{[]string{"token", "link", "nope"}, "not found"},
		{[]string{"token", "link", "hook"}, "a reconnect link is for oauth2 tokens"},
		{[]string{"token", "link", "mail", "--revoke", "all"}, "not found"},
		{[]string{"token", "link", "mail", "--revoke", "ab"}, "too short"},
	} {
		code, out, errs := c.run(tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) || out != "" {
			t.Errorf("scriptrun %s: exit %d, stdout %q, stderr %q; want exit 2 saying %q", strings.Join(tc.args, " "), code, out, errs, tc.want)
		}
	}
}
