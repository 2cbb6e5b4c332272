package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// token test and doctor --test with the real binary, against the sandbox
// (oauth2) and httptest APIs (static credentials).
func TestTokenTestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	srv, err := sandbox.Start(sandbox.Options{RequirePKCE: true, AuthStyle: "body"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	defer refusing.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()

	home := t.TempDir()
	run := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return proc(t, home, stdin, args...)
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errs := run(stdin, args...)
		if code != 0 {
			t.Fatalf("scriptrun %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	must(srv.ClientSecret()+"\n", "provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-stdin",
		"--auth-url", srv.AuthURL(), "--token-url", srv.TokenURL(), "--auth-style", "body", "--scopes", "read")
	must("", "token", "add", "api", "--provider", "sandbox", "--base-url", srv.APIURL()+"/me")
	authorizeCLI(t, home, srv, "api")
	must("bearer-SECRET-refused\n", "token", "add", "refused", "--type", "bearer", "--token-stdin", "--base-url", refusing.URL)
	must("bearer-SECRET-gone\n", "token", "add", "gone", "--type", "bearer", "--token-stdin", "--base-url", closed)

	// Works, and says whether it refreshed.
	out := must("", "token", "test", "api", "--url", srv.APIURL()+"/me")
	if !strings.HasPrefix(out, "ok") || !strings.Contains(out, "GET "+srv.APIURL()+"/me → HTTP 200 in ") || strings.Contains(out, "refreshed") {
		t.Errorf("token test of a fresh token: %q", out)
	}
	expireStoredToken(t, home, "api")
	out = must("", "token", "test", "api", "--url", srv.APIURL()+"/me", "--json")
	var got checkJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Outcome != "ok" || got.Status != 200 || !got.Refreshed || got.Retried || got.LatencyMS <= 0 {
		t.Errorf("token test --json of an expired token: %s (%v)", out, err)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "test", "refused"}, exitScript, "HTTP 401"},
		{[]string{"token", "test", "gone"}, exitScript, "could not be reached"},
		{[]string{"token", "test", "api", "--url", refusing.URL + "/me"}, exitUsage, "will not be sent to"},
		{[]string{"token", "test", "api", "--url", srv.URL() + "/authorize"}, exitUsage, "is for paths under"},
		{[]string{"token", "test", "api", "--method", "GE T"}, exitUsage, "is not an HTTP method"},
		{[]string{"token", "test", "nope"}, exitUsage, "does not exist"},
	} {
		code, out, errs := run("", tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("scriptrun %s: exit %d, want %d saying %q\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out, errs)
		}
	}

	// doctor --test: one line per token with a base URL, exit 1 for the failing ones.
	code, out, errs := run("", "doctor", "--test")
	if code != exitScript {
		t.Errorf("doctor --test: exit %d, want 1\n%s%s", code, out, errs)
	}
	for _, want := range []string{"ok    test api: GET " + srv.APIURL() + "/me → HTTP 200", "fail  test refused: GET " + refusing.URL + " → HTTP 401", "token update refused --token",
		"fail  test gone: GET " + closed + " → no answer"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor --test does not say %q:\n%s", want, out)
		}
	}
	if code, _, errs := run("", "doctor", "--test", "--offline"); code != exitUsage {
		t.Errorf("doctor --test --offline: exit %d (%s)", code, errs)
	}

	// No credential in anything printed.
	key, _ := store.LoadKey(filepath.Join(home, "master.key"))
	db := storetest.OpenIn(t, home, key)
	var tok store.Token
	db.View(func(tx *store.Tx) (err error) { tok, err = tx.Token("api"); return err })
	all := out + errs
	for _, args := range [][]string{{"token", "test", "api"}, {"token", "test", "refused", "--json"}, {"token", "test", "gone"}} {
		_, o, e := run("", args...)
		all += o + e
	}
	for _, secret := range []string{tok.Secret.AccessToken, tok.Secret.RefreshToken, "bearer-SECRET", srv.ClientSecret()} {
		if strings.Contains(all, secret) {
			t.Errorf("a credential (%.6s…) was printed", secret)
		}
	}
}
