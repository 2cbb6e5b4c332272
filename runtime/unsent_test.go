package runtime_test

import (
	"context"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/runtime"
)

// A run that builds a request with apiTokenAuth and never sends it ends
// with a warning naming the line; sent requests, requests without a token
// and failed runs get none.
func TestRunWarnsUnsent(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, src, want string // want "" means no warning
	}{
		{"forgot.js", "const u = 'https://api.example.com/me'\nconst req = http.get(u)\n  .apiTokenAuth('graph-mail')\nconsole.log('done')\n",
			"Warning: request built but never sent at forgot.js:3:16: GET https://api.example.com/me with apiTokenAuth(\"graph-mail\"); call .send() or .sendAsync() to send it\n"},
		{"twice.js", "const b = http.get('https://a.example.com/').apiTokenAuth('x')\nb.apiTokenAuth('y')\nhttp.post('https://b.example.com/').apiTokenAuth('z')\n",
			"at twice.js:1:58: GET https://a.example.com/ with apiTokenAuth(\"y\")"},
		{"sent.js", "http.get('https://a.example.com/').apiTokenAuth('x').sendAsync().catch(() => {})\n", ""},
		{"plain.js", "http.get('https://a.example.com/')\n", ""},
		{"failed.js", "http.get('https://a.example.com/').apiTokenAuth('x')\nthrow new Error('boom')\n", ""},
		{"request.js", "const r = new Request('https://api.example.com/me', {apiTokenAuth: 'graph-mail'})\n",
			"at request.js:1:11: GET https://api.example.com/me with apiTokenAuth(\"graph-mail\"); call fetch(request) to send it"},
		{"fetched.js", "const r = new Request('https://a.example.com/', {apiTokenAuth: 'x'})\nfetch(r).catch(() => {})\n", ""},
		{"cloned.js", "const r = new Request('https://a.example.com/', {apiTokenAuth: 'x'})\nfetch(r.clone()).catch(() => {})\n", ""},
		{"copied.js", "const r = new Request('https://a.example.com/', {apiTokenAuth: 'x'})\nconst p = new Request(r, {method: 'POST'})\n",
			"at copied.js:2:11: POST https://a.example.com/ with apiTokenAuth(\"x\"); call fetch(request)"},
		{"snws.js", "const m = new sn_ws.RESTMessageV2()\nm.setEndpoint('https://api.example.com/x')\nm.setHttpMethod('get')\nm.setAuthenticationProfile('oauth2', 'graph-mail')\n",
			"at snws.js:4:27: GET https://api.example.com/x with apiTokenAuth(\"graph-mail\"); call execute() or executeAsync() to send it"},
		{"snws-sent.js", "const m = new sn_ws.RESTMessageV2()\nm.setEndpoint('https://127.0.0.1:1/x')\nm.setAuthenticationProfile('oauth2', 'x')\nm.executeAsync()\n", ""},
		{"snws-basic.js", "const m = new sn_ws.RESTMessageV2()\nm.setEndpoint('https://a.example.com/x')\nm.setAuthenticationProfile('oauth2', 'x')\nm.setBasicAuth('u', 'p')\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := runtime.Compile(writeFile(t, dir, tt.name, tt.src))
			if err != nil {
				t.Fatal(err)
			}
			_, stderr, _ := run(t, s, context.Background(), runtime.Options{})
			warned := strings.Contains(stderr, "never sent")
			switch {
			case tt.want == "" && warned:
				t.Errorf("unexpected warning:\n%s", stderr)
			case tt.want != "" && !strings.Contains(stderr, tt.want):
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
	// One warning per builder, in the order they were built.
	s, _ := runtime.Compile(writeFile(t, dir, "two.js", "http.get('https://a.example.com/').apiTokenAuth('x')\nhttp.get('https://b.example.com/').apiTokenAuth('x')\n"))
	_, stderr, _ := run(t, s, context.Background(), runtime.Options{})
	if strings.Count(stderr, "never sent") != 2 || strings.Index(stderr, "a.example") > strings.Index(stderr, "b.example") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

// A session warns when it ends, not after each input: a REPL often sends a
// builder in a later input. Positions are those of the input as typed.
func TestSessionWarnsUnsentAtClose(t *testing.T) {
	var stderr strings.Builder
	s, err := runtime.NewSession(runtime.Options{Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, src := range []string{
		"const b = http.get('https://a.example.com/').apiTokenAuth('x')", // sent below
		"b.sendAsync().catch(() => {}); 1",
		"const kept = http.get('https://b.example.com/')",
		"  .apiTokenAuth('y')",
	} {
		var err error
		if strings.HasPrefix(strings.TrimSpace(src), ".") {
			_, err = s.Continue(ctx, src)
		} else {
			_, err = s.Eval(ctx, src)
		}
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
	}
	if strings.Contains(stderr.String(), "never sent") {
		t.Fatalf("warned before the session ended:\n%s", stderr.String())
	}
	s.Close()
	got := stderr.String()
	if strings.Count(got, "never sent") != 1 || !strings.Contains(got, "at REPL4:1:16: GET https://b.example.com/") {
		t.Errorf("stderr after Close:\n%s", got)
	}
}
