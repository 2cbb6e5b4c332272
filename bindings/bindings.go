package bindings

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

// Signer attaches a stored credential to outbound requests. It is implemented by
// the token manager; bindings never talk to a token endpoint themselves.
// A Signer must be safe for concurrent use: sendAsync and fetch call it from
// their own goroutines.
//
// Errors may implement interface{ ErrorCode() string }; the code (for example
// REAUTH_REQUIRED) becomes the code property of the error thrown into JavaScript.
// Messages must not contain secrets: they are shown to scripts and written to logs.
type Signer interface {
	// Sign sets the credential of the named token on req (e.g. the Authorization
	// header), refreshing it first when needed.
	Sign(ctx context.Context, token string, req *http.Request) error
	// Rejects reports whether an API's answer to a request Sign signed with
	// the named token means that the API refused the credential (an OAuth2
	// access token expired or revoked): then bindings call Rejected, sign
	// again and retry once. Bindings ask first with the status alone (body
	// nil). When the answer depends on the body, Rejects returns peek > 0:
	// bindings then read at most peek bytes of the body (no more than
	// MaxRejectionPeek) and ask once more with them, and the script still
	// gets the whole body. It is asked for every signed response, so for
	// answers decided by the status it must be cheap and not allocate; it
	// must not wait on the network.
	Rejects(token string, status int, body []byte) (rejected bool, peek int)
	// Rejected reports that the API refused req, which Sign signed (Rejects
	// said so); it refreshes the token unless another caller already has. The
	// caller then signs again and retries once.
	Rejected(ctx context.Context, token string, req *http.Request) error
	// Permits reports whether the named token's credential may be sent to u
	// (for example, whether u is inside the token's base URL). Sign refuses
	// other URLs itself; bindings ask Permits on each redirect of a signed
	// request and remove what Sign added when the answer is no. It must not
	// wait on the network.
	Permits(token string, u *url.URL) bool
}

// Host is what bindings need from the runtime that runs the script.
type Host interface {
	// Context is cancelled when the script times out or is cancelled. Every HTTP
	// request is made with it (plus the request's own timeout), so stopping the
	// script aborts calls in flight. Its cause tells why: a cause that
	// errors.Is context.DeadlineExceeded is reported to the script as TIMEOUT,
	// anything else as CANCELLED.
	Context() context.Context
	// Enqueue registers pending asynchronous work, like k6's RegisterCallback.
	// It is called on the event-loop goroutine and returns a function that must
	// be called exactly once, from any goroutine, with a callback to run on the
	// event-loop goroutine. The script run does not end until it has been called.
	// The callback returns the uncatchable error (such as an interrupt or a stack
	// overflow) that settling a promise may produce; the host treats it like an
	// uncaught error.
	Enqueue() func(callback func() error)
}

