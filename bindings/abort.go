package bindings

import (
	"context"
	"errors"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/js"
)

// Signal is an AbortSignal as bindings need it to cancel a request; package
// webapi's *Signal is one.
type Signal interface {
	// Done is closed once the signal has aborted; it may be read from any
	// goroutine.
	Done() <-chan struct{}
	// Reason is the abort reason, or nil while the signal has not aborted.
	// It is called on the event loop only.
	Reason() goja.Value
}

// errAborted is the cancellation cause of a request whose AbortSignal
// aborted; the script sees the signal's reason instead.
var errAborted = errors.New("aborted by its AbortSignal")

// signalArg converts the value given as fetch's init.signal or to
// .signal(s); null and undefined mean none.
func (a *api) signalArg(v goja.Value, what string) Signal {
	if isNullish(v) {
		return nil
	}
	if a.signals == nil {
		a.badRequest("%s: AbortSignal is not available here; use a timeout (milliseconds) to limit the time a request may take", what)
	}
	s, ok := a.signals(v)
	if !ok {
		a.badRequest("%s must be an AbortSignal (new AbortController().signal, AbortSignal.timeout(ms)), got %s", what, js.TypeOf(v))
	}
	return s
}

// withSignal returns ctx, cancelled with errAborted when s aborts, and a
// function that releases what watches s; it must be called.
func withSignal(ctx context.Context, s Signal) (context.Context, func()) {
	if s == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	go func() {
		select {
		case <-s.Done():
			cancel(errAborted)
		case <-stop:
		}
	}()
	return ctx, func() {
		close(stop)
		cancel(nil)
	}
}

// abortReason returns what a failed request with signal s must throw or
// reject with: the signal's reason once it has aborted, as fetch does, or
// nil to report err itself. Call it on the event loop.
func abortReason(s Signal) goja.Value {
	if s == nil {
		return nil
	}
	return s.Reason()
}
