package bindings

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/scriptrun/scriptrun/internal/weborigin"
)

// userAgent is sent unless the script sets its own User-Agent header.
const userAgent = "scriptrun"

// userAgentValue is the User-Agent header's value, shared by every request
// (headers are replaced, never written into, so it is never changed).
var userAgentValue = []string{userAgent}

// result is a response read completely into memory; it holds no goja values,
// so it can be built on any goroutine.
type result struct {
	// Where the response came from, for messages: named (a response a
	// script made), or the request's method and URL, rendered only when a
	// message needs them (the request's URL is not changed once sent).
	named      string
	method     string
	reqURL     *url.URL
	status     int
	statusText string
	// url is the final URL (after redirects) without user info, the
	// Signer's query parameters masked; when it is the URL the script asked
	// for as it is (nothing to hide, no redirect), it is rendered from
	// reqURL and query on first use instead (finalURL).
	url      string
	query    []byte // the request's .query() parameters, for finalURL
	asSent   bool   // url is reqURL with query: finalURL renders it
	header   http.Header
	body     []byte // never written to once read: JavaScript strings share it (bytesString)
	attempts int    // requests .retry made (1 without retries); 0 for a Response the script made
}

// finalURL is the response's URL (res.url): see url.
func (res *result) finalURL() string {
	if res.asSent {
		return targetOf(res.reqURL, res.query)
	}
	return res.url
}

// where names the request the response answers, for messages.
func (res *result) where() string {
	if res.reqURL == nil {
		return res.named
	}
	return whereOf(res.method, res.reqURL)
}

// requestTimeout is the cancellation cause of a request whose .timeout(ms) elapsed.
type requestTimeout struct{ d time.Duration }

// Error says which timeout elapsed.
func (e *requestTimeout) Error() string { return fmt.Sprintf("request timeout of %s elapsed", e.d) }

// doSafe is do for goroutines: a panic (a bug, in bindings or in the Signer)
// becomes an INTERNAL error instead of crashing the process.
func (a *api) doSafe(ctx context.Context, r *request) (res *result, err error) {
	defer func() {
		if x := recover(); x != nil {
			res, err = nil, errorf(CodeInternal, "%s: internal error: %v\n%s", r.where(), x, debug.Stack())
		}
	}()
	return a.do(ctx, r)
}

// do sends r and reads the response. It does not touch the JavaScript runtime.
//
// When r uses apiTokenAuth and the Signer says the answer means the API
// refused the credential (Rejects: by default a 401), do tells the Signer
// (Rejected), signs again and retries exactly once. That is always possible
// because builders hold their body as bytes, so it can be replayed.
//
// The request's own timeout covers the whole call: signing (including a token
// refresh), sending, the single retry, the retries .retry asked for (and the
// waits between them) and reading the body.
func (a *api) do(ctx context.Context, r *request) (*result, error) {
	ctx, release := withSignal(ctx, r.signal)
	defer release()
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.timeout, &requestTimeout{r.timeout})
		defer cancel()
	}
	if err := r.checkHostHeader(); err != nil {
		return nil, err
	}
	target := r.target()
	if r.retry != nil {
		return a.retrying(ctx, r, target)
	}
	return a.exchange(ctx, r, target, nil)
}

// exchange makes one attempt at r: it signs and sends the request, resends
// it once when the Signer says the answer refused the credential, and reads
// the answer. With retries (t not nil) the credential is resent once per
// call, not once per attempt, and an answer t says to send again is drained
// and reported as errRetry.
func (a *api) exchange(ctx context.Context, r *request, target *url.URL, t *retrier) (*result, error) {
	resp, sent, sig, err := a.attempt(ctx, r, target)
	if err != nil {
		return nil, err
	}
	var head []byte // the start of the body, when the Signer needed it to tell
	if r.token != "" && (t == nil || !t.rejected) && a.credentialReached(r, sent, resp) {
		var rejected bool
		if rejected, head, err = a.rejects(ctx, r, resp); err != nil {
			resp.Body.Close()
			return nil, scrubbed(err, sig)
		}
		if rejected {
			if t != nil {
				t.rejected = true
			}
			drain(resp)
			if err := a.signer.Rejected(ctx, r.token, sent); err != nil {
				return nil, a.signerError(ctx, r, err)
			}
			if resp, sent, sig, err = a.attempt(ctx, r, target); err != nil {
				return nil, err
			}
			head = nil
		}
	}
	if t.again(ctx, resp.StatusCode, resp.Header) {
		drain(resp)
		return nil, errRetry
	}
	defer resp.Body.Close()

	sig.maskHeaderURLs(resp.Header)
	res := &result{
		method:     r.method,
		reqURL:     r.url,
		status:     resp.StatusCode,
		statusText: statusText(resp),
		header:     resp.Header,
		attempts:   1,
	}
	switch {
	case resp.Request != nil && resp.Request.URL != nil && resp.Request != sent:
		// Redirected: the final URL came from the server's Location header.
		res.url = sig.shownURL(resp.Request.URL)
	case r.url.User == nil && len(sig.params) == 0:
		// Nothing to hide: rendered if the script asks for it.
		res.query, res.asSent = r.query, true
	default:
		// As the script asked for it (without what the Signer added), its
		// user info dropped and any parameter named like the Signer's masked.
		u := *target
		res.url = sig.shownURL(&u)
	}
	if r.method != http.MethodHead {
		if res.body, err = a.readBody(ctx, r, resp, head); err != nil {
			return nil, scrubbed(err, sig)
		}
	}
	return res, nil
}

