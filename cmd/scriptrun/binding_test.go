package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A token whose base URL has a path (GitLab-style per-project tokens)
// signs only paths under it, through the real CLI and every static type:
// sibling paths, "..", encoded dots and slashes are refused with
// TOKEN_HOST_MISMATCH, a same-origin redirect out of the path reaches its
// target without the credential, a foreign Host is refused with
// HOST_MISMATCH, and `token show` says what the token is bound to.
func TestPathBoundTokens(t *testing.T) {
	rv := newAPIReceiver(t)
	api := rv.Config.Handler
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v4/projects/42/moved" {
			http.Redirect(w, r, "/api/v4/projects/43/issues", http.StatusFound)
			return
		}
		api.ServeHTTP(w, r)
	}))
	defer front.Close()
	c := newCLI(t)
	bound := front.URL + "/api/v4/projects/42/"
	addStaticTokens(c, bound)
	if out := c.must("token", "show", "bearer"); !strings.Contains(out, "boundTo:") || !strings.Contains(out, bound+" and the paths under it only") {
		t.Errorf("token show does not say the token is bound to its path:\n%s", out)
	}
	code, _, errs := c.run("token", "update", "bearer", "--base-url", front.URL+"/api/v4/projects/42/%2e%2e/43/")
	if code == 0 || !strings.Contains(errs, "dot segment") {
		t.Errorf("a base URL with an encoded dot segment: exit %d, %q; want it refused", code, errs)
	}
	script := writeScript(t, t.TempDir(), "paths.js", `
const [base, name] = args;
console.log('inside', http.get(base + '/api/v4/projects/42/issues').apiTokenAuth(name).send().status);
for (const p of ['/api/v4/projects/420', '/api/v4/projects/42/../43', '/api/v4/projects/42/%2e%2e/43', '/api/v4/projects/42/..%2F43', '/api/v4/projects/42//../43', '/api/v4/projects/42/..;/43']) {
  try { http.get(base + p).apiTokenAuth(name).send(); console.log('sent to', p); } catch (e) { console.log(e.code); }
}
const moved = http.get(base + '/api/v4/projects/42/moved').apiTokenAuth(name).send();
console.log('moved', moved.status, moved.url);
try { http.get(base + '/api/v4/projects/42/issues').header('Host', 'tenant-b.example').apiTokenAuth(name).send(); console.log('sent with Host'); } catch (e) { console.log(e.code); }
`)
	for _, name := range staticNames {
		t.Run(name, func(t *testing.T) {
			before := len(rv.requests())
			code, out, errs := c.run(script, front.URL, name)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			want := "inside 200\n" + strings.Repeat("TOKEN_HOST_MISMATCH\n", 6) + "moved 200 " + front.URL + "/api/v4/projects/43/issues\nHOST_MISMATCH\n"
			if out != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
			}
			noSecrets(t, "stdout", out+errs)
			reqs := rv.requests()[before:]
			if len(reqs) != 2 {
				t.Fatalf("the API got %d requests, want 2 (inside, and the redirect's target)", len(reqs))
			}
			checkReceived(t, name, reqs[0])
			out43 := reqs[1]
			if out43.target != "/api/v4/projects/43/issues" || out43.header.Get("Authorization") != "" || out43.header.Get("X-Api-Key") != "" || out43.header.Get("Referer") != "" {
				t.Errorf("the redirect out of the bound path carried a credential or a Referer: %s %v", out43.target, out43.header)
			}
		})
	}
}
