package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/tokens"
)

// The refusals of the APIs in these tests, as the real ones answer.
const (
	djangoRefusal  = `{"detail":"Authentication credentials were not provided."}`
	marketoRefusal = `{"requestId":"e42b#14272d07d78","success":false,"errors":[{"code":"601","message":"Access token invalid"}]}`
)

// refusingAPI is an API in front of the sandbox's /api/me that refuses an
// access token the sandbox no longer accepts as style's real API does:
// "django" (Django OAuth Toolkit behind Django REST framework) with a 403,
// "marketo" with a 200 whose body carries code 601. It returns its URL and
// the number of requests it received.
func refusingAPI(t *testing.T, srv *sandbox.Server, style string) (string, func() int) {
	var mu sync.Mutex
	hits := 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, srv.APIURL()+"/me", nil)
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case resp.StatusCode != http.StatusUnauthorized:
			w.WriteHeader(resp.StatusCode)
			w.Write(body)
		case style == "django":
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, djangoRefusal)
		default:
			io.WriteString(w, marketoRefusal)
		}
	}))
	t.Cleanup(api.Close)
	return api.URL, func() int { mu.Lock(); defer mu.Unlock(); return hits }
}

// tokenCalls counts the sandbox's token-endpoint requests of every grant.
func tokenCalls(srv *sandbox.Server) int {
	n := 0
	for _, v := range srv.Stats().TokenRequests {
		n += v
	}
	return n
}

// authorizeInProcess gets token name its authorization token at the sandbox,
// as "Get authorization token" does, through a manager on c's home.
func authorizeInProcess(t *testing.T, c *cli, srv *sandbox.Server, name string) {
	t.Helper()
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer cb.Close()
	m := tokens.New(tokens.Options{DB: openHome(t, c.home)})
	defer m.Close()
	a, err := m.Authorize(name, cb.URL+"/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	u, err := sandbox.SignIn(context.Background(), a.URL, "demo", "demo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Complete(context.Background(), a, u.Query()); err != nil {
		t.Fatal(err)
	}
}

// rejectionScript makes one signed GET to args[1] with the API args[0]
// names and prints its status and body as JSON.
const rejectionScript = `(async () => {
  const [mode, url] = args;
  let status, body;
  if (mode === 'send') {
    const res = http.get(url).apiTokenAuth('api').send();
    [status, body] = [res.status, res.body];
  } else if (mode === 'sendAsync') {
    const res = await http.get(url).apiTokenAuth('api').sendAsync();
    [status, body] = [res.status, res.body];
  } else {
    const r = await fetch(url, { apiTokenAuth: 'api' });
    [status, body] = [r.status, await r.text()];
  }
  console.log(JSON.stringify({ status, body }));
})();`

// An API that refuses an expired access token with a 403 (Django OAuth
// Toolkit) or a 200 and code 601 (Marketo): when the provider declares it,
// the script's call succeeds after exactly one refresh (or fetch) and one
// retry, through send, sendAsync and fetch; by default, or with a pattern
// that does not match, the refusal reaches the script and nothing is
// refreshed.
func TestRefusedAccessTokenRefreshedOnce(t *testing.T) {
	tests := []struct {
		name    string
		style   string
		grant   string
		flags   []string
		status  int
		refusal bool // the script gets the API's refusal
	}{
		{name: "django declared", style: "django", grant: "authorization_code", flags: []string{"--rejected-status", "401,403"}, status: 200},
		{name: "django by default", style: "django", grant: "authorization_code", status: 403, refusal: true},
		{name: "marketo declared", style: "marketo", grant: "client_credentials", flags: []string{"--rejected-body", `"code"\s*:\s*"60[12]"`, "--rejected-body-status", "200"}, status: 200},
		{name: "marketo pattern that does not match", style: "marketo", grant: "client_credentials", flags: []string{"--rejected-body", `"code"\s*:\s*"999"`}, status: 200, refusal: true},
		{name: "marketo by default", style: "marketo", grant: "client_credentials", status: 200, refusal: true},
	}
	script := writeScript(t, t.TempDir(), "call.js", rejectionScript)
	for _, mode := range []string{"send", "sendAsync", "fetch"} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				srv, err := sandbox.Start(sandbox.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				api, hits := refusingAPI(t, srv, tt.style)
				c := newCLI(t)
				c.env["SECRET"] = srv.ClientSecret()
				add := []string{"provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-env", "SECRET",
					"--token-url", srv.TokenURL(), "--scopes", "read", "--grant-type", tt.grant}
				if tt.grant == "authorization_code" {
					add = append(add, "--auth-url", srv.AuthURL())
				}
				c.must(append(add, tt.flags...)...)
				c.must("token", "add", "api", "--provider", "sandbox", "--base-url", api)
				if tt.grant == "authorization_code" {
					authorizeInProcess(t, c, srv, "api")
				}
				call := func() (int, string) {
					t.Helper()
					var got struct {
						Status int
						Body   string
					}
					if err := json.Unmarshal([]byte(c.must("run", script, mode, api)), &got); err != nil {
						t.Fatal(err)
					}
					return got.Status, got.Body
				}
				if status, _ := call(); status != 200 { // the token is fetched or valid
					t.Fatalf("first call: %d", status)
				}
				srv.ExpireAccessTokens()
				calls, before := tokenCalls(srv), hits()

				status, body := call()
				refreshes, sent := tokenCalls(srv)-calls, hits()-before
				wantRefreshes, wantSent := 1, 2
				if tt.refusal {
					wantRefreshes, wantSent = 0, 1
				}
				if status != tt.status || strings.Contains(body, `"user"`) == tt.refusal {
					t.Errorf("the script got %d %s, want %d and refused=%v", status, body, tt.status, tt.refusal)
				}
				if refreshes != wantRefreshes || sent != wantSent {
					t.Errorf("after the API refused the token: %d token-endpoint calls and %d API requests, want %d and %d", refreshes, sent, wantRefreshes, wantSent)
				}
			})
		}
	}
}

