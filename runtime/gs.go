package runtime

import (
	"io"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// newGlideSystem creates the gs object of ServiceNow-style scripts: info and
// debug write a line to stdout, warn and error to stderr, like console's
// methods of the same names, so they reach the run's log (a terminal, the
// REPL or a cron run's record).
//
// As GlideSystem does, the first argument is the message and the others
// fill its {0}, {1}, … placeholders; arguments no placeholder names are not
// printed, and a placeholder without an argument stays as it is.
func (e *env) newGlideSystem() goja.Value {
	gs := e.vm.NewObject()
	write := func(name string, w io.Writer) {
		_ = gs.Set(name, e.fn(name, func(call goja.FunctionCall) goja.Value {
			_, _ = io.WriteString(w, e.glideMessage(call.Arguments)+"\n")
			return goja.Undefined()
		}))
	}
	write("info", e.stdout)
	write("debug", e.stdout)
	write("warn", e.stderr)
	write("error", e.stderr)
	return gs
}

// glideMessage formats gs.info(message, p0, p1, …).
func (e *env) glideMessage(args []goja.Value) string {
	if len(args) == 0 {
		return ""
	}
	msg := e.format.value(args[0], true)
	params := args[1:]
	if len(params) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(msg, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(msg[i:], '}')
		if j < 0 {
			break
		}
		n, err := strconv.Atoi(msg[i+1 : i+j])
		b.WriteString(msg[:i])
		if err != nil || n < 0 || n >= len(params) || msg[i+1] == '+' {
			b.WriteString(msg[i : i+j+1])
		} else {
			b.WriteString(e.format.value(params[n], true))
		}
		msg = msg[i+j+1:]
	}
	b.WriteString(msg)
	return b.String()
}
