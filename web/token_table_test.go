package web

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/store"
)

// ownFormParts are the form values of the types whose settings have no
// field of their own (Setting.Form ""): their form has a part written for
// them. A type with such settings and no entry here fails the test below.
var ownFormParts = map[string][]string{
	store.TypeAPIKey: {"key_in", "header", "key_name", "X-API-Key", "key_prefix", "Token "},
}

// Every type of store.TokenTypes goes through the console by its table
// entry alone: the New token form offers it with its label and help, has a
// field for each setting and credential, stores what was typed, the token
// page shows the settings and the masked credentials, and the edit form
// keeps each credential behind its mask. A type added to the table without
// its console part fails here.
func TestEveryTableTypeInTheConsole(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.addProvider("p", "https://login.example.com")
	b := e.signedIn()
	for i, spec := range store.TokenTypes {
		t.Run(spec.Type, func(t *testing.T) {
			page := b.get("/tokens/-/new?type=" + spec.Type)
			if page.status != http.StatusOK {
				t.Fatalf("new %s form: %d", spec.Type, page.status)
			}
			bodyHas(t, "the new token form", page, `href="/tokens/-/new?type=`+spec.Type+`"`, ">"+html.EscapeString(spec.Label)+"<",
				html.EscapeString(spec.Help[:20]), `<input type="hidden" name="type" value="`+spec.Type+`">`)
			form := []string{"name", "tt-" + spec.Type, "type", spec.Type, "base_url", "https://api.example.com", "active", "on"}
			if spec.Type == store.TypeOAuth2 {
				form = append(form, "provider", "p")
			}
			want := map[string]string{} // setting key → value
			var ownPart bool
			for _, st := range spec.Settings {
				if st.Form == "" {
					ownPart = true
					continue
				}
				v := st.Example
				if len(st.Choices) > 0 {
					v = st.Choices[len(st.Choices)-1].Value
				}
				bodyHas(t, "the new token form", page, `name="`+st.Form+`"`, ">"+st.Label+"<")
				form = append(form, st.Form, v)
				want[st.Key] = v
			}
			if ownPart {
				part, ok := ownFormParts[spec.Type]
				if !ok {
					t.Fatalf("type %s has settings without a field of their own and no form part of its own", spec.Type)
				}
				form = append(form, part...)
			}
			secrets := map[string]string{} // credential label → typed value
			for _, c := range spec.Credentials {
				if !c.Entered() {
					continue
				}
				bodyHas(t, "the new token form", page, `name="`+c.Form+`" type="password" value=""`, ">"+c.Label+"<")
				v := "console-" + c.Form + "-" + strings.Repeat("7", i+4)
				form = append(form, c.Form, v)
				secrets[c.Label] = v
			}
			r := b.post("/tokens/-/new", b.form(form...))
			if r.status != http.StatusSeeOther {
				t.Fatalf("create %s: %d %s", spec.Type, r.status, text(r.body))
			}
			tok := e.token("tt-" + spec.Type)
			for _, st := range spec.Settings {
				if v, ok := want[st.Key]; ok && *st.Field(&tok) != v {
					t.Errorf("stored %s = %q, want %q", st.Key, *st.Field(&tok), v)
				}
			}
			show := b.follow(r)
			bodyHas(t, "the token page", show, html.EscapeString(spec.Label))
			for _, st := range spec.Settings {
				if st.Form != "" {
					bodyHas(t, "the token page", show, "<dt>"+st.Label+"</dt>")
				}
			}
			for label, v := range secrets {
				bodyHas(t, "the token page", show, "<dt>"+label+"</dt>", store.Mask(v))
				if strings.Contains(show.body, v) {
					t.Errorf("the token page shows the %s", label)
				}
			}
			edit := b.get("/tokens/tt-" + spec.Type + "/edit")
			for _, v := range secrets {
				bodyHas(t, "the edit form", edit, `placeholder="leave empty to keep `+store.Mask(v)+`"`)
				if strings.Contains(edit.body, v) {
					t.Error("the edit form shows a credential")
				}
			}
		})
	}
}

// bodyHas fails unless r's HTML holds each of wants.
func bodyHas(t *testing.T, what string, r response, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(r.body, w) {
			t.Errorf("%s (status %d) lacks %q", what, r.status, w)
		}
	}
}
