package sandbox

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// maxSignInSteps bounds the pages and redirects SignIn follows.
const maxSignInSteps = 10

// SignIn completes an authorization request through the sandbox's real
// pages, as a person in a browser would: it GETs authURL (an authorization
// URL built by the client, e.g. with oauth2.Config.AuthCodeURL), fills the
// login form with user and password, presses Allow, and follows redirects
// until one leaves the sandbox's host. It requests that final URL too, so
// a callback server receives it, and returns it; its query holds code and
// state, or error (access_denied, login_required, invalid_request, ...).
//
// Each call is a fresh browser with no cookies, so prompt=none always ends
// in login_required. A wrong password is an error. If the final URL is
// reached but requesting it fails or answers 4xx/5xx, SignIn returns the URL
// and an error. Errors never contain the code or the password.
//
// SignIn understands the sandbox's own pages only.
func SignIn(ctx context.Context, authURL, user, password string) (*url.URL, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("sandbox: sign-in: %w", err)
	}
	return newBrowser(jar).signIn(ctx, authURL, user, password)
}

// browser is SignIn's scripted browser; tests reuse one to keep a session.
type browser struct {
	client *http.Client // does not follow redirects: signIn does
	visit  *http.Client // follows redirects, for the final URL
}

func newBrowser(jar http.CookieJar) *browser {
	return &browser{
		client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		visit:  &http.Client{Jar: jar},
	}
}

func (b *browser) signIn(ctx context.Context, authURL, user, password string) (*url.URL, error) {
	start, err := url.Parse(authURL)
	if err != nil || (start.Scheme != "http" && start.Scheme != "https") || start.Host == "" {
		return nil, fmt.Errorf("sandbox: sign-in: %q is not an http(s) URL", authURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, start.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("sandbox: sign-in: %w", err)
	}
	submitted := false
	for range maxSignInSteps {
		resp, err := b.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("sandbox: sign-in: %w", unwrapURLError(err))
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("sandbox: sign-in: reading %s: %w", redact(resp.Request.URL), err)
		}
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("sandbox: sign-in: redirect without a usable Location: %w", err)
			}
			if loc.Scheme == start.Scheme && loc.Host == start.Host {
				if req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil); err != nil {
					return nil, fmt.Errorf("sandbox: sign-in: %w", err)
				}
				continue
			}
			return loc, b.request(ctx, loc)
		case resp.StatusCode == http.StatusOK && formRe.Get().Match(body):
			f := parseLoginForm(body)
			if submitted && f.err != "" {
				return nil, fmt.Errorf("sandbox: sign-in rejected: %s", f.err)
			}
			if submitted {
				return nil, errors.New("sandbox: sign-in: the login form came back after submitting it")
			}
			f.fields.Set("username", user)
			f.fields.Set("password", password)
			f.fields.Set("action", "allow")
			action, err := resp.Request.URL.Parse(f.action)
			if err != nil {
				return nil, fmt.Errorf("sandbox: sign-in: form action %q: %w", f.action, err)
			}
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(f.fields.Encode()))
			if err != nil {
				return nil, fmt.Errorf("sandbox: sign-in: %w", err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			submitted = true
		default:
			return nil, fmt.Errorf("sandbox: sign-in: %s answered %s: %s", redact(resp.Request.URL), resp.Status, pageText(body))
		}
	}
	return nil, fmt.Errorf("sandbox: sign-in: no redirect to the client after %d steps", maxSignInSteps)
}

// request GETs the client's redirect URI, following its redirects.
func (b *browser) request(ctx context.Context, u *url.URL) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("sandbox: sign-in: %w", err)
	}
	resp, err := b.visit.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox: sign-in reached %s but requesting it failed: %w", redact(u), unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 400 {
		return fmt.Errorf("sandbox: sign-in: callback %s answered %s: %s", redact(u), resp.Status, pageText(body))
	}
	return nil
}

var (
	formRe  = lazy.Regexp{Expr: `(?is)<form\b[^>]*\bid="authorize"[^>]*>(.*?)</form>`}
	actRe   = lazy.Regexp{Expr: `(?is)<form\b[^>]*\baction="([^"]*)"`}
	inputRe = lazy.Regexp{Expr: `(?is)<input\b([^>]*)>`}
	attrRe  = lazy.Regexp{Expr: `(?is)([a-z][a-z0-9-]*)="([^"]*)"`}
	errRe   = lazy.Regexp{Expr: `(?is)<p class="error"[^>]*>(.*?)</p>`}
	tagRe   = lazy.Regexp{Expr: `(?s)<[^>]*>`}
)

type loginForm struct {
	action string
	fields url.Values
	err    string // the page's error message, if any
}

// parseLoginForm reads the sandbox's login form: its action, the named
// inputs with their values, and the error message.
func parseLoginForm(page []byte) loginForm {
	f := loginForm{action: "/authorize", fields: url.Values{}}
	if m := actRe.Get().FindSubmatch(page); m != nil {
		f.action = html.UnescapeString(string(m[1]))
	}
	if m := errRe.Get().FindSubmatch(page); m != nil {
		f.err = pageText(m[1])
	}
	form := formRe.Get().FindSubmatch(page)[1]
	for _, in := range inputRe.Get().FindAllSubmatch(form, -1) {
		attrs := map[string]string{}
		for _, a := range attrRe.Get().FindAllSubmatch(in[1], -1) {
			attrs[strings.ToLower(string(a[1]))] = html.UnescapeString(string(a[2]))
		}
		if name := attrs["name"]; name != "" {
			f.fields.Set(name, attrs["value"])
		}
	}
	return f
}

// pageText is an HTML fragment as short plain text, for error messages.
func pageText(b []byte) string {
	s := strings.Join(strings.Fields(html.UnescapeString(tagRe.Get().ReplaceAllString(string(b), " "))), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// redact drops the query, which may hold a code or state.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.User = "", "", nil
	return c.String()
}

// unwrapURLError drops *url.Error's URL, which may hold a code.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
