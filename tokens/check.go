package tokens

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// Outcomes of a credential check (CheckResult.Outcome).
const (
	// CheckOK: the API answered 2xx.
	CheckOK = "ok"
	// CheckRefused: the API refused the credential (401, 403, or what the
	// provider's rejection rule says), after a refresh and one retry where
	// the token can be renewed.
	CheckRefused = "refused"
	// CheckAnswered: the API answered something else (a redirect, 404,
	// 5xx): the credential was not refused, but this URL tells no more.
	CheckAnswered = "answered"
	// CheckFailed: nothing usable came back: the token cannot sign (not
	// authorized, refresh failed, ...) or the API could not be reached.
	CheckFailed = "failed"
)

// CheckRequest is the one request Manager.Check sends.
type CheckRequest struct {
	URL    string       // "" = the token's base URL
	Method string       // "" = GET; sent without a body
	Client *http.Client // nil = a client with a 30 s timeout; redirects are never followed
}

// CheckResult is what a credential check found. It holds no credential:
// URL is the one asked for, before the signer added anything, and no
// response header or body is kept.
type CheckResult struct {
	Token, Method, URL string
	Outcome            string        // CheckOK, CheckRefused, CheckAnswered or CheckFailed
	Status             int           // the API's last status; 0 when none came
	Latency            time.Duration // the last request's round trip, to the response headers
	Total              time.Duration // all of it: signing (with any refresh), requests, retry
	Refreshed          bool          // the token was refreshed (or fetched) during the check
	Retried            bool          // the API refused it once; renewed and sent again
	Code               string        // for CheckFailed, the token error's code when there is one
	Problem            string        // in words, for every outcome but CheckOK
}

// Failed reports whether the check says the credential does not work:
// refused or failed.
func (r CheckResult) Failed() bool { return r.Outcome == CheckRefused || r.Outcome == CheckFailed }

// Summary is the result in one line, the same for the command line, the
// console and doctor: "GET URL → HTTP 200 in 84 ms (token refreshed)", with
// the problem after a colon.
func (r CheckResult) Summary() string {
	var b strings.Builder
	b.WriteString(r.Method + " " + r.URL + " → ")
	if r.Status == 0 {
		b.WriteString("no answer")
	} else {
		fmt.Fprintf(&b, "HTTP %d in %s", r.Status, roundLatency(r.Latency))
	}
	var notes []string
	if r.Refreshed {
		notes = append(notes, "token refreshed")
	}
	if r.Retried {
		notes = append(notes, "refused once, retried")
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, "; ") + ")")
	}
	if r.Problem != "" {
		b.WriteString(": " + r.Problem)
	}
	return b.String()
}

// roundLatency keeps two or three significant digits: 0.84 ms, 84 ms, 1.2 s.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d < time.Second:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}

// checkBodyLimit bounds what is read of an answer (to reuse the connection
// and to find a rejection pattern); nothing of it is kept.
const checkBodyLimit = 64 << 10

// Check sends one request signed with the named token, as a script's
// http.get(url).apiTokenAuth(name).send() would: the same Sign (binding,
// refusals, refresh when due), and when the API refuses the credential the
// same Rejected (renew) and a single retry. It returns an error, sending
// nothing, when the token does not exist or the URL is missing, not
// absolute or outside the token's binding (CodeHostMismatch); every other
// outcome, failures included, is in the result.
func (m *Manager) Check(ctx context.Context, name string, cr CheckRequest) (CheckResult, error) {
	start := time.Now()
	before, target, err := m.checkTarget(name, cr.URL)
	if err != nil {
		return CheckResult{}, err
	}
	shown := *target
	shown.User = nil // a password typed into the URL is not repeated
	res := CheckResult{Token: name, Method: cr.Method, URL: shown.String()}
	if res.Method == "" {
		res.Method = http.MethodGet
	}
	resp, rejected, err := m.checkExchange(ctx, name, target, checkClient(cr.Client), &res)
	res.Total = time.Since(start)
	res.Refreshed = m.refreshedSince(name, before)
	if err != nil {
		res.Outcome, res.Code, res.Problem = CheckFailed, CodeOf(err), checkProblem(err)
		return res, nil
	}
	drainClose(resp)
	res.Status = resp.StatusCode
	res.Outcome, res.Problem = classify(resp, rejected)
	return res, nil
}