// The rejection flags: each mistake is a usage error naming its flag, and
// what is given is stored, shown and changed as given.
func TestProviderRejectionFlags(t *testing.T) {
	good := []string{"--client-id", "x", "--auth-url", "https://a.example.com/authorize", "--token-url", "https://a.example.com/token"}
	bad := []struct {
		name  string
		flags []string
		want  []string
	}{
		{"2xx status", []string{"--rejected-status", "200"}, []string{"--rejected-status: 200", "400 to 599"}},
		{"not a number", []string{"--rejected-status", "forbidden"}, []string{"--rejected-status:", `"forbidden" is not an HTTP status code`}},
		{"bad pattern", []string{"--rejected-body", `"code":"60[12"`}, []string{"--rejected-body:", "not a valid regular expression"}},
		{"pattern matching everything", []string{"--rejected-body", `.*`}, []string{"--rejected-body:", "matches an empty body"}},
		{"pattern too long", []string{"--rejected-body", strings.Repeat("a", 300)}, []string{"--rejected-body:", "at most 256"}},
		{"body status 3xx", []string{"--rejected-body", "x", "--rejected-body-status", "302"}, []string{"--rejected-body-status: 302"}},
		{"body status without pattern", []string{"--rejected-body-status", "200"}, []string{"--rejected-body-status:", "no body pattern"}},
		{"status in both", []string{"--rejected-status", "401,403", "--rejected-body", "x", "--rejected-body-status", "403"}, []string{"--rejected-body-status: 403 is also a rejected status"}},
		{"every problem at once", []string{"--rejected-status", "200", "--rejected-body", "("}, []string{"--rejected-status: 200", "--rejected-body: not a valid"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			code, out, errs := c.run(append(append([]string{"provider", "add", "p"}, good...), tt.flags...)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not say %q", errs, w)
				}
			}
			if code, _, _ := c.run("provider", "show", "p"); code == 0 {
				t.Error("the refused provider was stored")
			}
		})
	}

	c := newCLI(t)
	show := func() providerView {
		t.Helper()
		var v providerView
		if err := json.Unmarshal([]byte(c.must("provider", "show", "p", "--json")), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	c.must(append([]string{"provider", "add", "p"}, good...)...)
	if v := show(); !slices.Equal(v.RejectedStatuses, []int{401}) || v.RejectedBody != "" {
		t.Errorf("by default: %v %q, want [401] and no pattern", v.RejectedStatuses, v.RejectedBody)
	}
	steps := []struct {
		flags        []string
		statuses     []int
		body         string
		bodyStatuses []int
	}{
		{[]string{"--rejected-status", "403, 401"}, []int{401, 403}, "", nil},
		{[]string{"--rejected-body", `"code":"60[12]"`}, []int{401, 403}, `"code":"60[12]"`, []int{200}},
		{[]string{"--rejected-body-status", "200,202"}, []int{401, 403}, `"code":"60[12]"`, []int{200, 202}},
		{[]string{"--description", "other flags keep it"}, []int{401, 403}, `"code":"60[12]"`, []int{200, 202}},
		{[]string{"--rejected-body", ""}, []int{401, 403}, "", nil},
		{[]string{"--rejected-status", ""}, []int{401}, "", nil},
	}
	for _, s := range steps {
		c.must(append([]string{"provider", "update", "p"}, s.flags...)...)
		if v := show(); !slices.Equal(v.RejectedStatuses, s.statuses) || v.RejectedBody != s.body || !slices.Equal(v.RejectedBodyStatuses, s.bodyStatuses) {
			t.Errorf("after update %q: %v %q %v, want %v %q %v", s.flags, v.RejectedStatuses, v.RejectedBody, v.RejectedBodyStatuses, s.statuses, s.body, s.bodyStatuses)
		}
	}
	c.must("provider", "update", "p", "--rejected-status", "401,403", "--rejected-body", `"code":"60[12]"`)
	if out := c.must("provider", "show", "p"); !regexp.MustCompile(`(?m)^rejectedStatus: +401,403$`).MatchString(out) || !strings.Contains(out, `"code":"60[12]" (in the first 4 KiB of 200 answers)`) {
		t.Errorf("provider show:\n%s", out)
	}

	// export and apply carry it.
	exported := c.must("export")
	if !strings.Contains(exported, "rejection:") || !strings.Contains(exported, "bodyPattern") {
		t.Fatalf("export lacks the rejection:\n%s", exported)
	}
	other := newCLI(t)
	file := filepath.Join(t.TempDir(), "scriptrun.yaml")
	writeScript(t, filepath.Dir(file), filepath.Base(file), exported)
	other.must("apply", "-f", file)
	if again := other.must("export"); again != exported {
		t.Errorf("export -> apply -> export differs:\n%s\n---\n%s", exported, again)
	}
}

// `provider add --template marketo` brings the template's rejection along.
func TestProviderRejectionFromTemplate(t *testing.T) {
	c := newCLI(t)
	c.must("provider", "add", "mkto", "--template", "marketo", "--param", "munchkin=123-ABC-456", "--client-id", "app-1")
	var v providerView
	if err := json.Unmarshal([]byte(c.must("provider", "show", "mkto", "--json")), &v); err != nil {
		t.Fatal(err)
	}
	if v.GrantType != "client_credentials" || v.RejectedBody != `"code"\s*:\s*"60[12]"` || !slices.Equal(v.RejectedBodyStatuses, []int{200}) || !slices.Equal(v.RejectedStatuses, []int{401}) {
		t.Errorf("provider from the marketo template: %+v", v)
	}
	if out := c.must("provider", "templates"); !strings.Contains(out, "marketo") || !strings.Contains(out, "601 or 602") {
		t.Errorf("provider templates does not list marketo's quirk:\n%s", out)
	}
}
