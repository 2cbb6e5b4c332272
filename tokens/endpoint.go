package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/scriptrun/scriptrun/store"
)

// maxTokenResponse caps what is read from a token endpoint (x/oauth2 reads 1 MiB).
const maxTokenResponse = 1 << 20

// oauthConfig builds the x/oauth2 configuration for a provider and token.
func oauthConfig(p store.Provider, t store.Token, redirectURI string) *oauth2.Config {
	style := oauth2.AuthStyleInHeader
	if p.AuthStyle == store.AuthStyleBody {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL, AuthStyle: style},
		RedirectURL:  redirectURI,
		Scopes:       t.EffectiveScopes(p),
	}
}

// tokenSet is what a token endpoint answered, parsed with our own clock.
type tokenSet struct {
	secret  store.Secret
	expires time.Time // zero when the provider gave no lifetime
}

// tokenCall performs one token-endpoint request through x/oauth2 and keeps
// the raw response, so extra fields survive and expires_in is read with our
// clock. do is the x/oauth2 call to make with the prepared context.
func (m *Manager) tokenCall(ctx context.Context, p store.Provider, do func(ctx context.Context) (*oauth2.Token, error)) (tokenSet, error) {
	rt := &capture{base: m.client.Transport, params: p.TokenParams}
	if rt.base == nil {
		rt.base = http.DefaultTransport
	}
	client := &http.Client{Transport: rt, Timeout: m.client.Timeout, CheckRedirect: noRedirects}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	tok, err := do(ctx)
	now := m.now()
	if err != nil {
		if until, ok := retryAfter(rt.status, rt.retryAfter, now); ok {
			return tokenSet{}, &throttled{err: err, until: until}
		}
		return tokenSet{}, err
	}
	set := tokenSet{secret: store.Secret{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		TokenType:    normalTokenType(tok.TokenType),
	}}
	fields := parseFields(rt.contentType, rt.body)
	if secs, ok := expiresIn(fields["expires_in"]); ok && secs > 0 {
		set.expires = now.Add(time.Duration(secs) * time.Second)
	}
	for _, k := range []string{"access_token", "refresh_token", "token_type", "expires_in"} {
		delete(fields, k)
	}
	if len(fields) > 0 {
		set.secret.Extra = fields
	}
	return set, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// normalTokenType turns "bearer", "BEARER" and "" into "Bearer", as most
// APIs expect that spelling in the Authorization header.
func normalTokenType(s string) string {
	if s == "" || strings.EqualFold(s, "bearer") {
		return "Bearer"
	}
	return s
}

// parseFields reads a token response body as JSON or as a form.
func parseFields(contentType string, body []byte) map[string]json.RawMessage {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" || mt == "text/plain" {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil
		}
		out := make(map[string]json.RawMessage, len(vals))
		for k := range vals {
			b, _ := json.Marshal(vals.Get(k))
			out[k] = b
		}
		return out
	}
	var out map[string]json.RawMessage
	if json.Unmarshal(body, &out) != nil {
		return nil
	}
	return out
}

// expiresIn reads expires_in given as a number or a numeric string.
func expiresIn(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	if f, err := n.Float64(); err == nil {
		return int64(f), true
	}
	return 0, false
}

// capture is the token-endpoint transport: it adds the provider's extra
// token parameters to the form and keeps a copy of the response body.
type capture struct {
	base        http.RoundTripper
	params      map[string]string
	contentType string
	body        []byte
	status      int    // the response's status code
	retryAfter  string // its Retry-After header
}

func (c *capture) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(c.params) > 0 && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, err
		}
		for k, v := range c.params {
			if !form.Has(k) {
				form.Set(k, v)
			}
		}
		enc := form.Encode()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(strings.NewReader(enc))
		req.ContentLength = int64(len(enc))
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.contentType = resp.Header.Get("Content-Type")
	c.status = resp.StatusCode
	c.retryAfter = resp.Header.Get("Retry-After")
	c.body = body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// describe turns a token-endpoint failure into words safe to store in
// lastMessage and show anyone: the provider's error code and description,
// or the HTTP status, or the kind of network failure; never a response body.
// Any of secrets the provider echoed back is masked.
func describe(err error, secrets ...string) string {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		if re.ErrorCode != "" {
			msg := "provider answered " + providerText(re.ErrorCode, 64, secrets...)
			if re.ErrorDescription != "" {
				msg += ": " + providerText(re.ErrorDescription, maxProviderText, secrets...)
			}
			return msg
		}
		status := "an error"
		if re.Response != nil {
			status = "HTTP " + strconv.Itoa(re.Response.StatusCode)
		}
		return "token endpoint answered " + status + " without an OAuth error code"
	case errors.Is(err, context.DeadlineExceeded):
		return "token endpoint did not answer in time"
	case errors.Is(err, context.Canceled):
		return "token request was cancelled"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "token endpoint did not answer in time"
		}
		return "cannot reach the token endpoint: " + providerText(ue.Err.Error(), 200, secrets...)
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "oauth2: ")
	return "token endpoint answer unusable: " + providerText(msg, 200, secrets...)
}

// maxProviderText is how much of a provider's error description a message
// keeps: enough for hydra, which puts its reason at the end of long ones.
const maxProviderText = 1024

// minSecretFragment is the shortest piece of a secret masked on its own,
// where a provider echoed only part of it (cut, or split across lines).
// Shorter pieces of random text turn up by chance.
const minSecretFragment = 8

// secretMask replaces a secret in messages.
const secretMask = "••••"

// providerText makes text a provider wrote fit for a message: the secrets
// it echoed are masked first, so that no cut can split one and leave it
// unrecognisable, then controls are replaced and at most max bytes kept.
func providerText(s string, max int, secrets ...string) string {
	return clean(redact(s, secrets...), max)
}

