package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The provider form's rejection fields: stored as typed, shown on the
// provider's page and back in the edit form, emptied to the default, and
// refused field by field.
func TestProviderRejectionForm(t *testing.T) {
	e := newEnv(t, envOpts{})
	b := e.signedIn()
	mustContain(t, "new provider form", b.get("/providers/-/new"), "When the API refuses an access token", "Rejected statuses", "Rejected body pattern", "Rejected body statuses")

	const pattern = `"code"\s*:\s*"60[12]"`
	form := func(kv ...string) url.Values {
		f := b.form("client_id", "app-1", "grant_type", "client_credentials", "token_url", "https://123-abc-456.mktorest.com/identity/oauth/token", "auth_style", "body")
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	r := b.post("/providers/-/new", form("name", "marketo", "rejected_status", "403, 401", "rejected_body", pattern, "rejected_body_status", "200"))
	if r.status != http.StatusSeeOther {
		t.Fatalf("create provider: %d\n%s", r.status, text(r.body))
	}
	p, err := e.provider("marketo")
	if err != nil || !slices.Equal(p.Rejection.Statuses, []int{401, 403}) || p.Rejection.BodyPattern != pattern || !slices.Equal(p.Rejection.BodyStatuses, []int{200}) {
		t.Fatalf("stored rejection %+v (%v)", p.Rejection, err)
	}
	mustContain(t, "provider page", b.follow(r), "Access token refused on status 401,403", "or a body matching "+pattern+" in the first 4 KiB of 200 answers")

	edit := b.get("/providers/marketo/edit")
	for field, want := range map[string]string{"rejected_status": "401,403", "rejected_body": pattern, "rejected_body_status": "200"} {
		if got := formValue(t, edit.body, field); got != want {
			t.Errorf("edit form: %s = %q, want %q", field, got, want)
		}
	}

	if r := b.post("/providers/marketo/edit", form()); r.status != http.StatusSeeOther {
		t.Fatalf("edit with empty rejection fields: %d\n%s", r.status, text(r.body))
	}
	if p, _ := e.provider("marketo"); !p.Rejection.IsZero() {
		t.Errorf("after emptying the fields: %+v, want the default", p.Rejection)
	}
	mustContain(t, "provider page with the default", b.get("/providers/marketo"), "Access token refused on status 401 then refreshed")

	bad := []struct {
		name string
		kv   []string
		want []string
	}{
		{"2xx status", []string{"rejected_status", "200"}, []string{"Rejected statuses: 200 is not a status that refuses a token"}},
		{"not a number", []string{"rejected_status", "forbidden"}, []string{`Rejected statuses: "forbidden" is not an HTTP status code`}},
		{"bad pattern", []string{"rejected_body", "60[12"}, []string{"Rejected body pattern: not a valid regular expression"}},
		{"body statuses without pattern", []string{"rejected_body_status", "200"}, []string{"Rejected body statuses: they say which answers' bodies to search, but there is no body pattern"}},
		{"every problem at once", []string{"rejected_status", "200", "rejected_body", ".*"}, []string{"Rejected statuses: 200", "Rejected body pattern: it matches an empty body"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			f := form(append([]string{"client_secret", "typed-secret-1234"}, tt.kv...)...)
			r := b.post("/providers/marketo/edit", f)
			if r.status != http.StatusUnprocessableEntity || !strings.Contains(text(r.body), "type it again") {
				t.Fatalf("edit with %v: %d, want 422 saying the secret must be typed again:\n%s", tt.kv, r.status, text(r.body))
			}
			mustContain(t, "refused form", r, tt.want...)
			if strings.Contains(r.body, "typed-secret-1234") {
				t.Error("the refused form echoes the typed secret")
			}
			if got := formValue(t, r.body, "rejected_status"); got != f.Get("rejected_status") {
				t.Error("the refused form does not keep what was typed")
			}
		})
	}
	if p, _ := e.provider("marketo"); !p.Rejection.IsZero() || p.ClientSecret != "" {
		t.Errorf("a refused edit changed the provider: %+v", p.Rejection)
	}
}

// A template with a rejection (Marketo) fills the form with it, and the
// provider created from the form keeps it.
func TestProviderRejectionFromTemplate(t *testing.T) {
	e := newTemplateEnv(t, t.TempDir())
	b := e.signedIn()
	r := b.get("/providers/-/new?template=marketo&param.munchkin=123-ABC-456")
	if r.status != http.StatusOK {
		t.Fatalf("form from the marketo template: %d\n%s", r.status, text(r.body))
	}
	want := map[string]string{"grant_type": "client_credentials", "rejected_status": "", "rejected_body": `"code"\s*:\s*"60[12]"`, "rejected_body_status": "200",
		"token_url": "https://123-ABC-456.mktorest.com/identity/oauth/token"}
	f := b.form("name", "marketo", "client_id", "app-1", "auth_style", "body", "template", "marketo", "param.munchkin", "123-ABC-456")
	for field, w := range want {
		got := formValue(t, r.body, field)
		if got != w {
			t.Errorf("form from the template: %s = %q, want %q", field, got, w)
		}
		f.Set(field, got)
	}
	if r := b.post("/providers/-/new", f); r.status != http.StatusSeeOther {
		t.Fatalf("create from the template: %d\n%s", r.status, text(r.body))
	}
	if p, err := e.provider("marketo"); err != nil || p.Rejection.BodyPattern != want["rejected_body"] || !slices.Equal(p.Rejection.BodyStatuses, []int{200}) {
		t.Errorf("stored from the template: %+v (%v)", p.Rejection, err)
	}
}
