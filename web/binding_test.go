package web

import (
	"html"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// The token page says where the base URL lets the token go, its path
// included, so an admin sees that a path binds.
func TestTokenPageShowsBinding(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.addProvider("gitlab", "https://gitlab.example.com/oauth")
	e.addToken("project-42", "gitlab", func(tk *store.Token) { tk.BaseURL = "https://gitlab.example.com/api/v4/projects/42/" })
	e.addToken("whole-host", "gitlab", func(tk *store.Token) { tk.BaseURL = "https://gitlab.example.com" })
	b := e.signedIn()
	for name, want := range map[string]string{
		"project-42": "Sent to https://gitlab.example.com/api/v4/projects/42/ and the paths under it only",
		"whole-host": "Sent to https://gitlab.example.com only (any path)",
	} {
		if page := html.UnescapeString(b.get("/tokens/" + name).body); !strings.Contains(page, want) {
			t.Errorf("token %s: the page lacks %q", name, want)
		}
	}
	if form := b.get("/tokens/project-42/edit").body; !strings.Contains(form, "only to paths under it") {
		t.Error("the token form does not say that a path in the base URL binds")
	}
}