// redact masks every occurrence of the given secrets in s, as they were
// sent or percent- or JSON-escaped, and every piece of at least
// minSecretFragment bytes of one. A provider's error text is the
// provider's to write, and some echo what they were sent, whole or in part.
func redact(s string, secrets ...string) string {
	whole, pieces := secretPatterns(secrets)
	if len(whole) == 0 {
		return s
	}
	masked := make([]bool, len(s))
	mark := func(from, to int) {
		for i := from; i < to; i++ {
			masked[i] = true
		}
	}
	for _, v := range whole {
		for off := 0; ; {
			i := strings.Index(s[off:], v)
			if i < 0 {
				break
			}
			mark(off+i, off+i+len(v))
			off += i + 1
		}
	}
	for i := 0; i+minSecretFragment <= len(s); i++ {
		if pieces[s[i:i+minSecretFragment]] {
			mark(i, i+minSecretFragment)
		}
	}
	return maskMarked(s, masked)
}

// secretPatterns returns the forms of each secret (secretForms) a text may
// carry whole, and every piece of minSecretFragment bytes of them. Secrets
// shorter than 4 bytes are left out: they turn up in any text.
func secretPatterns(secrets []string) (whole []string, pieces map[string]bool) {
	pieces = map[string]bool{}
	for _, secret := range secrets {
		if len(secret) < 4 {
			continue
		}
		for _, v := range secretForms(secret) {
			whole = append(whole, v)
			for i := 0; i+minSecretFragment <= len(v); i++ {
				pieces[v[i:i+minSecretFragment]] = true
			}
		}
	}
	return whole, pieces
}

// maskMarked replaces each run of marked bytes of s with secretMask,
// widened to whole runes so the result stays valid UTF-8.
func maskMarked(s string, masked []bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		if !masked[i] {
			for j < len(s) && !masked[j] {
				j++
			}
			b.WriteString(s[i:j])
			i = j
			continue
		}
		for j < len(s) && masked[j] {
			j++
		}
		for j < len(s) && !utf8.RuneStart(s[j]) {
			j++
		}
		b.WriteString(secretMask)
		i = j
	}
	return b.String()
}

// secretForms returns secret as sent and as a provider may echo it:
// percent-encoded (either case of hex digits) or inside a JSON string.
func secretForms(secret string) []string {
	q := url.QueryEscape(secret)
	forms := []string{secret, q, strings.ReplaceAll(q, "+", "%20"), url.PathEscape(secret), lowerHex(q)}
	var j bytes.Buffer
	enc := json.NewEncoder(&j)
	for _, html := range []bool{true, false} {
		j.Reset()
		enc.SetEscapeHTML(html)
		if enc.Encode(secret) == nil {
			inner := strings.TrimSuffix(strings.TrimSpace(j.String()), "\"")
			inner = strings.TrimPrefix(inner, "\"")
			forms = append(forms, inner, strings.ReplaceAll(inner, "/", "\\/"))
		}
	}
	seen := map[string]bool{}
	out := forms[:0]
	for _, f := range forms {
		if !seen[f] && len(f) >= 4 {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// lowerHex writes the hex digits of s's percent-escapes in lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lowerASCII(b[i+1])
			b[i+2] = lowerASCII(b[i+2])
		}
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// clean keeps provider-supplied text printable and at most max bytes long,
// cut on a rune boundary.
func clean(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// deadRefreshToken reports whether the provider's refusal of a refresh says
// the refresh token itself is dead, so that only a new authorization helps
// and it must not be sent again: invalid_grant (RFC 6749), and any other
// 400 with an OAuth error code that is neither about the client nor
// transient. dex, for one, answers invalid_request for a refresh token that
// expired from inactivity, was reused, or did not survive a restart.
func deadRefreshToken(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	switch re.ErrorCode {
	case "invalid_grant":
		return true
	case "", "invalid_client", "unauthorized_client", "temporarily_unavailable", "server_error", "slow_down":
		// No OAuth answer at all (a proxy's page), the client's own
		// credentials, or a provider asking to try again later.
		return false
	}
	return re.Response != nil && re.Response.StatusCode == http.StatusBadRequest
}

// maxRetryAfter bounds how long a token endpoint's Retry-After can hold
// automatic refreshes back, so a wrong or hostile value cannot stop a token
// from refreshing for days.
const maxRetryAfter = time.Hour

// throttled is a token-endpoint failure that came with a Retry-After (429
// or 503): no automatic refresh is tried before until.
type throttled struct {
	err   error
	until time.Time
}

func (e *throttled) Error() string { return e.err.Error() }
func (e *throttled) Unwrap() error { return e.err }

// retryAfter reads the Retry-After header of a 429 or 503 answer, in
// seconds or as an HTTP date, as a time after now, at most maxRetryAfter
// away. ok is false for other statuses and for a missing, unreadable or
// past value (the usual back-off then applies).
func retryAfter(status int, header string, now time.Time) (until time.Time, ok bool) {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return time.Time{}, false
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return time.Time{}, false
	}
	var wait time.Duration
	if secs, err := strconv.ParseInt(header, 10, 64); err == nil {
		if secs <= 0 {
			return time.Time{}, false
		}
		wait = maxRetryAfter
		if secs < int64(maxRetryAfter/time.Second) {
			wait = time.Duration(secs) * time.Second
		}
	} else if at, err := http.ParseTime(header); err == nil {
		wait = at.Sub(now)
		if wait <= 0 {
			return time.Time{}, false
		}
	} else {
		return time.Time{}, false
	}
	return now.Add(min(wait, maxRetryAfter)), true
}
