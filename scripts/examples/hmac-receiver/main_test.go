package main

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/hmacsig"
)

func TestReceiver(t *testing.T) {
	var logs bytes.Buffer
	srv := httptest.NewServer(newHandler(map[string]string{"hooks-token": "hooks-secret-value"}, log.New(&logs, "", 0)))
	defer srv.Close()
	key := hmacsig.Key{Token: "hooks-token", Secret: "hooks-secret-value"}
	send := func(req *http.Request) (int, string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	signed := func(method, path, body string, k hmacsig.Key) *http.Request {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err := hmacsig.Sign(req, k, time.Now()); err != nil {
			t.Fatal(err)
		}
		return req
	}
	if status, body := send(signed("POST", "/hooks/tickets?x=1", `{"title":"hi"}`, key)); status != 200 || !strings.Contains(body, `"bytes":14`) {
		t.Errorf("a signed request: %d %s", status, body)
	}
	req := signed("POST", "/hooks/tickets", `{"title":"hi"}`, key)
	send(req)
	again, _ := http.NewRequest("POST", srv.URL+"/hooks/tickets", strings.NewReader(`{"title":"hi"}`))
	again.Header = req.Header.Clone()
	if status, body := send(again); status != 401 || !strings.Contains(body, "nonce already used") {
		t.Errorf("a replayed request: %d %s", status, body)
	}
	tampered, _ := http.NewRequest("POST", srv.URL+"/hooks/tickets", strings.NewReader(`{"title":"HI"}`))
	tampered.Header = signed("POST", "/hooks/tickets", `{"title":"hi"}`, key).Header.Clone()
	if status, body := send(tampered); status != 401 || !strings.Contains(body, "does not match") {
		t.Errorf("a tampered body: %d %s", status, body)
	}
	wrong := key
	wrong.Secret = "guessed"
	if status, _ := send(signed("GET", "/x", "", wrong)); status != 401 {
		t.Errorf("a wrong secret: %d", status)
	}
	plain, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	if status, body := send(plain); status != 401 || !strings.Contains(body, "not signed") {
		t.Errorf("an unsigned request: %d %s", status, body)
	}
	if strings.Contains(logs.String(), "hooks-secret-value") {
		t.Error("the log holds the secret")
	}
}
