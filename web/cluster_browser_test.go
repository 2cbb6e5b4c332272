package web

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scriptrun/scriptrun/sandbox"
	"github.com/scriptrun/scriptrun/store"
)

// chromium returns the path of Chromium or Chrome, skipping the test when
// there is none (a failure when $SCRIPTRUN_REQUIRE_BROWSER is set, as in CI).
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a real browser")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SCRIPTRUN_REQUIRE_BROWSER") != "" {
		t.Fatal("SCRIPTRUN_REQUIRE_BROWSER is set but neither chromium nor chrome is on PATH: install it (apt-get install -y chromium)")
	}
	t.Skip("no Chromium or Chrome on PATH (apt-get install -y chromium); .ci/run sets SCRIPTRUN_REQUIRE_BROWSER=1 to make this a failure")
	return ""
}

// TestConsoleOnTwoNodesInBrowser: a real browser behind a load balancer of
// two consoles on one etcd store signs in on node A, goes on on node B,
// presses "Get authorization token" on A, and the provider's redirect lands
// on B, which finishes it.
func TestConsoleOnTwoNodesInBrowser(t *testing.T) {
	browser := chromium(t)
	c := newCluster(t, "etcd", 2)
	prov := c.withSandbox(sandbox.Options{RequirePKCE: true})
	// The provider is addressed as localhost and the balancer as
	// 127.0.0.1: two sites, so the return to the callback is a cross-site
	// navigation, as with a real provider.
	providerAuth := strings.Replace(prov.AuthURL(), "127.0.0.1", "localhost", 1)
	if err := c.db.Update(func(tx *store.Tx) error {
		p, err := tx.Provider("sandbox")
		if err != nil {
			return err
		}
		p.AuthURL = providerAuth
		return tx.PutProvider(p)
	}); err != nil {
		t.Fatal(err)
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(browser),
			chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.UserDataDir(t.TempDir()),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("no-default-browser-check", true),
		)...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", browser, err)
	}
	fail := func(what string, err error) {
		t.Helper()
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s: %v\nat %s\n%.3000s\nconsole log:\n%s", what, err, loc, html, c.log)
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			fail(what, err)
		}
	}
	submit := func(what, button string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(button)))
		if err != nil {
			fail(what, err)
		}
		if resp.Status != http.StatusOK {
			fail(what, fmt.Errorf("%s answered %d, want 200", resp.URL, resp.Status))
		}
	}
	location := func() string {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		return loc
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			fail("read "+sel, err)
		}
		return s
	}

	c.via(0)
	step("open the sign-in page on node A", chromedp.Navigate(c.ts.URL+"/login?next=/tokens"), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), testPassword))
	submit("sign in on node A", "form[action='/login'] button")
	if loc := location(); loc != c.ts.URL+"/tokens" || c.servedBy("/login") != 0 {
		t.Fatalf("after signing in: at %s (sign-in served by node %d), want the tokens page from node A", loc, c.servedBy("/login"))
	}

	c.via(1)
	step("open the token on node B", chromedp.Navigate(c.ts.URL+"/tokens/api"), chromedp.WaitVisible(chromedp.ID("authorize")))
	if c.servedBy("/tokens/api") != 1 {
		t.Fatal("the token page was not served by node B")
	}

	// The page (and its CSRF token) came from B; the form goes to A.
	c.via(0)
	step("press Get authorization token on node A", chromedp.Click(chromedp.ID("authorize")),
		chromedp.WaitVisible(chromedp.CSS("form#authorize input[name=username]")),
		chromedp.SendKeys(chromedp.CSS("input[name=username]"), "demo"), chromedp.SendKeys(chromedp.CSS("input[name=password]"), "demo"))
	if loc := location(); !strings.HasPrefix(loc, providerAuth+"?") || c.servedBy("/tokens/api/authorize") != 0 {
		t.Fatalf("Get authorization token led to %s (served by node %d), want the provider, from node A", loc, c.servedBy("/tokens/api/authorize"))
	}

	c.via(1)
	submit("allow at the provider", "button[value=allow]")
	if loc := location(); loc != c.ts.URL+"/tokens/api" || c.servedBy("/oauth/callback") != 1 {
		t.Fatalf("after allowing: at %s (callback served by node %d), want the token page, the callback on node B", loc, c.servedBy("/oauth/callback"))
	}
	if got := text(".badges .badge"); got != "authorized" {
		t.Errorf("token state after authorizing = %q, want authorized\n%s", got, c.log)
	}
	if flash := text(".flash-ok"); !strings.Contains(flash, "is authorized") {
		t.Errorf("flash after authorizing = %q", flash)
	}
	if n := prov.Stats().TokenRequests["authorization_code"]; n != 1 {
		t.Errorf("code exchanges = %d, want 1", n)
	}
}
