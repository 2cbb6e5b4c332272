package repl

import (
	"bytes"
	"io"
	"reflect"
	"sync"
	"testing"
)

// closeBuffer is what liner would read: a buffer that knows it was closed.
type closeBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	closed chan struct{}
}

func (c *closeBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.Write(p)
}

func (c *closeBuffer) Close() error { close(c.closed); return nil }

// filter runs a keyFilter over the chunks, as the terminal would send them,
// and returns what liner would read and the line ends recorded.
func filter(t *testing.T, editor bool, chunks ...string) (string, []lineEnd) {
	t.Helper()
	pr, pw := io.Pipe()
	out := &closeBuffer{closed: make(chan struct{})}
	f := &keyFilter{in: pr, out: out}
	f.finishOnCtrlD.Store(editor)
	go f.run()
	for _, c := range chunks {
		pw.Write([]byte(c))
	}
	pw.Close()
	<-out.closed
	return out.b.String(), f.ends
}

func TestKeyFilter(t *testing.T) {
	readme := "const res = http.get(u)\r  .apiTokenAuth('graph-mail')\r  .query({ $top: 10 })\r  .send();\rconsole.log(res.status)\r"
	tests := []struct {
		name   string
		editor bool
		chunks []string
		liner  string
		ends   []lineEnd
	}{
		{"typing passes through", false, []string{"1 + 1\r", "\x1b[A\t"}, "1 + 1\r\x1b[A\t", []lineEnd{{kind: endEnter}}},
		{"Ctrl-C returns the line", false, []string{"abc\x03"}, "abc\r", []lineEnd{{kind: endInterrupt}}},
		{"Ctrl-D is liner's outside the editor", false, []string{"ab\x04"}, "ab\x04", nil},
		{"Ctrl-D ends the editor's input", true, []string{"ab\x04"}, "ab\r", []lineEnd{{kind: endFinish}}},
		{"a paste without a line break is typed", false, []string{"x = \x1b[200~f(1,\t2)\x1b[201~;\r"}, "x = f(1, 2);\r", []lineEnd{{kind: endEnter}}},
		{"a multi-line paste is one block", false, []string{"\x1b[200~" + readme + "\x1b[201~"},
			"const res = http.get(u)\r",
			[]lineEnd{{kind: endPaste, first: "const res = http.get(u)", lines: []string{"  .apiTokenAuth('graph-mail')", "  .query({ $top: 10 })", "  .send();", "console.log(res.status)"}}}},
		{"markers split across reads", false, []string{"\x1b[2", "00~a\r\nb", "\x1b[20", "1~c\r"},
			"a\rbc\r", []lineEnd{{kind: endPaste, first: "a", lines: []string{}, tail: "b"}, {kind: endEnter}}},
		{"a lone Esc is passed on", false, []string{"\x1b"}, "\x1b", nil},
		{"an arrow key is not a paste", false, []string{"\x1b[", "A"}, "\x1b[A", nil},
		{"Ctrl-C inside a paste is text", false, []string{"\x1b[200~a\x03b\nc\n\x1b[201~"}, "a b\r", []lineEnd{{kind: endPaste, first: "a\x03b", lines: []string{"c"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ends := filter(t, tt.editor, tt.chunks...)
			if got != tt.liner {
				t.Errorf("liner reads %q, want %q", got, tt.liner)
			}
			if !reflect.DeepEqual(ends, tt.ends) {
				t.Errorf("line ends %+v, want %+v", ends, tt.ends)
			}
		})
	}
}

func TestJoinPaste(t *testing.T) {
	e := lineEnd{kind: endPaste, first: "f(\t1)", lines: []string{"  .x()", "g()"}}
	if got, want := joinPaste("y = f( 1)", e), "y = f(\t1)\n  .x()\ng()"; got != want {
		t.Errorf("joinPaste = %q, want %q (the typed start kept, the tab restored)", got, want)
	}
	// The line was edited in between (the cursor was not at the end): what
	// liner returned stands.
	if got, want := joinPaste("f( 1)zz", lineEnd{first: "f(\t1)"}), "f( 1)zz"; got != want {
		t.Errorf("joinPaste = %q, want %q", got, want)
	}
}
