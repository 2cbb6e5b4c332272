package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// doctor fails endpoints that answer 404 and, when the provider publishes a
// discovery document, names the URLs it lists.
func TestDoctorComparesEndpointsWithDiscovery(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"issuer":                 srv.URL,
			"authorization_endpoint": srv.URL + "/oauth2/authorize",
			"token_endpoint":         srv.URL + "/oauth2/token",
		})
	})
	mux.HandleFunc("/oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "missing client_id", http.StatusBadRequest)
	})
	mux.HandleFunc("/oauth2/token", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "use POST", http.StatusMethodNotAllowed) })

	tests := []struct {
		name, auth, token string
		wantCode          int
		want, notWant     []string
	}{
		{"wrong URLs", "/authorize", "/token", exitScript,
			[]string{
				"fail  provider p: token endpoint " + srv.URL + "/token answers HTTP 404",
				"--token-url " + srv.URL + "/oauth2/token",
				"fail  provider p: authorization endpoint " + srv.URL + "/authorize answers HTTP 404",
				"--auth-url " + srv.URL + "/oauth2/authorize",
			}, []string{"ok    provider p: token endpoint"}},
		{"listed URLs", "/oauth2/authorize", "/oauth2/token", exitOK,
			[]string{"ok    provider p: token endpoint answers (HTTP 405)", "ok    provider p: authorization endpoint answers (HTTP 400)", "publishes " + srv.URL + "/.well-known/openid-configuration"},
			[]string{"fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			run := func(args ...string) (int, string) {
				var out, errb bytes.Buffer
				code := Main(append([]string{"--home", home}, args...), Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
				return code, out.String() + errb.String()
			}
			if code, out := run("provider", "add", "p", "--client-id", "c", "--auth-url", srv.URL+tt.auth, "--token-url", srv.URL+tt.token); code != 0 {
				t.Fatalf("provider add: exit %d, %s", code, out)
			}
			code, out := run("doctor")
			if code != tt.wantCode {
				t.Errorf("doctor: exit %d, want %d\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("doctor output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("doctor output has %q:\n%s", w, out)
				}
			}
		})
	}
}