// Options configures Enable.
type Options struct {
	// Signer signs requests that use apiTokenAuth. When nil, apiTokenAuth fails
	// with TOKEN_NOT_FOUND.
	Signer Signer
	// Client sends the requests; nil means http.DefaultClient.
	Client *http.Client
	// MaxResponseBytes limits the size of a response body (after decompression);
	// larger bodies fail with BODY_TOO_LARGE. Zero or negative means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Signal returns the AbortSignal a value is, for fetch's init.signal and
	// the builders' .signal(s); when nil, both are refused.
	Signal func(goja.Value) (Signal, bool)
	// Now and Sleep are the clock of .retry: Now reads it (Retry-After
	// dates, the deadline check) and Sleep waits between attempts, returning
	// early with ctx's error when ctx is done. nil means the real clock;
	// tests pass fakes so they need not wait.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultMaxResponseBytes is the response size limit used when
// Options.MaxResponseBytes is not set: 32 MiB.
const DefaultMaxResponseBytes int64 = 32 << 20

// MaxRejectionPeek caps the bytes of a response body bindings read to ask
// Signer.Rejects, whatever peek it asks for: 64 KiB.
const MaxRejectionPeek = 64 << 10

// Codes of the errors thrown into JavaScript (the code property of the Error).
// Signer errors keep their own codes (TOKEN_NOT_FOUND, TOKEN_INACTIVE,
// TOKEN_UNAUTHORIZED, REAUTH_REQUIRED, TOKEN_HOST_MISMATCH, REFRESH_FAILED).
const (
	// CodeTimeout: the request's .timeout(ms), the script's time limit or the
	// context's deadline elapsed before the response was complete.
	CodeTimeout = "TIMEOUT"
	// CodeCancelled: the script was cancelled (for example Ctrl-C in the REPL)
	// while the request was in flight.
	CodeCancelled = "CANCELLED"
	// CodeHostMismatch: a signed request sets a Host header that is not its
	// URL's host; nothing was sent.
	CodeHostMismatch = "HOST_MISMATCH"
	// CodeNetwork: the request could not be completed (DNS, connect, TLS, reset).
	CodeNetwork = "NETWORK"
	// CodeBadJSON: res.json() on a body that is not valid JSON.
	CodeBadJSON = "BAD_JSON"
	// CodeBadRequest: the script passed an invalid argument.
	CodeBadRequest = "BAD_REQUEST"
	// CodeBodyTooLarge: the response body is larger than MaxResponseBytes.
	CodeBodyTooLarge = "BODY_TOO_LARGE"
	// CodeTokenNotFound: apiTokenAuth was used but no Signer is configured (the
	// Signer itself also uses this code for unknown tokens).
	CodeTokenNotFound = "TOKEN_NOT_FOUND"
	// CodeSignFailed: the Signer failed with an error that carries no code.
	CodeSignFailed = "SIGN_FAILED"
	// CodeInternal: a bug in scriptrun (a recovered panic); please report it.
	CodeInternal = "INTERNAL"
)

// api is the per-runtime state behind the http and fetch globals. Every field
// is set once in Enable; only the methods that run on the event loop touch vm.
type api struct {
	vm       *goja.Runtime
	host     Host
	signer   Signer
	client   *http.Client
	maxBytes int64
	signals  func(goja.Value) (Signal, bool)
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	senders  *senderPool // runs sendAsync's and fetch's requests

	errorCtor     *goja.Object
	jsonObj       *goja.Object
	jsonParse     goja.Callable
	jsonStringify goja.Callable

	// Prototypes are built on first use: creating a native function costs
	// goja a symbol lookup, and most scripts use only part of the API.
	requestProto       *goja.Object
	responseProto      *goja.Object
	fetchResponseProto *goja.Object
	headersCtor        *goja.Object
	headersProto       *goja.Object
	restResponseProto  *goja.Object // sn_ws RESTResponseV2 (servicenow.go)
	requestCtor        *goja.Object
	responseCtor       *goja.Object

	// URLs parseURL parsed, by the text they were parsed from (request.go).
	urls map[string]*url.URL
	// The builder newRequest made last, and its request (thisRequest).
	lastBuilder *goja.Object
	lastRequest *request

	// Builders given a token and not sent yet, in the order they got it (unsent.go).
	unsent []unsentBuilder
	// Clients that guard the redirects of signed requests (send.go).
	guards atomic.Pointer[[]*guard]
	// Stacks recorded by sendAsync and fetch for a rejection's message,
	// given back once their promise is settled (request.go).
	freeFrames [][]goja.StackFrame
}

// Enable installs the globals http, fetch, Headers and sn_ws into vm. Requests are
// sent with opts.Client, signed by opts.Signer when a script calls
// apiTokenAuth(name), and made with host.Context() so that stopping the script
// aborts them. Enable must be called on the goroutine that owns vm. The host
// asks the result, at the end of a run, for requests built but never sent.
func Enable(vm *goja.Runtime, host Host, opts Options) *Installed {
	a := &api{
		vm:       vm,
		host:     host,
		signer:   opts.Signer,
		client:   opts.Client,
		maxBytes: opts.MaxResponseBytes,
		signals:  opts.Signal,
		now:      opts.Now,
		sleep:    opts.Sleep,
		senders:  senders.Get(),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.sleep == nil {
		a.sleep = sleepCtx
	}
	if a.client == nil {
		a.client = http.DefaultClient
	}
	if a.maxBytes <= 0 {
		a.maxBytes = DefaultMaxResponseBytes
	}
	// Keep the built-ins we rely on, so a script replacing JSON.parse or Error
	// cannot change how bindings behave.
	a.errorCtor, _ = vm.Get("Error").(*goja.Object)
	a.jsonObj, _ = vm.Get("JSON").(*goja.Object)
	a.jsonParse, _ = goja.AssertFunction(a.jsonObj.Get("parse"))
	a.jsonStringify, _ = goja.AssertFunction(a.jsonObj.Get("stringify"))

	httpObj := vm.NewObject()
	for _, m := range []string{"get", "post", "put", "patch", "delete", "head"} {
		method := httpMethod(m)
		what := "http." + m + "(url)"
		_ = httpObj.Set(m, a.fn(m, func(call goja.FunctionCall) goja.Value {
			return a.newRequest(method, call.Argument(0), what)
		}))
	}
	_ = httpObj.Set("request", a.fn("request", a.httpRequest))
	g := vm.GlobalObject()
	_ = g.Set("http", httpObj)
	_ = g.Set("fetch", a.fn("fetch", a.fetch))
	js.LazyGlobal(vm, "Headers", func() goja.Value { return a.headers() })
	js.LazyGlobal(vm, "Request", func() goja.Value { return a.requestConstructor() })
	js.LazyGlobal(vm, "Response", func() goja.Value { return a.responseConstructor() })
	js.LazyGlobal(vm, "sn_ws", a.serviceNow)
	return &Installed{a: a}
}

// fn wraps f as a JavaScript function with a readable name (vm.ToValue would
// name it after the Go symbol).
func (a *api) fn(name string, f func(goja.FunctionCall) goja.Value) *goja.Object {
	o := a.vm.ToValue(f).(*goja.Object)
	_ = o.DefineDataProperty("name", a.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return o
}

// codedError is an error destined for JavaScript, where it becomes an Error
// whose code property is code.
type codedError struct {
	code string
	msg  string
}

// Error returns the code and the message.
func (e *codedError) Error() string { return e.code + ": " + e.msg }

// ErrorCode returns the code the error carries into JavaScript.
func (e *codedError) ErrorCode() string { return e.code }

func errorf(code, format string, args ...any) *codedError {
	return &codedError{code: code, msg: fmt.Sprintf(format, args...)}
}

// newError creates a JavaScript Error with a code property.
func (a *api) newError(code, msg string) *goja.Object {
	o, err := a.vm.New(a.errorCtor, a.vm.ToValue(msg))
	if err != nil {
		// Only possible if Error is not a constructor, which Enable rules out.
		o = a.vm.NewGoError(errors.New(msg))
	}
	_ = o.Set("code", code)
	return o
}

// toJS converts a Go error into the JavaScript Error thrown or rejected with.
func (a *api) toJS(err error) *goja.Object {
	var ce *codedError
	if errors.As(err, &ce) {
		return a.newError(ce.code, ce.msg)
	}
	return a.newError(CodeInternal, err.Error())
}

// throw raises err in JavaScript. Native functions signal exceptions by
// panicking with a goja value; goja turns that into a catchable exception.
func (a *api) throw(err error) {
	panic(a.toJS(err))
}

// badRequest throws a BAD_REQUEST error.
func (a *api) badRequest(format string, args ...any) {
	a.throw(errorf(CodeBadRequest, format, args...))
}
