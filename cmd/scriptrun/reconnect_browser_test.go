package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

// The reconnect link, in a real browser: the admin makes a link in
// the console; a second browser with none of the admin's cookies opens it,
// signs in at a real OAuth2 server and comes back; the token is authorized,
// and the link is refused when opened again. That browser never reaches a
// console page.
func TestReconnectLinkInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	browser := requireBrowser(t)
	start := time.Now()
	srv, err := sandbox.Start(sandbox.Options{RequirePKCE: true, AuthStyle: sandbox.AuthStyleBody})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// Another site than the console, as a real provider is (see TestConsoleInBrowser).
	providerBase := strings.Replace(srv.URL(), "127.0.0.1", "localhost", 1)

	// The home as the admin set it up from the command line.
	home := t.TempDir()
	c := &cli{t: t, home: home, env: map[string]string{"SECRET": srv.ClientSecret()}}
	c.must("provider", "add", "sandbox", "--client-id", srv.ClientID(), "--client-secret-env", "SECRET",
		"--auth-url", providerBase+"/authorize", "--token-url", providerBase+"/token", "--auth-style", "body", "--scopes", "read write",
		"--description", "The sandbox's mail")
	c.must("token", "add", "api", "--provider", "sandbox", "--prompt", "select_account", "--base-url", srv.URL())
	c.stdin = "correct horse battery\n"
	c.must("admin", "password")
	console := startConsole(t, home)

	// Two browsers: the admin's, and the link holder's, which has none of
	// the admin's cookies.
	adminCtx, holderCtx := startBrowser(t, browser), startBrowser(t, browser)

	b := &browserSteps{t: t, log: console.log}
	// 1. The admin signs in and makes a link on the token's page.
	b.step(adminCtx, "sign in", chromedp.Navigate(console.base+"/login"), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"))
	b.submit(adminCtx, "sign in", "form[action='/login'] button", http.StatusOK)
	b.step(adminCtx, "open the token", chromedp.Navigate(console.base+"/tokens/api"), chromedp.WaitVisible(chromedp.ID("reconnect-links")))
	b.step(adminCtx, "open its reconnect links", chromedp.Click(chromedp.ID("reconnect-links")), chromedp.WaitVisible(chromedp.ID("create-link")),
		chromedp.SetValue(chromedp.ID("expires"), "1h"))
	b.submit(adminCtx, "create a reconnect link", "#create-link", http.StatusOK)
	b.shot(adminCtx, "reconnect-link-created.png")
	link := b.text(adminCtx, "#new-link-url")
	if !strings.HasPrefix(link, console.base+"/reconnect?link=") {
		t.Fatalf("the console shows the link %q", link)
	}

	// 2. The holder opens it: one page, one button, no console.
	b.step(holderCtx, "open the link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("reconnect-authorize")))
	b.shot(holderCtx, "reconnect-link.png")
	if h1 := b.text(holderCtx, "h1"); h1 != "Authorize api at sandbox" {
		t.Errorf("the link page's heading: %q", h1)
	}
	if n, _ := chromedp.Run(holderCtx, chromedp.Evaluate[int](`document.querySelectorAll('nav, .signout').length`)); n != 0 {
		t.Error("the link page shows the console's navigation")
	}
	b.step(holderCtx, "press the button", chromedp.Click(chromedp.ID("reconnect-authorize")), chromedp.WaitVisible(chromedp.CSS("form#authorize input[name=username]")))
	if loc := b.location(holderCtx); !strings.HasPrefix(loc, providerBase+"/authorize?") || !strings.Contains(loc, "prompt=select_account") {
		t.Fatalf("the link's button led to %s, want the provider's sign-in with the token's prompt", loc)
	}
	b.step(holderCtx, "sign in at the provider", chromedp.SendKeys(chromedp.CSS("input[name=username]"), "demo"), chromedp.SendKeys(chromedp.CSS("input[name=password]"), "demo"))
	b.submit(holderCtx, "allow at the provider", "button[value=allow]", http.StatusOK)
	if title := b.text(holderCtx, "#reconnect-title"); title != "Done" {
		t.Fatalf("back from the provider: %q, want Done", title)
	}
	if msg := b.text(holderCtx, "#reconnect-msg"); !strings.Contains(msg, "Token api is authorized") {
		t.Errorf("the outcome page says %q", msg)
	}
	b.shot(holderCtx, "reconnect-done.png")

	// 3. The token is authorized in the store, by the holder's sign-in.
	key, err := store.LoadKey(filepath.Join(home, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.OpenIn(t, home, key)
	var tok store.Token
	if err := db.View(func(tx *store.Tx) (err error) { tok, err = tx.Token("api"); return err }); err != nil {
		t.Fatal(err)
	}
	if tok.State != store.StateAuthorized || tok.Secret.RefreshToken == "" {
		t.Fatalf("token after the link: state %s", tok.State)
	}
	if n := srv.Stats().TokenRequests["authorization_code"]; n != 1 {
		t.Errorf("code exchanges = %d, want 1", n)
	}

	// 4. The link again: refused. The console: sign in first.
	resp, err := chromedp.RunResponse(holderCtx, chromedp.Navigate(link))
	if err != nil || resp.Status != http.StatusGone {
		t.Fatalf("the used link again: %v %v", resp, err)
	}
	if h1 := b.text(holderCtx, "h1"); h1 != "This link was already used" {
		t.Errorf("the used link says %q", h1)
	}
	b.step(holderCtx, "try the console", chromedp.Navigate(console.base+"/tokens/api"), chromedp.WaitVisible(chromedp.ID("password")))
	if loc := b.location(holderCtx); !strings.HasPrefix(loc, console.base+"/login") {
		t.Errorf("the holder reached %s, want the sign-in page", loc)
	}

	// 5. The admin sees it used, from where.
	b.step(adminCtx, "the links page", chromedp.Navigate(console.base+"/tokens/api/links"), chromedp.WaitVisible(chromedp.ID("links")))
	b.shot(adminCtx, "reconnect-links-admin.png")
	if row := b.text(adminCtx, "#links tbody tr"); !strings.Contains(row, "used") || !strings.Contains(row, "from 127.0.0.1") {
		t.Errorf("the admin's links page shows %q", row)
	}
	if strings.Contains(console.log.String(), link[strings.Index(link, "=")+1:]) {
		t.Error("the link's secret is in serve's log")
	}
	if !strings.Contains(console.log.String(), "token authorized with a reconnect link") {
		t.Errorf("serve did not log the use:\n%s", console.log)
	}
	if err := console.stop(); err != nil {
		t.Errorf("serve: %v", err)
	}
	t.Logf("reconnect link in the browser took %v", time.Since(start).Round(time.Millisecond))
}

// browserSteps runs a browser test's steps, each with its own deadline,
// failing with where the browser is and what it shows.
type browserSteps struct {
	t   *testing.T
	log *syncBuffer
}

func (b *browserSteps) fail(ctx context.Context, what string, err error) {
	b.t.Helper()
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	b.t.Fatalf("%s: %v\nat %s\n%.3000s\nconsole log:\n%s", what, err, b.location(ctx), html, b.log)
}

func (b *browserSteps) step(ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		b.fail(ctx, what, err)
	}
}

// submit clicks a button that sends a form and checks the page it leads to.
func (b *browserSteps) submit(ctx context.Context, what, button string, wantStatus int) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(button)))
	if err != nil {
		b.fail(ctx, what, err)
	}
	if int(resp.Status) != wantStatus {
		b.fail(ctx, what, fmt.Errorf("%s answered %d, want %d", resp.URL, resp.Status, wantStatus))
	}
}

func (b *browserSteps) text(ctx context.Context, sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.fail(ctx, "read "+sel, err)
	}
	return s
}

// shot saves a screenshot of the page among the test's artifacts.
func (b *browserSteps) shot(ctx context.Context, file string) {
	b.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail(ctx, "screenshot "+file, err)
	}
	if err := os.WriteFile(filepath.Join(b.t.ArtifactDir(), file), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browserSteps) location(ctx context.Context) string {
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}
