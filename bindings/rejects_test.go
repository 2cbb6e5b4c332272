package bindings_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/scriptrun/scriptrun/bindings"
)

// The answers of the rejection tests' API.
const (
	djangoRefusal  = `{"detail":"Authentication credentials were not provided."}`
	marketoRefusal = `{"requestId":"e42b#14272d07d78","success":false,"errors":[{"code":"601","message":"Access token invalid"}]}`
)

// bigBody is an answer longer than any peek, every byte of it checkable.
var bigBody = `{"result":"` + strings.Repeat("0123456789", 10_000) + `","success":true}`

// rejectionAPI answers like the API a test names by path, refusing any
// credential but the fresh one (secret): /django with a 403, /marketo with a
// 200 and code 601, /always with the big body whatever the credential
// (Content-Length given, or chunked with ?chunked=1).
func rejectionAPI(t *testing.T) (*httptest.Server, func(path string) int) {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		fresh := r.Header.Get("Authorization") == secret
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/always" && r.URL.Query().Get("chunked") != "":
			w.(http.Flusher).Flush() // no Content-Length
			w.Write([]byte(bigBody))
		case r.URL.Path == "/always" || fresh:
			w.Header().Set("Content-Length", strconv.Itoa(len(bigBody)))
			w.Write([]byte(bigBody))
		case r.URL.Path == "/django":
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(djangoRefusal))
		case r.URL.Path == "/marketo":
			w.Write([]byte(marketoRefusal))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func(path string) int { mu.Lock(); defer mu.Unlock(); return hits[path] }
}

// rule is what a provider declares, answered as tokens.Manager.Rejects does.
type rule struct {
	statuses     []int
	bodyStatuses []int
	pattern      string
	peek         int
}

func (r rule) rejects(status int, body []byte) (bool, int) {
	statuses := r.statuses
	if statuses == nil {
		statuses = []int{401}
	}
	switch {
	case slices.Contains(statuses, status):
		return true, 0
	case r.pattern == "" || !slices.Contains(r.bodyStatuses, status):
		return false, 0
	case body == nil:
		return false, r.peek
	}
	return regexp.MustCompile(r.pattern).Match(body), 0
}

// staleSigner signs with an expired credential until Rejected is called,
// then with the fresh one (secret); it records each body Rejects was given.
type staleSigner struct {
	*fakeSigner
	mu     sync.Mutex
	fresh  bool
	bodies [][]byte // nil: asked with the status alone
}

func newStaleSigner(r rule) *staleSigner {
	s := &staleSigner{fakeSigner: &fakeSigner{}}
	s.SignFn = func(ctx context.Context, token string, req *http.Request) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fresh {
			req.Header.Set("Authorization", secret)
		} else {
			req.Header.Set("Authorization", "Bearer expired-access-token")
		}
		return nil
	}
	s.RejectedFn = func(ctx context.Context, token string, req *http.Request) error {
		s.mu.Lock()
		s.fresh = true
		s.mu.Unlock()
		return nil
	}
	s.RejectsFn = func(token string, status int, body []byte) (bool, int) {
		s.mu.Lock()
		s.bodies = append(s.bodies, body)
		s.mu.Unlock()
		return r.rejects(status, body)
	}
	return s
}

// rejectionScript sends one signed GET to URL with the API of MODE and
// reports the answer's status and whole body.
const rejectionScript = `(async () => {
  switch (MODE) {
  case 'send': {
    const res = http.get(URL).apiTokenAuth('api').send();
    report(res.status, res.body);
    break;
  }
  case 'sendAsync': {
    const res = await http.get(URL).apiTokenAuth('api').sendAsync();
    report(res.status, res.body);
    break;
  }
  case 'fetch': {
    const r = await fetch(URL, { apiTokenAuth: 'api' });
    report(r.status, await r.text());
    break;
  }
  }
})();`

