package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scriptrun/scriptrun/sandbox"
)

// findBrowser returns the path of Chromium or Chrome, or "".
func findBrowser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for the console's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runningConsole is `scriptrun serve` running in-process on a loopback port.
type runningConsole struct {
	base, callback, home string
	out, log             *syncBuffer
	stop                 func() error
}

// startConsole runs serve as the command does, on a free loopback port.
func startConsole(t *testing.T, home string) *runningConsole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &runningConsole{base: "http://" + ln.Addr().String(), home: home, out: &syncBuffer{}, log: &syncBuffer{}}
	c.callback = c.base + "/oauth/callback"
	a := &app{stdio: Stdio{In: strings.NewReader(""), Out: c.out, Err: c.log}, getenv: func(k string) string {
		if k == "SCRIPTRUN_HOME" {
			return home
		}
		return ""
	}}
	c.stop = runServe(t, a, ln, serveConfig{callback: c.callback})
	for i := 0; ; i++ {
		resp, err := http.Get(c.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			t.Fatalf("the console did not start: %v\n%s%s", err, c.out, c.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c
}

var setupLinkRE = regexp.MustCompile(`http://\S+/setup\?token=\S+`)

// The "Done means", in a real browser: from an empty home to an
// authorized token without the CLI, against a real OAuth2 server (the
// sandbox, go-oauth2 with its own login page), then a script that uses the
// token while the console keeps running.
func TestConsoleInBrowser(t *testing.T) {
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
	// The provider is addressed as localhost and the console as 127.0.0.1:
	// two sites, so the return to the callback is a cross-site navigation
	// and the session cookie must survive it (SameSite=Lax), as with a real
	// provider.
	providerBase := strings.Replace(srv.URL(), "127.0.0.1", "localhost", 1)

	home := t.TempDir()
	console := startConsole(t, home)
	setupLink := setupLinkRE.FindString(console.out.String())
	if setupLink == "" {
		t.Fatalf("serve printed no setup link:\n%s", console.out)
	}

	ctx := startBrowser(t, browser)
	t.Logf("browser started after %v", time.Since(start).Round(time.Millisecond))
	// Collect the console: a CSP violation or a script error is a failure.
	var consoleMu sync.Mutex
	var consoleLines []string
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			consoleMu.Lock()
			consoleLines = append(consoleLines, string(m.Type)+": "+m.Text+" ("+m.URL+")")
			consoleMu.Unlock()
		}
	}()

	// fail reports where the browser is, what it shows and what it logged.
	fail := func(what string, err error) {
		t.Helper()
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		consoleMu.Lock()
		defer consoleMu.Unlock()
		t.Fatalf("%s: %v\nat %s\n%.3000s\nbrowser console: %q\nconsole log:\n%s", what, err, loc, html, consoleLines, console.log)
	}
	// Each step gets 20 s, so a stuck page fails fast with the page shown.
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			fail(what, err)
		}
	}
	// submit clicks a button that sends a form and waits for the page it leads to.
	submit := func(what, button string, wantStatus int) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(button)))
		if err != nil {
			fail(what, err)
		}
		if int(resp.Status) != wantStatus {
			fail(what, fmt.Errorf("%s answered %d, want %d", resp.URL, resp.Status, wantStatus))
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
	location := func() string {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		return loc
	}

	// 1. The one-time setup link: choose the admin password, signed in.
	step("open the setup link", chromedp.Navigate(setupLink), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.SendKeys(chromedp.ID("confirm"), "correct horse battery"))
	submit("set the password", "form[action='/setup'] button", http.StatusOK)
	if loc := location(); loc != console.base+"/tokens" {
		t.Fatalf("after setup: at %s, want the tokens page", loc)
	}
	// Sign out and in again through the sign-in form.
	submit("sign out", ".signout button", http.StatusOK)
	step("sign in", chromedp.WaitVisible(chromedp.ID("password")), chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"))
	submit("sign in", "form[action='/login'] button", http.StatusOK)

	// 2. A provider through its form.
	step("open the new provider form", chromedp.Navigate(console.base+"/providers/-/new"), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "sandbox"),
		chromedp.SendKeys(chromedp.ID("client_id"), srv.ClientID()),
		chromedp.SendKeys(chromedp.ID("client_secret"), srv.ClientSecret()),
		chromedp.SendKeys(chromedp.ID("auth_url"), providerBase+"/authorize"),
		chromedp.SendKeys(chromedp.ID("token_url"), providerBase+"/token"),
		chromedp.SendKeys(chromedp.ID("scopes"), "read write"),
		chromedp.SetValue(chromedp.ID("auth_style"), "body"),
		chromedp.SendKeys(chromedp.ID("description"), "The sandbox provider of this test"))
	submit("create the provider", "form button.primary", http.StatusOK)
	if loc := location(); loc != console.base+"/providers/sandbox" {
		t.Fatalf("after creating the provider: at %s", loc)
	}

	// 3. A token through its form.
	step("open the new token form", chromedp.Click(chromedp.CSS("a[href='/tokens/-/new?provider=sandbox']")), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "api"),
		chromedp.SetValue(chromedp.ID("prompt"), "consent"),
		chromedp.SendKeys(chromedp.ID("base_url"), srv.URL()))
	submit("create the token", "form button.primary", http.StatusOK)
	if got := text(".badges .badge"); got != "not authorized" {
		t.Errorf("new token's state badge = %q, want not authorized", got)
	}

	// 4. Get authorization token, then Deny at the provider: the provider's
	// error lands in lastMessage and on the page.
	step("press Get authorization token", chromedp.Click(chromedp.ID("authorize")), chromedp.WaitVisible(chromedp.CSS("form#authorize input[name=username]")))
	if loc := location(); !strings.HasPrefix(loc, providerBase+"/authorize?") {
		t.Fatalf("Get authorization token led to %s, want the provider's sign-in page", loc)
	}
	step("sign in at the provider", chromedp.SendKeys(chromedp.CSS("input[name=username]"), "demo"), chromedp.SendKeys(chromedp.CSS("input[name=password]"), "demo"))
	submit("deny at the provider", "button[value=deny]", http.StatusOK)
	if loc := location(); loc != console.base+"/tokens/api" {
		t.Fatalf("after denying: at %s, want the token page", loc)
	}
	if msg := text("#last-message"); !strings.Contains(msg, "access_denied") {
		t.Errorf("token page after a denial shows last message %q, want the provider's access_denied", msg)
	}

	// 5. Again, and Allow: back on the token page, authorized, with its expiry.
	// The sandbox signs in only with Allow, so its form asks again.
	step("press Get authorization token again", chromedp.Click(chromedp.ID("authorize")), chromedp.WaitVisible(chromedp.CSS("form#authorize input[name=username]")),
		chromedp.SendKeys(chromedp.CSS("input[name=username]"), "demo"), chromedp.SendKeys(chromedp.CSS("input[name=password]"), "demo"))
	submit("allow at the provider", "button[value=allow]", http.StatusOK)
	if loc := location(); loc != console.base+"/tokens/api" {
		t.Fatalf("after allowing: at %s, want the token page", loc)
	}
	if got := text(".badges .badge"); got != "authorized" {
		t.Fatalf("token state after authorizing = %q, want authorized\n%s", got, console.log)
	}
	if flash := text(".flash-ok"); !strings.Contains(flash, "is authorized") || !strings.Contains(flash, "expires in") {
		t.Errorf("flash after authorizing = %q", flash)
	}
	if exp := text("#expires"); !strings.Contains(exp, "in 59 min") && !strings.Contains(exp, "in 1 h") {
		t.Errorf("expires shows %q, want about an hour from now", exp)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#last-message').length`)); n != 0 {
		t.Error("lastMessage still shown after a successful authorization")
	}

	// Screenshots of the token page at a laptop's and a phone's width.
	dir := t.ArtifactDir()
	shot := func(file string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shot("token-page-laptop.png")
	step("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)), chromedp.Reload())
	shot("token-page-phone.png")
	step("tokens list at phone width", chromedp.Navigate(console.base+"/tokens"), chromedp.WaitVisible(chromedp.CSS("#token-api")))
	shot("tokens-phone.png")
	step("laptop width", chromedp.EmulateViewport(1280, 900), chromedp.Reload())
	shot("tokens-laptop.png")
	t.Logf("screenshots in %s", dir)

	// 6. A script uses the token, in another process, while serve runs.
	scriptStart := time.Now()
	script := writeScript(t, t.TempDir(), "me.js", `
const res = http.get(args[0] + '/me').apiTokenAuth('api').send();
if (!res.ok) throw new Error('status ' + res.status + ': ' + res.body);
console.log('user ' + res.json().user);
`)
	code, out, errs := proc(t, home, "", "run", script, srv.APIURL())
	if code != 0 || !strings.Contains(out, "user demo") {
		t.Fatalf("script with the token: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("script run in another process took %v", time.Since(scriptStart).Round(time.Millisecond))

	// 7. Refresh now.
	step("open the token", chromedp.Navigate(console.base+"/tokens/api"), chromedp.WaitVisible(chromedp.ID("refresh")))
	submit("refresh now", "#refresh", http.StatusOK)
	if flash := text(".flash-ok"); !strings.Contains(flash, "refreshed") {
		t.Errorf("flash after Refresh now = %q", flash)
	}
	if st := srv.Stats(); st.RefreshRequests != 1 || st.TokenRequests["authorization_code"] != 1 {
		t.Errorf("the provider saw %d refreshes and %d code exchanges, want 1 and 1", st.RefreshRequests, st.TokenRequests["authorization_code"])
	}

	// 8. A cron job from the console: pasted script, Check, Create, Run now,
	// and its run's page following it to the end; the script uses the token.
	cronStart := time.Now()
	step("open the new job form", chromedp.Navigate(console.base+"/cron/-/new"), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "me"),
		chromedp.SetValue(chromedp.ID("schedule"), "0 9 * * 1-5"),
		chromedp.SetValue(chromedp.ID("tz"), "Europe/Berlin"),
		chromedp.SetValue(chromedp.ID("args"), srv.APIURL()),
		chromedp.SetValue(chromedp.ID("source"), "const res = http.get(args[0] + '/me').apiTokenAuth('api').send();\nconsole.log('<user> ' + res.json().user);\n"))
	submit("check the job", "#check", http.StatusOK)
	if sha := text("#preview-sha"); len(sha) != 64 {
		t.Errorf("Check shows SHA-256 %q", sha)
	}
	shot("cron-form-checked-laptop.png")
	submit("create the job", "form button.primary", http.StatusOK)
	if loc := location(); loc != console.base+"/cron/me" {
		t.Fatalf("after creating the job: at %s", loc)
	}
	shot("cron-job-laptop.png")
	submit("run the job now", "#run-now", http.StatusOK)
	step("the run ends", chromedp.WaitVisible(chromedp.CSS("#run-status .run-succeeded")))
	if out := text("#output-text"); !strings.Contains(out, "<user> demo") {
		t.Errorf("the run's output on its page: %q", out)
	}
	shot("cron-run-laptop.png")
	step("cron pages at phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)), chromedp.Reload())
	shot("cron-run-phone.png")
	step("job page at phone width", chromedp.Navigate(console.base+"/cron/me"), chromedp.WaitVisible(chromedp.ID("history")))
	shot("cron-job-phone.png")
	step("job list at phone width", chromedp.Navigate(console.base+"/cron"), chromedp.WaitVisible(chromedp.CSS("#job-me")))
	shot("cron-jobs-phone.png")
	step("a wrong job form at phone width", chromedp.Navigate(console.base+"/cron/-/new"), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "bad"), chromedp.SetValue(chromedp.ID("schedule"), "* * * *"), chromedp.SetValue(chromedp.ID("tz"), "Berlin"))
	submit("check a wrong job", "#check", http.StatusUnprocessableEntity)
	if msg := text("#schedule-error"); !strings.Contains(msg, "has 4 fields") {
		t.Errorf("the schedule's error: %q", msg)
	}
	shot("cron-form-errors-phone.png")
	step("provider templates at phone width", chromedp.Navigate(console.base+"/providers/-/new?template=microsoft&param.tenant=contoso.onmicrosoft.com"),
		chromedp.WaitVisible(chromedp.ID("template-quirk")))
	shot("provider-template-phone.png")
	step("laptop width again", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(console.base+"/cron"), chromedp.WaitVisible(chromedp.CSS("#job-me")))
	shot("cron-jobs-laptop.png")
	step("provider templates at laptop width", chromedp.Navigate(console.base+"/providers/-/new"), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.Click(chromedp.CSS("details.templates summary")), chromedp.WaitVisible(chromedp.ID("template-microsoft")))
	shot("provider-templates-laptop.png")
	t.Logf("cron pages in the browser took %v", time.Since(cronStart).Round(time.Millisecond))

	// Nothing secret reached the log or the page.
	page, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	for _, secret := range []string{srv.ClientSecret(), "correct horse battery"} {
		if strings.Contains(console.log.String()+console.out.String(), secret) || strings.Contains(page, secret) {
			t.Errorf("a secret (%.4s…) appears in the console's log or page", secret)
		}
	}
	consoleMu.Lock()
	for _, line := range consoleLines {
		if strings.Contains(line, "Content Security Policy") || strings.Contains(line, "Refused") || strings.HasPrefix(line, "exception") {
			t.Errorf("browser console: %s", line)
		}
	}
	t.Logf("browser console had %d messages", len(consoleLines))
	consoleMu.Unlock()
	if err := console.stop(); err != nil {
		t.Errorf("serve: %v", err)
	}
	if !strings.Contains(console.out.String(), "console stopped") {
		t.Errorf("serve did not report a graceful stop:\n%s", console.out)
	}
	t.Logf("browser end-to-end test took %v", time.Since(start).Round(time.Millisecond))
	if testing.Verbose() {
		io.WriteString(os.Stderr, console.log.String())
	}
}

// runServe runs serve in-process on ln until the returned stop (also called
// at cleanup) cancels it; stop reports serve's error, or that it hung.
func runServe(t *testing.T, a *app, ln net.Listener, cfg serveConfig) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, ln, cfg); a.close() }()
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				stopErr = fmt.Errorf("serve did not stop within 20 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return stop
}

// requireBrowser returns the Chromium or Chrome to drive, skipping the test
// when there is none, or failing it when SCRIPTRUN_REQUIRE_BROWSER is set
// (.ci/run sets it).
func requireBrowser(t *testing.T) string {
	t.Helper()
	browser := findBrowser()
	if browser == "" {
		if os.Getenv("SCRIPTRUN_REQUIRE_BROWSER") != "" {
			t.Fatal("SCRIPTRUN_REQUIRE_BROWSER is set but neither chromium nor chrome is on PATH: install it (apt-get install -y chromium)")
		}
		t.Skip("no Chromium or Chrome on PATH (apt-get install -y chromium); .ci/run sets SCRIPTRUN_REQUIRE_BROWSER=1 to make this a failure")
	}
	return browser
}

// startBrowser starts a headless browser with a profile of its own (no
// cookies shared with another) and returns its first tab, which ends with
// the test or after 2 minutes.
func startBrowser(t *testing.T, browser string) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(browser),
			chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.UserDataDir(t.TempDir()),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("no-default-browser-check", true),
			chromedp.WindowSize(1280, 900),
		)...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", browser, err)
	}
	return ctx
}
