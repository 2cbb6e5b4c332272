package main

import (
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// The Notifications page in a real browser: add a notifier through the
// form, copy the secret shown once, press Test against a receiver that
// verifies the signature with that secret, and remove it.
func TestNotificationsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	browser := requireBrowser(t)
	r := newVerifyingReceiver(t)
	console := startConsole(t, t.TempDir())
	setupLink := setupLinkRE.FindString(console.out.String())
	ctx := startBrowser(t, browser)
	var mu sync.Mutex
	var consoleErrors []string
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == "error" {
				mu.Lock()
				consoleErrors = append(consoleErrors, m.Text)
				mu.Unlock()
			}
		}
	}()
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\n%.3000s\n%s", what, err, html, console.log)
		}
	}
	submit := func(what, button string) {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button)))
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("%s: %v (status %v)", what, err, resp)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}

	run("set the admin password", chromedp.Navigate(setupLink), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"), chromedp.SendKeys(chromedp.ID("confirm"), "correct horse battery"))
	submit("set the password", "form[action='/setup'] button")
	run("open Notifications", chromedp.Click(chromedp.CSS("nav a[href='/notifications']")), chromedp.WaitVisible(chromedp.ID("notify-form")),
		chromedp.SendKeys(chromedp.ID("name"), "ops"), chromedp.SendKeys(chromedp.ID("url"), r.srv.URL+"/hook"),
		chromedp.Click(chromedp.CSS("input[value='cron.failed']")))
	submit("add the notifier", "#notify-form button.primary")
	secret := text("#secret-value")
	if key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_")); err != nil || len(key) != 32 {
		t.Fatalf("the page shows secret %q, want whsec_ and 32 bytes of base64", secret)
	}
	r.mu.Lock()
	r.secret = secret
	r.mu.Unlock()
	submit("test the notifier", "#notifier-ops form[action='/notifications/ops/test'] button")
	if got := text(".flash"); !strings.Contains(got, "Test event delivered to ops: HTTP 200") {
		t.Errorf("after Test the page says %q", got)
	}
	if got := text("#deliveries tbody"); !strings.Contains(got, "delivered") {
		t.Errorf("delivery log: %q", got)
	}
	submit("remove the notifier", "#notifier-ops form[action='/notifications/ops/delete'] button")
	if got := text("main"); !strings.Contains(got, "Notifier ops removed.") {
		t.Errorf("after Remove the page says %q", got)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) != 1 || r.bad != 0 {
		t.Errorf("receiver verified %d and refused %d, want 1 and 0", len(r.bodies), r.bad)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("browser console errors: %q", consoleErrors)
	}
}