// credentialReached reports whether the request that got resp carried what
// the Signer added. After a redirect that left the signed request's origin
// or the token's binding it did not (guardRedirects removed it), and a
// refusal from there says nothing about the token: nothing is refreshed.
func (a *api) credentialReached(r *request, sent *http.Request, resp *http.Response) bool {
	final := resp.Request
	if final == nil || final == sent || final.URL == nil {
		return true
	}
	return weborigin.Same(final.URL, sent.URL) && a.signer.Permits(r.token, final.URL)
}

// rejects asks the Signer whether resp, the answer to a signed request,
// means the API refused the credential. For most answers the status tells
// and nothing is read. When the Signer needs the body, rejects reads at most
// the start it asks for (MaxRejectionPeek at most) and returns it as head:
// the body is then head followed by what is left of resp.Body.
func (a *api) rejects(ctx context.Context, r *request, resp *http.Response) (rejected bool, head []byte, err error) {
	rejected, peek := a.signer.Rejects(r.token, resp.StatusCode, nil)
	if rejected || peek <= 0 {
		return rejected, nil, nil
	}
	peek = min(peek, MaxRejectionPeek)
	if resp.ContentLength >= 0 && resp.ContentLength < int64(peek) {
		peek = int(resp.ContentLength)
	}
	head = make([]byte, peek)
	n, err := io.ReadFull(resp.Body, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, nil, a.transportError(ctx, r, fmt.Errorf("reading the response body: %w", err))
	}
	head = head[:n]
	rejected, _ = a.signer.Rejects(r.token, resp.StatusCode, head)
	return rejected, head, nil
}

// checkHostHeader refuses a signed request whose Host header names another
// host than its URL: a front that routes by Host (a shared ingress, a CDN)
// would deliver the credential to whichever tenant that header names. The
// token manager refuses such a request too; checking here first means no
// Signer is even asked (no refresh for a request that cannot be sent).
func (r *request) checkHostHeader() error {
	if r.token == "" {
		return nil
	}
	hosts := r.header.Values("Host")
	if r.host != "" {
		hosts = append(hosts, r.host)
	}
	for _, h := range hosts {
		if !weborigin.SameAuthority(h, r.url) {
			return errorf(CodeHostMismatch, "%s: apiTokenAuth(%q): the Host header %s is not the URL's host; a signed request goes only to its URL's own host (a front that routes by Host would hand the credential to another site): remove the Host header",
				r.where(), r.token, quoteShort(h))
		}
	}
	return nil
}

// scrubbed removes the Signer's values from the message of a coded error
// (a server's text, such as a Location it sent, may echo them).
func scrubbed(err error, sig signature) error {
	var ce *codedError
	if len(sig.values) == 0 || !errors.As(err, &ce) {
		return err
	}
	return &codedError{code: ce.code, msg: sig.scrub(ce.msg)}
}

// attempt builds, signs and sends one HTTP request for r. It returns what
// the Signer added, so the response can be shown without it.
func (a *api) attempt(ctx context.Context, r *request, target *url.URL) (*http.Response, *http.Request, signature, error) {
	var sig signature
	req, err := newHTTPRequest(ctx, r.method, target, r.body, r.header.Clone())
	if err != nil {
		return nil, nil, sig, errorf(CodeBadRequest, "%s: cannot build the request: %v", r.where(), err)
	}
	setHeader(req, r.token != "")
	client := a.client
	if r.token == "" {
		if r.host != "" {
			req.Host = r.host
		}
	} else {
		if a.signer == nil {
			return nil, nil, sig, errorf(CodeTokenNotFound, "%s: apiTokenAuth(%q): no token store is configured in this runtime", r.where(), r.token)
		}
		query := req.URL.RawQuery
		if err := a.signer.Sign(ctx, r.token, req); err != nil {
			return nil, nil, sig, a.signerError(ctx, r, err)
		}
		sig = signatureOf(headersBefore{r.header}, query, req)
		client = a.guardRedirects(req.URL, r.token, sig)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, sig, scrubbed(a.transportError(ctx, r, err), sig)
	}
	return resp, req, sig, nil
}

