package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

// queryKeyAPI is an API on two origins for an api-key token whose key goes
// in the query: origin a is the token's, origin b another. It records
// what each received, for the scan, and answers with what it noticed but
// never the key itself (that would be data the script fetched, which
// binding does not protect).
type queryKeyAPI struct {
	a, b *httptest.Server
	mu   sync.Mutex
	seen map[string]*strings.Builder
}

func newQueryKeyAPI() *queryKeyAPI {
	q := &queryKeyAPI{seen: map[string]*strings.Builder{"a": {}, "b": {}}}
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q.mu.Lock()
			fmt.Fprintf(q.seen[name], "%s %s Referer=%q Host=%q\n", r.Method, r.RequestURI, r.Referer(), r.Host)
			q.mu.Unlock()
			switch r.URL.Path {
			case "/redirect":
				code, _ := strconv.Atoi(r.URL.Query().Get("status"))
				w.Header().Set("Location", r.URL.Query().Get("to"))
				w.WriteHeader(code)
			case "/dir":
				http.Redirect(w, r, "/dir/?"+r.URL.RawQuery, http.StatusMovedPermanently)
			case "/nofollow":
				w.Header().Set("Location", "/elsewhere?"+r.URL.RawQuery)
				w.WriteHeader(http.StatusMultipleChoices)
			case "/badloc":
				w.Header().Set("Location", "http://[::1%zz/?"+r.URL.RawQuery)
				w.WriteHeader(http.StatusFound)
			default:
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{"server": name, "path": r.URL.Path, "keyArrived": r.URL.Query().Has("api_key"), "referer": r.Referer() != ""})
			}
		})
	}
	q.a, q.b = httptest.NewServer(handler("a")), httptest.NewServer(handler("b"))
	return q
}

func (q *queryKeyAPI) Close() { q.a.Close(); q.b.Close() }

func (q *queryKeyAPI) received(name string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.seen[name].String()
}

// queryKeyScript follows every redirect status, cross-origin and
// same-origin, and a trailing-slash redirect that keeps the query, with
// send, fetch and sendAsync, printing every URL, response and error it gets.
const queryKeyScript = `
const [A, B] = args;
(async () => {
  for (const status of [301, 302, 303, 307, 308]) {
    for (const to of [B + '/echo?x=1', A + '/echo?x=1']) {
      const u = A + '/redirect?status=' + status + '&to=' + encodeURIComponent(to);
      const res = http.get(u).apiTokenAuth('qkey').send();
      console.log(res.url, JSON.stringify(res), res);
      const r = await fetch(u, { apiTokenAuth: 'qkey' });
      console.log(r.url, JSON.stringify(r), r, await r.text());
      const s = await http.get(u).apiTokenAuth('qkey').sendAsync();
      console.log(s.url, s.body);
    }
  }
  const d = http.get(A + '/dir?page=2').apiTokenAuth('qkey').send();
  console.log('trailing slash', d.url, JSON.stringify(d), d);
  const df = await fetch(A + '/dir?page=2', { apiTokenAuth: 'qkey' });
  console.log('trailing slash fetch', df.url, df);
  const nf = http.get(A + '/nofollow').apiTokenAuth('qkey').send();
  console.log(nf.status, JSON.stringify(nf.headers), nf.header('location'));
  try { http.get(A + '/badloc').apiTokenAuth('qkey').send(); } catch (e) { console.log(e.code, e.message, e.stack); }
  try { await fetch(A + '/badloc', { apiTokenAuth: 'qkey' }); } catch (e) { console.log(e.code, e.message, e.stack); }
})();
`

// queryKeyRedirects adds an api-key token that sends its key in the query,
// bound to the API's first origin, and uses it from a script, the REPL and
// a cron job across redirects. The scan then finds the key nowhere: not in
// their output, not in the run history, not in what the other origin
// received, not in any Referer.
func (s *secretScan) queryKeyRedirects() {
	t := s.t
	q := newQueryKeyAPI()
	defer q.Close()
	s.cli("qkey-S3CRET-in-the-query-0042\n", "token", "add", "qkey", "--type", "api-key", "--query", "api_key", "--key-stdin", "--base-url", q.a.URL)

	script := writeScript(t, t.TempDir(), "qkey.js", queryKeyScript)
	code, out, errs := proc(t, s.home, "", script, q.a.URL, q.b.URL)
	s.see("a script using a query key across redirects", out+errs)
	if code != 0 || !strings.Contains(out, "trailing slash "+q.a.URL+"/dir/?page=2&api_key=REDACTED") || !strings.Contains(out, "NETWORK") {
		t.Errorf("query-key script: exit %d; want the trailing-slash URL masked and the bad Location failing\n%s%s", code, out, errs)
	}

	replIn := "http.get('" + q.a.URL + "/dir?page=2').apiTokenAuth('qkey').send()\n" +
		"await fetch('" + q.a.URL + "/dir?x=1', {apiTokenAuth: 'qkey'})\n" +
		"http.get('" + q.a.URL + "/redirect?status=307&to=" + q.b.URL + "/echo').apiTokenAuth('qkey').send()\n"
	_, out, errs = proc(t, s.home, replIn, "repl")
	if !strings.Contains(out, "api_key=REDACTED") {
		t.Errorf("the REPL did not print the redirected response's URL, masked:\n%s%s", out, errs)
	}
	s.see("the REPL printing query-key responses", out+errs)

	s.cli("", "cron", "add", "qkey-job", "--schedule", "@daily", "--script", script, "--", q.a.URL, q.b.URL)
	_, out, errs = proc(t, s.home, "", "cron", "run", "qkey-job")
	s.see("cron run of a query-key job", out+errs)
	var runs []runView
	if err := json.Unmarshal([]byte(s.cli("", "cron", "runs", "qkey-job", "--json")), &runs); err != nil || len(runs) == 0 {
		t.Fatalf("cron runs --json: %v %v", runs, err)
	}
	id := strconv.FormatUint(runs[0].ID, 10)
	if out := s.cli("", "cron", "log", id); !strings.Contains(out, "REDACTED") {
		t.Errorf("the cron log lacks the job's masked output:\n%s", out)
	}
	s.cli("", "cron", "log", id, "--json")

	s.see("what the other origin received", q.received("b"))
	var referers strings.Builder
	for _, l := range strings.Split(q.received("a"), "\n") {
		if _, ref, ok := strings.Cut(l, " Referer="); ok {
			referers.WriteString(ref + "\n")
		}
	}
	s.see("the Referers the token's own origin received", referers.String())
	if b := q.received("b"); !strings.Contains(b, "/echo") {
		t.Fatalf("the other origin got no redirected request; the scan would prove nothing:\n%s", b)
	}
}