// An answer the Signer says refuses the credential (by its status, or by
// the start of its body) makes one Rejected and one retry, for send,
// sendAsync and fetch alike; other answers reach the script whole, however
// much of them was read to ask.
func TestRejectsDrivesRetry(t *testing.T) {
	django := rule{statuses: []int{401, 403}}
	marketo := rule{bodyStatuses: []int{200}, pattern: `"code"\s*:\s*"60[12]"`, peek: 4096}
	tests := []struct {
		name     string
		path     string
		rule     rule
		status   int
		body     string
		rejected int   // Rejected calls
		hits     int   // requests the API received
		peeks    []int // length of each body Rejects got; -1: asked without one
	}{
		{name: "django 403 with 401,403", path: "/django", rule: django, status: 200, body: bigBody, rejected: 1, hits: 2, peeks: []int{-1}},
		{name: "django 403 by default", path: "/django", status: 403, body: djangoRefusal, hits: 1, peeks: []int{-1}},
		{name: "marketo 601", path: "/marketo", rule: marketo, status: 200, body: bigBody, rejected: 1, hits: 2, peeks: []int{-1, len(marketoRefusal)}},
		{name: "marketo by default", path: "/marketo", status: 200, body: marketoRefusal, hits: 1, peeks: []int{-1}},
		{name: "pattern that does not match", path: "/marketo", rule: rule{bodyStatuses: []int{200}, pattern: `"code":"999"`, peek: 4096},
			status: 200, body: marketoRefusal, hits: 1, peeks: []int{-1, len(marketoRefusal)}},
		{name: "pattern for another status", path: "/django", rule: rule{bodyStatuses: []int{200}, pattern: `credentials`, peek: 4096},
			status: 403, body: djangoRefusal, hits: 1, peeks: []int{-1}},
		{name: "peeked body read whole", path: "/always", rule: marketo, status: 200, body: bigBody, hits: 1, peeks: []int{-1, 4096}},
		{name: "peeked chunked body read whole", path: "/always?chunked=1", rule: marketo, status: 200, body: bigBody, hits: 1, peeks: []int{-1, 4096}},
		{name: "peek capped", path: "/always", rule: rule{bodyStatuses: []int{200}, pattern: `never`, peek: 1 << 30},
			status: 200, body: bigBody, hits: 1, peeks: []int{-1, bindings.MaxRejectionPeek}},
	}
	for _, mode := range []string{"send", "sendAsync", "fetch"} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				srv, hits := rejectionAPI(t)
				s := newStaleSigner(tt.rule)
				var status int
				var body string
				report := func(st int, b string) { status, body = st, b }
				globals := map[string]any{"MODE": mode, "URL": srv.URL + tt.path, "report": report}
				if err := runJS(context.Background(), "rejection.js", rejectionScript, bindings.Options{Signer: s}, globals); err != nil {
					t.Fatal(err)
				}
				if status != tt.status || body != tt.body {
					t.Errorf("the script got %d and %d bytes (%.60q…), want %d and %d bytes (%.60q…)", status, len(body), body, tt.status, len(tt.body), tt.body)
				}
				path, _, _ := strings.Cut(tt.path, "?")
				if _, rejected := s.counts(); rejected != tt.rejected || hits(path) != tt.hits {
					t.Errorf("Rejected called %d times and the API hit %d times, want %d and %d", rejected, hits(path), tt.rejected, tt.hits)
				}
				var peeks []int
				for _, b := range s.bodies {
					if b == nil {
						peeks = append(peeks, -1)
					} else {
						peeks = append(peeks, len(b))
					}
				}
				if !slices.Equal(peeks, tt.peeks) {
					t.Errorf("Rejects was given bodies of %v bytes (-1: none), want %v", peeks, tt.peeks)
				}
			})
		}
	}
}

// Unsigned requests never ask the Signer.
func TestRejectsNotAskedUnsigned(t *testing.T) {
	srv, _ := rejectionAPI(t)
	s := newStaleSigner(rule{statuses: []int{401, 403}})
	src := `const res = http.get(URL).send(); assertEq(res.status, 403, 'status');`
	if err := runJS(context.Background(), "unsigned.js", src, bindings.Options{Signer: s}, map[string]any{"URL": srv.URL + "/django"}); err != nil {
		t.Fatal(err)
	}
	if len(s.bodies) != 0 {
		t.Errorf("Rejects asked %d times for an unsigned request, want 0", len(s.bodies))
	}
}

// A refusal from a host the credential did not reach (a redirect to
// another origin, where bindings drop it) is the script's: the Signer is
// not asked and nothing is refreshed. On the same origin it is asked.
func TestRejectsOnlyWhereTheCredentialWent(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer refusing.Close()
	var mux http.ServeMux
	origin := httptest.NewServer(&mux)
	defer origin.Close()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, refusing.URL+"/x", http.StatusFound) })
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/refuse", http.StatusFound) })
	mux.HandleFunc("/refuse", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	tests := []struct {
		path     string
		asked    int
		rejected int
	}{
		{"/away", 0, 0},
		{"/here", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s := newStaleSigner(rule{})
			src := `const res = http.get(URL).apiTokenAuth('api').send(); assertEq(res.status, 401, 'status');`
			if err := runJS(context.Background(), "redirect.js", src, bindings.Options{Signer: s}, map[string]any{"URL": origin.URL + tt.path}); err != nil {
				t.Fatal(err)
			}
			if _, rejected := s.counts(); len(s.bodies) != tt.asked || rejected != tt.rejected {
				t.Errorf("Rejects asked %d times, Rejected called %d times; want %d and %d", len(s.bodies), rejected, tt.asked, tt.rejected)
			}
		})
	}
}
