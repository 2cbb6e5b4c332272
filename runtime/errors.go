package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// ScriptError is an error the script did not catch: an exception, an
// unhandled promise rejection, or a stack overflow.
type ScriptError struct {
	// Code is the error's code property (for example REAUTH_REQUIRED), if any.
	Code string
	// Message is what went wrong: "TypeError: x is not a function", or
	// "REAUTH_REQUIRED: …" for errors with a code. Unhandled rejections start
	// with "Uncaught (in promise)".
	Message string
	// Stack is the JavaScript stack, one "    at fn (file.js:3:7)" line per frame.
	Stack string
}

// Error returns the message followed by the stack.
func (e *ScriptError) Error() string {
	if e.Stack == "" {
		return e.Message
	}
	return e.Message + "\n" + e.Stack
}

// TimeoutError reports that a script hit its time limit (Options.Timeout) or
// the deadline of its context. errors.Is(err, context.DeadlineExceeded) holds.
type TimeoutError struct {
	// Timeout is the limit that elapsed; 0 when it was the context's deadline.
	Timeout time.Duration
	// Location is file:line:column of the JavaScript that was running when the
	// script was stopped, if it was running JavaScript at the time.
	Location string
}

// Error says which limit elapsed and where the script was.
func (e *TimeoutError) Error() string {
	msg := "script timed out (context deadline exceeded)"
	if e.Timeout > 0 {
		msg = fmt.Sprintf("script timed out after %s", e.Timeout)
	}
	if e.Location != "" {
		msg += " at " + e.Location
	}
	return msg
}

// Is makes errors.Is(err, context.DeadlineExceeded) true.
func (e *TimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// stopError is the reason a run was stopped from outside: a *TimeoutError or
// a cancellation of the context.
func stopError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{}
	}
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return fmt.Errorf("script cancelled: %w (%w)", ctx.Err(), cause)
	}
	return fmt.Errorf("script cancelled: %w", ctx.Err())
}

// maxFrames caps stack traces (a stack overflow has thousands of frames).
const maxFrames = 12

// pcSuffix matches goja's instruction counter after a position: "x.js:3:7(12)".
var pcSuffix = lazy.Regexp{Expr: `(:\d+:\d+)\(\d+\)`}

// cleanStack rewrites goja's stack property ("Error: x\n\tat f (x.js:2:9(3))")
// in Node's style ("Error: x\n    at f (x.js:2:9)").
func cleanStack(stack string) string {
	if stack == "" {
		return ""
	}
	header, frames := splitStack(stack)
	if frames == "" {
		return header
	}
	return header + "\n" + frames
}

// splitStack separates a stack property into its header (the error's
// message, possibly several lines) and its cleaned, capped frames.
func splitStack(stack string) (header, frames string) {
	lines := strings.Split(strings.TrimRight(stack, "\n"), "\n")
	var head, at []string
	for _, l := range lines {
		if t := strings.TrimLeft(l, " \t"); strings.HasPrefix(t, "at ") && len(head) > 0 {
			at = append(at, "    "+pcSuffix.Get().ReplaceAllString(t, "$1"))
		} else if len(at) == 0 {
			head = append(head, l)
		}
	}
	if len(at) > maxFrames {
		at = append(at[:maxFrames], fmt.Sprintf("    ... %d more", len(at)-maxFrames))
	}
	return strings.Join(head, "\n"), strings.Join(at, "\n")
}

// formatFrames renders frames in Node's style, capped at maxFrames.
func formatFrames(frames []goja.StackFrame) string {
	var b strings.Builder
	for i, f := range frames {
		if i == maxFrames {
			fmt.Fprintf(&b, "\n    ... %d more", len(frames)-maxFrames)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("    at ")
		loc := frameLocation(f)
		if name := f.FuncName(); name != "" && name != "<anonymous>" {
			b.WriteString(name + " (" + loc + ")")
		} else {
			b.WriteString(loc)
		}
	}
	return b.String()
}

func frameLocation(f goja.StackFrame) string {
	p := f.Position()
	if p.Filename == "" && p.Line == 0 {
		if f.SrcName() == "" {
			return "native"
		}
		return f.SrcName()
	}
	return p.Filename + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
}

// firstLocation is the position of the innermost JavaScript frame.
func firstLocation(frames []goja.StackFrame) string {
	for _, f := range frames {
		if p := f.Position(); p.Line > 0 {
			return frameLocation(f)
		}
	}
	return ""
}

// scriptError describes an uncaught value. frames is the stack of the throw,
// when known; Error objects carry their own.
func (e *env) scriptError(v goja.Value, frames []goja.StackFrame) *ScriptError {
	se := &ScriptError{}
	if o, ok := v.(*goja.Object); ok && o.ClassName() == "Error" {
		header, stack := splitStack(safeGet(e.vm, o, "stack"))
		name, msg := safeGet(e.vm, o, "name"), safeGet(e.vm, o, "message")
		se.Code = safeGet(e.vm, o, "code")
		switch {
		case se.Code != "":
			se.Message = se.Code + ": " + msg
		case name == "" && msg == "":
			se.Message = header
		case name == "":
			se.Message = msg
		case msg == "":
			se.Message = name
		default:
			se.Message = name + ": " + msg
		}
		se.Stack = stack
		if se.Stack == "" && len(frames) > 0 {
			se.Stack = formatFrames(frames)
		}
		return se
	}
	se.Message = "Uncaught " + e.format.value(v, false)
	se.Stack = formatFrames(frames)
	return se
}

// toError converts an error returned by goja into the error a run reports.
func (e *env) toError(err error) error {
	var ie *goja.InterruptedError
	var so *goja.StackOverflowError
	var ex *goja.Exception
	switch {
	case errors.As(err, &ie):
		e.interruptedAt = firstLocation(ie.Stack())
		if r := e.stopReason(); r != nil {
			return r
		}
		return fmt.Errorf("runtime: script interrupted: %v", ie.Value())
	case errors.As(err, &so):
		return &ScriptError{Message: "RangeError: Maximum call stack size exceeded", Stack: formatFrames(so.Stack())}
	case errors.As(err, &ex):
		return e.scriptError(ex.Value(), ex.Stack())
	}
	return err
}
