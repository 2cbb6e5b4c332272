package bindings

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

// Retry limits, as documented in doc.go.
const (
	// retryBase is the first back-off ceiling; it doubles with each retry.
	retryBase = 200 * time.Millisecond
	// retryCap bounds the back-off ceiling.
	retryCap = 10 * time.Second
	// maxRetryAfter is the longest Retry-After bindings wait for: a server
	// asking for more is answered by returning its response to the script.
	maxRetryAfter = 60 * time.Second
	// maxRetries bounds max, so a script cannot hammer an API.
	maxRetries = 10
	// defaultRetries is max when the options do not give it.
	defaultRetries = 3
)

// defaultRetryOn are the statuses retried when the options do not say.
var defaultRetryOn = []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// retryPolicy is what .retry(options) or fetch's init.retry asked for. It is
// never changed once made, so clones of a request share it.
type retryPolicy struct {
	statuses []int // answers sent again
	network  bool  // whether a NETWORK failure is tried again
	max      int   // retries after the first attempt (0..maxRetries)
}

// errRetry tells retrying that exchange dropped an answer to send the
// request again.
var errRetry = errors.New("bindings: answer dropped, to be retried")

// retryArg converts the argument of .retry(options) or fetch's init.retry:
// undefined or true mean the defaults, null or false none, an object its
// options. what names the argument in messages.
func (a *api) retryArg(v goja.Value, what string) *retryPolicy {
	switch {
	case v == nil || goja.IsUndefined(v):
		return a.retryOptions(nil, what)
	case goja.IsNull(v):
		return nil
	case isBoolean(v):
		if v.ToBoolean() {
			return a.retryOptions(nil, what)
		}
		return nil
	case isPlainObject(v):
		return a.retryOptions(v.(*goja.Object), what)
	}
	a.badRequest("%s must be an object such as {on: [429, 503], max: 3}, true for the defaults or null for none, got %s", what, describe(v))
	return nil
}

// retryOptions validates {on, max}; o nil means the defaults.
func (a *api) retryOptions(o *goja.Object, what string) *retryPolicy {
	p := &retryPolicy{statuses: defaultRetryOn, max: defaultRetries}
	if o == nil {
		return p
	}
	for _, k := range o.Keys() {
		if k != "on" && k != "max" {
			a.badRequest("%s: unknown option %s; the options are on (statuses to retry, and 'network') and max (retries, 0 to %d)", what, quoteShort(k), maxRetries)
		}
	}
	if v := o.Get("on"); !isNullish(v) {
		p.statuses, p.network = a.retryOn(v, what+".on")
	}
	if v := o.Get("max"); !isNullish(v) {
		f := v.ToFloat()
		if !goja.IsNumber(v) || f != float64(int64(f)) || f < 0 || f > maxRetries {
			a.badRequest("%s.max must be a whole number of retries from 0 to %d, got %s", what, maxRetries, describe(v))
		}
		p.max = int(f)
	}
	return p
}

// retryOn validates the on option: an array of HTTP statuses from 400 to
// 599 and, optionally, the word 'network'.
func (a *api) retryOn(v goja.Value, what string) (statuses []int, network bool) {
	if !isArray(v) {
		a.badRequest("%s must be an array such as [429, 503, 'network'], got %s", what, js.TypeOf(v))
	}
	arr := v.(*goja.Object)
	n := arrayLen(arr)
	if n == 0 {
		a.badRequest("%s is empty, so nothing would be retried; list statuses such as [429, 503], or leave on out for %v", what, defaultRetryOn)
	}
	for i := range n {
		el := arr.Get(strconv.Itoa(i))
		if goja.IsString(el) && el.String() == "network" {
			network = true
			continue
		}
		f := el.ToFloat()
		if !goja.IsNumber(el) || f != float64(int(f)) || f < 400 || f > 599 {
			a.badRequest("%s: element %d must be an HTTP status from 400 to 599 or 'network', got %s", what, i, describe(el))
		}
		if !slices.Contains(statuses, int(f)) {
			statuses = append(statuses, int(f))
		}
	}
	return statuses, network
}

// isBoolean reports whether v is a boolean primitive.
func isBoolean(v goja.Value) bool {
	_, ok := v.Export().(bool)
	return ok && !isObject(v)
}

// reqRetry implements .retry(options).
func (a *api) reqRetry(r *request, call goja.FunctionCall) {
	r.retry = a.retryArg(call.Argument(0), ".retry(options): options")
}

// retrier carries one call's retries: how many attempts were made and the
// wait before the next.
type retrier struct {
	p     *retryPolicy
	now   func() time.Time
	tries int           // attempts made so far
	wait  time.Duration // before the next attempt, once again said so
	// rejected is set once a refused credential was refreshed and the
	// request resent (exchange): that happens once per call, not once per
	// attempt.
	rejected bool
}

// again reports whether an answer with status and header is to be sent
// again, and sets the wait: the server's Retry-After (seconds or a date)
// when it gives one, else exponential back-off with full jitter. It says no
// when the retries are spent, when Retry-After asks for more than
// maxRetryAfter, or when the wait would end past ctx's deadline (the
// request's timeout or the run's).
func (t *retrier) again(ctx context.Context, status int, h http.Header) bool {
	if t == nil || t.tries > t.p.max || !slices.Contains(t.p.statuses, status) {
		return false
	}
	wait, ok := retryAfter(h.Get("Retry-After"), t.now())
	if !ok {
		wait = t.backoff()
	}
	return wait <= maxRetryAfter && t.fits(ctx, wait)
}

// againAfterError reports whether a failed attempt is to be made again: a
// NETWORK failure, when the policy lists 'network'.
func (t *retrier) againAfterError(ctx context.Context, err error) bool {
	var ce *codedError
	if t == nil || !t.p.network || t.tries > t.p.max || ctx.Err() != nil || !errors.As(err, &ce) || ce.code != CodeNetwork {
		return false
	}
	return t.fits(ctx, t.backoff())
}

// backoff picks a wait in [0, min(retryCap, retryBase·2^(tries-1))]
// ("full jitter"), so clients that failed together do not return together.
func (t *retrier) backoff() time.Duration {
	ceiling := retryCap
	if t.tries <= 6 { // 200 ms · 2^6 > 10 s
		ceiling = min(retryCap, retryBase<<(t.tries-1))
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// fits records wait when the next attempt can start before ctx's deadline.
func (t *retrier) fits(ctx context.Context, wait time.Duration) bool {
	if deadline, ok := ctx.Deadline(); ok && !t.now().Add(wait).Before(deadline) {
		return false
	}
	t.wait = wait
	return true
}

// retryAfter parses a Retry-After header: delta-seconds or an HTTP-date.
// A date in the past means no wait.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter + time.Second, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// sleepCtx waits d, or until ctx is done (the request's timeout, the run's
// end, an AbortSignal), and then returns ctx's error.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retrying sends r until an answer is not to be retried, the retries are
// spent or the next wait would cross the deadline; the last answer is then
// the script's, with the number of attempts made.
func (a *api) retrying(ctx context.Context, r *request, target *url.URL) (*result, error) {
	t := &retrier{p: r.retry, now: a.now}
	for {
		t.tries++
		res, err := a.exchange(ctx, r, target, t)
		if errors.Is(err, errRetry) || (err != nil && t.againAfterError(ctx, err)) {
			if err := a.sleep(ctx, t.wait); err != nil {
				return nil, a.transportError(ctx, r, err)
			}
			continue
		}
		if res != nil {
			res.attempts = t.tries
		}
		return res, err
	}
}