// setHeader completes the headers of req, which newHTTPRequest gave a copy
// of the builder's: the default User-Agent unless they set one, and for a
// signed request, which carries its URL's own host (checkHostHeader refused
// any other), no Host header, req.Host left empty so that net/http uses the
// URL's. headersBefore reads these headers off the builder's.
func setHeader(req *http.Request, signed bool) {
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = userAgentValue
	}
	if signed {
		req.Header.Del("Host")
	}
}

// newHTTPRequest is http.NewRequestWithContext(ctx, method,
// target.String(), body) without rendering target and parsing it again,
// and with header as its header when it is not nil: the request gets its
// own copy of target (a Signer may add query parameters to it), whose host
// loses an empty port (":") as NewRequest's does. A request without a body
// is built as NewRequest builds it, without parsing even an empty URL
// (NewRequest's own URL, then replaced, cost a parse and a header map it
// then replaced); one with a body is left to NewRequest, which sets it up
// to be sent again on a redirect.
func newHTTPRequest(ctx context.Context, method string, target *url.URL, body []byte, header http.Header) (*http.Request, error) {
	if body == nil && ctx != nil && validToken(method) { // validToken is NewRequest's check of a method
		if header == nil {
			header = make(http.Header)
		}
		u := new(url.URL)
		*u = *target
		u.Host = removeEmptyPort(u.Host)
		r := http.Request{Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: header, Host: u.Host}
		return r.WithContext(ctx), nil
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "", rd) // an empty URL parses without work
	if err != nil {
		return nil, err
	}
	*req.URL = *target
	req.URL.Host = removeEmptyPort(req.URL.Host)
	req.Host = req.URL.Host
	if header != nil {
		req.Header = header
	}
	return req, nil
}

// removeEmptyPort drops the ":" of a host that ends in one, as net/http
// does when it builds a request.
func removeEmptyPort(host string) string {
	if strings.LastIndex(host, ":") > strings.LastIndex(host, "]") {
		return strings.TrimSuffix(host, ":")
	}
	return host
}

// readBody reads the whole body, head (what rejects read of it) first,
// failing with BODY_TOO_LARGE beyond the limit. With a Content-Length it
// reads into one buffer of that size (plus a byte to see the end), so a
// body costs one allocation and no copy; without one the buffer doubles.
func (a *api) readBody(ctx context.Context, r *request, resp *http.Response, head []byte) ([]byte, error) {
	if resp.ContentLength > a.maxBytes {
		return nil, a.tooLarge(r, resp.ContentLength)
	}
	b, err := readBodyLimited(resp.Body, head, resp.ContentLength, a.maxBytes)
	switch {
	case errors.Is(err, errBodyOverLimit):
		return nil, a.tooLarge(r, -1)
	case err != nil:
		return nil, a.transportError(ctx, r, fmt.Errorf("reading the response body: %w", err))
	}
	return b, nil
}

// tooLarge reports a body over the limit; size is its Content-Length, or -1
// when it was found out while reading.
func (a *api) tooLarge(r *request, size int64) error {
	body := "the response body"
	if size > 0 {
		body = fmt.Sprintf("the response body (%d bytes, per Content-Length)", size)
	}
	return errorf(CodeBodyTooLarge, "%s: %s is larger than the limit of %s (%d bytes); ask the API for less data (paging, $top, fields) or raise the limit",
		r.where(), body, byteSize(a.maxBytes), a.maxBytes)
}

// byteSize renders n bytes for people: 32 MiB, 1.5 KiB, 100 bytes.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	s := fmt.Sprintf("%.1f", f)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + []string{"KiB", "MiB", "GiB", "TiB"}[i]
}

func statusText(resp *http.Response) string {
	// resp.Status is "200 OK"; keep the server's wording when it has one.
	if s := resp.Status; len(s) > 4 && s[3] == ' ' && statusCode(s[:3]) == resp.StatusCode {
		return s[4:]
	}
	return http.StatusText(resp.StatusCode)
}

// statusCode reads the three digits of a status line's code, or -1.
func statusCode(d string) int {
	n := 0
	for i := range 3 {
		if d[i] < '0' || d[i] > '9' {
			return -1
		}
		n = n*10 + int(d[i]-'0')
	}
	return n
}

