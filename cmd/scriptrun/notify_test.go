package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// verifyingReceiver accepts only deliveries whose Standard Webhooks
// signature verifies with the secret it is given, and keeps their bodies.
type verifyingReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	bodies []string
	bad    int
}

func newVerifyingReceiver(t *testing.T) *verifyingReceiver {
	r := &verifyingReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.secret, "whsec_"))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(req.Header.Get("webhook-id") + "." + req.Header.Get("webhook-timestamp") + "." + string(body)))
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if len(key) == 0 || !hmac.Equal([]byte(req.Header.Get("webhook-signature")), []byte(want)) {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.bodies = append(r.bodies, string(body))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func TestNotifyCommands(t *testing.T) {
	c := newCLI(t)
	r := newVerifyingReceiver(t)

	// The generated secret is printed once, at add.
	out := c.must("notify", "add", "ops", "--url", r.srv.URL+"/hook", "--events", "cron.failed, token.reauth_required")
	secret := regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`).FindString(out)
	if secret == "" {
		t.Fatalf("notify add printed no secret:\n%s", out)
	}
	r.mu.Lock()
	r.secret = secret
	r.mu.Unlock()
	out = c.must("notify", "test", "ops")
	if !strings.Contains(out, "delivered (HTTP 200") {
		t.Errorf("notify test: %s", out)
	}
	if len(r.bodies) != 1 || !strings.Contains(r.bodies[0], `"type":"test"`) || r.bad != 0 {
		t.Errorf("receiver: %d verified %v, %d refused", len(r.bodies), r.bodies, r.bad)
	}
	for _, args := range [][]string{{"notify", "list"}, {"notify", "show", "ops"}, {"notify", "list", "--json"}, {"notify", "show", "ops", "--json"}} {
		out := c.must(args...)
		if strings.Contains(out, strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("%v shows the secret", args)
		}
		if !strings.Contains(out, "cron.failed") {
			t.Errorf("%v lacks the events:\n%s", args, out)
		}
	}
	if out := c.must("notify", "show", "ops"); !strings.Contains(out, "test") || !strings.Contains(out, "delivered") {
		t.Errorf("show lacks the delivery log:\n%s", out)
	}

	// A secret from a variable is used and not printed.
	c.env["HOOK_SECRET"] = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	out = c.must("notify", "add", "mine", "--url", r.srv.URL+"/hook", "--secret-env", "HOOK_SECRET")
	if strings.Contains(out, "whsec_") {
		t.Errorf("add with --secret-env printed a secret:\n%s", out)
	}
	r.mu.Lock()
	r.secret = c.env["HOOK_SECRET"]
	r.mu.Unlock()
	c.must("notify", "test", "mine")

	c.must("notify", "rm", "ops")
	if code, _, errs := c.run("notify", "show", "ops"); code != 2 || !strings.Contains(errs, "not found") {
		t.Errorf("show after rm: exit %d, %s", code, errs)
	}
}

func TestNotifyUsageErrors(t *testing.T) {
	c := newCLI(t)
	c.env["RAW"] = "hunter2-not-a-whsec-secret"
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"notify", "add", "x"}, "--url: required", 2},
		{[]string{"notify", "add", "x", "--url", "ftp://h/"}, "not an absolute http(s) URL", 2},
		{[]string{"notify", "add", "x", "--url", "http://hooks.example.com/"}, "--allow-http", 2},
		{[]string{"notify", "add", "x", "--url", "https://h.example/", "--events", "token.exploded"}, "cron.lost", 2},
		{[]string{"notify", "add", "x", "--url", "https://h.example/", "--secret-env", "RAW"}, "whsec_", 2},
		{[]string{"notify", "add", "x", "--url", "https://h.example/", "--secret-env", "UNSET_VAR"}, "empty or not set", 2},
		{[]string{"notify", "test", "nope"}, "not found", 2},
		{[]string{"notify", "rm", "nope"}, "not found", 2},
		{[]string{"notify", "tset"}, "did you mean test", 2},
	} {
		code, _, errs := c.run(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d %q, want exit %d mentioning %q", tc.args, code, errs, tc.code, tc.want)
		}
		if strings.Contains(errs, "hunter2") {
			t.Errorf("%v: the error repeats the secret: %s", tc.args, errs)
		}
	}
	// Plain http is accepted with --allow-http.
	c.must("notify", "add", "x", "--url", "http://hooks.example.com/", "--allow-http")
}

// The real binary's serve announces a job's failure and its recovery to a
// webhook added from the command line, signed with the secret given there.
func TestServeNotifiesCronFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	home := t.TempDir()
	c := &cli{t: t, home: home, env: map[string]string{}}
	r := newVerifyingReceiver(t)
	r.secret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("serve-test-key-0123456789abcdef!"))
	c.env["HOOK_SECRET"] = r.secret
	c.must("notify", "add", "ops", "--url", r.srv.URL+"/hook", "--secret-env", "HOOK_SECRET", "--events", "cron.failed,cron.recovered")
	var healthy atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	t.Cleanup(api.Close)
	script := writeScript(t, t.TempDir(), "flaky.js", "const res = http.get(args[0]).send();\nif (!res.ok) throw new Error('upstream said ' + res.status);")
	c.must("cron", "add", "flaky", "--schedule", "0 3 * * *", "--script", script, "--", api.URL)
	serve := startServe(t, home)
	received := func(typ string) func() bool {
		return func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, b := range r.bodies {
				if strings.Contains(b, `"type":"`+typ+`"`) {
					return true
				}
			}
			return false
		}
	}
	if code, out, errs := proc(t, home, "", "cron", "run", "flaky"); code == 0 {
		t.Fatalf("cron run of a failing job: exit 0\n%s%s", out, errs)
	}
	waitFor(t, "cron.failed at the receiver", 20*time.Second, received("cron.failed"))
	healthy.Store(true)
	if code, out, errs := proc(t, home, "", "cron", "run", "flaky"); code != 0 {
		t.Fatalf("cron run: exit %d\n%s%s", code, out, errs)
	}
	waitFor(t, "cron.recovered at the receiver", 20*time.Second, received("cron.recovered"))
	serve.stop(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) != 2 || r.bad != 0 {
		t.Errorf("receiver verified %d deliveries and refused %d, want 2 and 0: %v", len(r.bodies), r.bad, r.bodies)
	}
	if strings.Contains(strings.Join(r.bodies, ""), "upstream said") {
		t.Error("a delivery carries the run's error")
	}
}