// checkExchange sends the request and, when the API refuses the
// credential, has the token renewed and sends it once more, as bindings
// do for scripts. It returns the last answer and whether the token's
// rejection rule says it refused the credential.
func (m *Manager) checkExchange(ctx context.Context, name string, target *url.URL, client *http.Client, res *CheckResult) (*http.Response, bool, error) {
	resp, req, err := m.checkSend(ctx, name, res.Method, target, client, res)
	if err != nil {
		return nil, false, err
	}
	if !m.checkRejected(name, resp) {
		return resp, false, nil
	}
	drainClose(resp)
	res.Retried = true
	if err := m.Rejected(ctx, name, req); err != nil {
		return nil, false, err
	}
	if resp, _, err = m.checkSend(ctx, name, res.Method, target, client, res); err != nil {
		return nil, false, err
	}
	return resp, m.checkRejected(name, resp), nil
}

// checkTarget reads the token's last refresh time (to tell a refresh
// afterwards) and the URL to call: the given one, else the base URL.
func (m *Manager) checkTarget(name, raw string) (credentialState, *url.URL, error) {
	t, _, err := m.readForSigning(name)
	if err != nil {
		return credentialState{}, nil, err
	}
	if raw == "" {
		raw = t.BaseURL
	}
	if raw == "" {
		return credentialState{}, nil, newError(CodeHostMismatch, name, nil, "token %q has no base URL to call: give the URL of an endpoint of its API", name)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return credentialState{}, nil, newError(CodeHostMismatch, name, nil, "token %q: %q is not an absolute http(s) URL", name, shorten(raw, 120))
	}
	// The binding first, as Sign checks it, but as the caller's mistake:
	// nothing is sent and nothing refreshed.
	if e, err := m.lookup(name); err == nil {
		if err := checkHost(e, u); err != nil {
			return credentialState{}, nil, err
		}
	}
	return stateOf(t), u, nil
}

// checkClient is client, or a default one, that never follows redirects:
// a redirect is an answer to report, and a credential must not follow it.
func checkClient(client *http.Client) *http.Client {
	c := &http.Client{Timeout: 30 * time.Second}
	if client != nil {
		cp := *client
		c = &cp
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// checkSend signs and sends one request, recording its latency in res.
func (m *Manager) checkSend(ctx context.Context, name, method string, target *url.URL, client *http.Client, res *CheckResult) (*http.Response, *http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot build the request: %w", err)
	}
	req.Header.Set("User-Agent", "scriptrun-token-test")
	if err := m.Sign(ctx, name, req); err != nil {
		return nil, nil, err
	}
	sent := time.Now()
	resp, err := client.Do(req)
	res.Latency = time.Since(sent)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL may carry a query credential
		}
		return nil, nil, fmt.Errorf("the API could not be reached: %w", err)
	}
	return resp, req, nil
}

// checkRejected asks the token's rejection rule about resp, reading the
// start of the body when the rule needs it (the body is then drained).
func (m *Manager) checkRejected(name string, resp *http.Response) bool {
	rejected, peek := m.Rejects(name, resp.StatusCode, nil)
	if rejected || peek <= 0 {
		return rejected
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, int64(peek)))
	rejected, _ = m.Rejects(name, resp.StatusCode, head)
	return rejected
}

// classify words the final answer; rejected is the token's rejection rule
// on it.
func classify(resp *http.Response, rejected bool) (string, string) {
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return CheckRefused, "the API refused the credential"
	case rejected:
		return CheckRefused, "the API refused the credential (as the provider's rejection rule reads the answer)"
	case code >= 200 && code < 300:
		return CheckOK, ""
	case code >= 300 && code < 400:
		where := ""
		if loc, err := resp.Location(); err == nil {
			where = " to " + origin(loc) + shorten(loc.EscapedPath(), 120)
		}
		return CheckAnswered, "a redirect" + where + ", not followed: the credential was not refused, but try the URL of an endpoint that answers directly"
	}
	return CheckAnswered, "the credential was not refused, but this URL tells no more: try the URL of an endpoint that exists"
}

// credentialState tells one token set from the next: when it was obtained and
// its access token (kept in memory only, for the comparison).
type credentialState struct {
	obtained time.Time
	access   string
}

func stateOf(t store.Token) credentialState {
	return credentialState{obtained: t.LastRefreshed, access: t.Secret.AccessToken}
}

// refreshedSince reports whether the token's set is another than before
// (renewed by this check, or by another process meanwhile).
func (m *Manager) refreshedSince(name string, before credentialState) bool {
	var after credentialState
	err := m.db.View(func(tx *store.Tx) error {
		t, err := tx.Token(name)
		after = stateOf(t)
		return err
	})
	return err == nil && after != before
}

// checkProblem is a failure in words: a token error's message as it is
// (written without secrets), a transport error with its cause.
func checkProblem(err error) string {
	var te *Error
	if errors.As(err, &te) {
		return te.Msg
	}
	return strings.TrimSpace(err.Error())
}

func drainClose(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, checkBodyLimit))
	resp.Body.Close()
}
