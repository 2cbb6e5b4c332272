package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/scriptrun/scriptrun/notify"
	"github.com/scriptrun/scriptrun/store"
)

// The Notifications page: add (errors by field, the generated secret shown
// once), test against a receiver that verifies the signature, the delivery
// log, remove.
func TestNotificationsPage(t *testing.T) {
	var svc *notify.Service
	e := newEnv(t, envOpts{modify: func(o *Options) {
		svc = notify.New(notify.Options{DB: o.DB.(*store.DB)})
		o.Notify = svc
	}})
	var mu sync.Mutex
	var secret string
	verified := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "." + string(body)))
		if len(key) == 0 || r.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		verified++
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(recv.Close)
	b := e.signedIn()

	page := b.get("/notifications")
	mustContain(t, "empty page", page, "No notifiers yet", "Delivery log", "Nothing sent yet")

	// Refused: every problem by its field, the typed secret not sent back.
	bad := b.post("/notifications", b.form("name", "a b", "url", "http://hooks.example.com/x", "events", "token.exploded", "secret", "typed-secret-VALUE-123"))
	if bad.status != http.StatusUnprocessableEntity {
		t.Errorf("bad form: status %d, want 422", bad.status)
	}
	mustContain(t, "refused form", bad, "4 field(s) need a change", "use https", "not an event", "not valid", "does not start with whsec_")
	if strings.Contains(bad.body, "typed-secret-VALUE-123") {
		t.Error("the refused form sends the typed secret back")
	}

	added := b.post("/notifications", b.form("name", "ops", "url", recv.URL+"/hook", "events", store.EventCronFailed, "events", store.EventTokenReauthRequired))
	m := regexp.MustCompile(`<code id="secret-value">(whsec_[^<]+)</code>`).FindStringSubmatch(added.body)
	if added.status != http.StatusOK || m == nil {
		t.Fatalf("add: status %d, no secret shown:\n%s", added.status, text(added.body))
	}
	mu.Lock()
	secret = html.UnescapeString(m[1])
	mu.Unlock()
	again := b.get("/notifications")
	if strings.Contains(again.body, secret) {
		t.Error("the secret is shown again after the add")
	}
	mustContain(t, "list", again, "ops", "cron.failed", "token.reauth_required", "enabled")

	tested := b.follow(b.post("/notifications/ops/test", b.form()))
	mustContain(t, "test", tested, "Test event delivered to ops: HTTP 202")
	mu.Lock()
	if verified != 1 {
		t.Errorf("receiver verified %d deliveries, want 1", verified)
	}
	mu.Unlock()
	mustContain(t, "delivery log", tested, "test", "delivered", "HTTP 202")

	if r := b.post("/notifications/nope/test", b.form()); r.status != http.StatusNotFound {
		t.Errorf("test of a missing notifier: %d", r.status)
	}
	removed := b.follow(b.post("/notifications/ops/delete", b.form()))
	mustContain(t, "removed", removed, "Notifier ops removed.", "No notifiers yet")
	if r := b.post("/notifications/ops/delete", nil); r.status != http.StatusForbidden {
		t.Errorf("remove without CSRF: %d, want 403", r.status)
	}
}

// A token that needs authorizing again and a failing job show a banner on
// every page until they recover.
func TestProblemsBanner(t *testing.T) {
	e := newEnv(t, envOpts{})
	svc := notify.New(notify.Options{DB: e.db})
	e.addProvider("graph", "https://login.example.com")
	e.addToken("mail", "graph", func(tok *store.Token) { tok.State = store.StateReauthRequired })
	if _, err := svc.Check(); err != nil {
		t.Fatal(err)
	}
	b := e.signedIn()
	for _, path := range []string{"/tokens", "/providers", "/cron", "/notifications"} {
		r := b.get(path)
		mustContain(t, path, r, "Needs attention: token mail needs authorizing again")
	}
	if err := e.db.Update(func(tx *store.Tx) error {
		tok, err := tx.Token("mail")
		if err != nil {
			return err
		}
		tok.State = store.StateAuthorized
		tok.Secret = store.Secret{AccessToken: "at-123456789012", RefreshToken: "rt-123456789012", TokenType: "Bearer"}
		return tx.PutToken(tok)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Check(); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/tokens"); strings.Contains(r.body, "problems-banner") {
		t.Errorf("banner still shown after the token recovered:\n%s", text(r.body))
	}
}