// drain reads a little of an unwanted body so the connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// signerError turns an error of the Signer into an error for JavaScript,
// keeping the Signer's code when it has one.
func (a *api) signerError(ctx context.Context, r *request, err error) error {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) && coded.ErrorCode() != "" {
		return errorf(coded.ErrorCode(), "%s: apiTokenAuth(%q): %v", r.where(), r.token, err)
	}
	if ctx.Err() != nil {
		return a.transportError(ctx, r, err)
	}
	return errorf(CodeSignFailed, "%s: apiTokenAuth(%q): %v", r.where(), r.token, err)
}

// transportError classifies a failure to send a request or read its response.
// Messages never include the URL's query, since net/http's own errors would.
func (a *api) transportError(ctx context.Context, r *request, err error) error {
	where := r.where()
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		var rt *requestTimeout
		switch {
		case errors.As(cause, &rt):
			return errorf(CodeTimeout, "%s: no complete response within %s (the request's .timeout(%d)); raise it or ask for less data", where, rt.d, rt.d.Milliseconds())
		case errors.Is(cause, context.DeadlineExceeded):
			return errorf(CodeTimeout, "%s: the script ran out of time before the response was complete (%v)", where, cause)
		default:
			return errorf(CodeCancelled, "%s: cancelled before the response was complete (%v)", where, cause)
		}
	}
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	var ne net.Error
	if errors.As(inner, &ne) && ne.Timeout() {
		return errorf(CodeTimeout, "%s: timed out: %v", where, inner)
	}
	return errorf(CodeNetwork, "%s: %s", where, networkProblem(inner))
}

// networkProblem describes a transport error in words.
func networkProblem(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var tlsRecord tls.RecordHeaderError
	switch {
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot resolve host %q (%v); check the URL's host name", dns.Name, err)
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid):
		return fmt.Sprintf("the server's TLS certificate is not trusted: %v", err)
	case errors.As(err, &tlsRecord):
		return fmt.Sprintf("TLS handshake failed (is this an http:// server?): %v", err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused: %v; is the server running and is the port right?", err)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("the connection was closed by the server: %v", err)
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Sprintf("cannot connect: %v", err)
	}
	return err.Error()
}

// guardRedirects returns a client that follows the redirects of a signed
// request without letting the credential escape:
//
//   - Referer is removed on every redirect: net/http copies the previous URL
//     into it, and that URL's query may hold an api-key parameter;
//   - when a redirect leaves the signed request's origin, or the Signer does
//     not permit the new URL (a token bound to a path), the headers and
//     query parameters the Signer added are removed. (net/http drops
//     Authorization for other domains, but not for subdomains, nor other
//     headers a Signer may set.)
//
// The client depends only on the token, the origin and the names of what
// the Signer added, so one is built for each such combination and reused
// by the requests that share it (a copy of the client per request was two
// allocations).
func (a *api) guardRedirects(origin *url.URL, token string, sig signature) *http.Client {
	guards := a.guards.Load()
	if guards != nil {
		for _, g := range *guards {
			if g.token == token && g.origin.Host == origin.Host && g.origin.Scheme == origin.Scheme &&
				slices.Equal(g.sig.headers, sig.headers) && slices.Equal(g.sig.params, sig.params) {
				return g.client
			}
		}
	}
	g := a.newGuard(origin, token, sig)
	for {
		var kept []*guard
		if guards != nil && len(*guards) < maxGuards {
			kept = *guards
		}
		next := append(slices.Clip(kept), g)
		if a.guards.CompareAndSwap(guards, &next) {
			return g.client
		}
		guards = a.guards.Load()
	}
}

// guard is a client guardRedirects built, with what it was built for.
type guard struct {
	token  string
	origin url.URL   // the signed requests' scheme and host
	sig    signature // the names of what the Signer added, without their values
	client *http.Client
}

// maxGuards bounds the clients guardRedirects keeps; past it they are
// built again as requests need them.
const maxGuards = 16

// newGuard builds the client for guardRedirects. It holds the names of the
// headers and parameters the Signer added but not their values, which live
// only as long as a request.
func (a *api) newGuard(origin *url.URL, token string, sig signature) *guard {
	g := &guard{
		token:  token,
		origin: url.URL{Scheme: origin.Scheme, Host: origin.Host},
		sig:    signature{headers: slices.Clone(sig.headers), params: slices.Clone(sig.params)},
	}
	c := *a.client
	next := a.client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		req.Header.Del("Referer")
		if !weborigin.Same(req.URL, &g.origin) || !a.signer.Permits(g.token, req.URL) {
			for _, k := range g.sig.headers {
				req.Header.Del(k)
			}
			req.URL.RawQuery = g.sig.dropParams(req.URL.RawQuery)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	g.client = &c
	return g
}
