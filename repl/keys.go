package repl

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bracketed paste (xterm's mode 2004): while it is on, the terminal sends a
// paste between pasteStart and pasteEnd, so that it can be told apart from
// typing.
const (
	pasteOn    = "\x1b[?2004h"
	pasteOff   = "\x1b[?2004l"
	pasteStart = "\x1b[200~"
	pasteEnd   = "\x1b[201~"
)

// escWait is how long keyFilter holds the start of an escape sequence that
// could begin pasteStart before passing it on as keys (liner waits as long
// for the rest of an escape sequence).
const escWait = 50 * time.Millisecond

// endKind says how the line editor was made to return a line.
type endKind int

const (
	endEnter     endKind = iota // Enter
	endInterrupt                // Ctrl-C: the line is to be dropped
	endFinish                   // Ctrl-D in the editor (.editor): the input is complete
	endPaste                    // a paste with a line break in it
)

// lineEnd describes one line break that keyFilter sent to the line editor.
type lineEnd struct {
	kind endKind
	// For endPaste: the paste's first line (the editor shows it after what
	// was typed before it), its further complete lines, and its last line
	// when the paste did not end with a line break (the editor gets it to
	// finish; the paste is evaluated at that line's Enter).
	first string
	lines []string
	tail  string
}

// keyFilter stands between the terminal and liner, which knows neither
// bracketed paste nor what the line held when Ctrl-C was pressed. It passes
// keys on unchanged except three, each of which it turns into a line break
// so that liner returns the line, recording why in a queue that the reader
// consults for each line liner returns:
//
//   - Ctrl-C (read while liner shows the prompt: the terminal does not turn
//     it into SIGINT then): the line is returned and then dropped, so that
//     the REPL knows whether it was empty.
//   - A paste: its first line is typed into the editor and the rest kept
//     aside, so that the block arrives as one input.
//   - Ctrl-D, only while finishOnCtrlD is set (.editor).
//
// Every line break keyFilter writes has exactly one entry in the queue,
// added before the line break is written, so the reader never waits for
// one.
type keyFilter struct {
	in  io.Reader      // the terminal
	out io.WriteCloser // what liner reads

	// finishOnCtrlD makes Ctrl-D end the input (the editor mode).
	finishOnCtrlD atomic.Bool

	mu   sync.Mutex // guards ends
	ends []lineEnd
}

// next returns why the oldest line break not yet accounted for was sent.
func (f *keyFilter) next() lineEnd {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ends) == 0 {
		return lineEnd{kind: endEnter} // liner returned for a reason of its own
	}
	e := f.ends[0]
	f.ends = f.ends[1:]
	return e
}

func (f *keyFilter) push(e lineEnd) {
	f.mu.Lock()
	f.ends = append(f.ends, e)
	f.mu.Unlock()
}

// run copies the terminal to liner until the terminal ends or liner's side
// is closed. A read from the terminal cannot be interrupted: the goroutine
// reading it ends with the process (the REPL is the last thing a scriptrun
// process does with its terminal).
func (f *keyFilter) run() {
	defer f.out.Close()
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		buf := make([]byte, 4096)
		for {
			n, err := f.in.Read(buf)
			if n > 0 {
				chunks <- bytes.Clone(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	var (
		held    []byte // a possible start of pasteStart, waiting for more
		paste   []byte // the paste so far, while pasting
		pasting bool
		timeout <-chan time.Time
	)
	for {
		var data []byte
		select {
		case c, ok := <-chunks:
			if !ok {
				f.out.Write(held)
				return
			}
			data = append(held, c...)
			held, timeout = nil, nil
		case <-timeout:
			data, held, timeout = held, nil, nil
			if _, err := f.out.Write(data); err != nil {
				return
			}
			continue
		}
		var out []byte
		for len(data) > 0 {
			if pasting {
				from := max(len(paste)-len(pasteEnd)+1, 0)
				paste = append(paste, data...)
				data = nil
				if i := bytes.Index(paste[from:], []byte(pasteEnd)); i >= 0 {
					i += from
					data = bytes.Clone(paste[i+len(pasteEnd):])
					out = f.pasted(out, string(paste[:i]))
					paste, pasting = nil, false
				}
				continue
			}
			if data[0] == 0x1b {
				if bytes.HasPrefix(data, []byte(pasteStart)) {
					data, pasting = data[len(pasteStart):], true
					continue
				}
				if len(data) < len(pasteStart) && strings.HasPrefix(pasteStart, string(data)) {
					held, timeout = data, time.After(escWait)
					break
				}
			}
			out = f.key(out, data[0])
			data = data[1:]
		}
		if len(out) > 0 {
			if _, err := f.out.Write(out); err != nil {
				return
			}
		}
	}
}

// key appends what to send liner for one byte typed.
func (f *keyFilter) key(out []byte, b byte) []byte {
	switch {
	case b == 3: // Ctrl-C
		f.push(lineEnd{kind: endInterrupt})
		return append(out, '\r')
	case b == 4 && f.finishOnCtrlD.Load():
		f.push(lineEnd{kind: endFinish})
		return append(out, '\r')
	case b == '\r' || b == '\n':
		f.push(lineEnd{kind: endEnter})
	}
	return append(out, b)
}

// pasted appends what to send liner for a paste: text without a line break
// is typed into the line; otherwise the first line is, followed by a line
// break that returns it, and the rest is kept for the reader.
func (f *keyFilter) pasted(out []byte, text string) []byte {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	if len(lines) == 1 {
		return append(out, editable(text)...)
	}
	e := lineEnd{kind: endPaste, first: lines[0], lines: lines[1 : len(lines)-1], tail: lines[len(lines)-1]}
	f.push(e)
	out = append(out, editable(e.first)...)
	out = append(out, '\r')
	return append(out, editable(e.tail)...)
}

// editable is text as it can be typed into liner: a control character
// would be taken as a key (a tab completes), so each becomes a space.
func editable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// joinPaste returns the line liner returned for a paste's first line, with
// that line as pasted (control characters included), and the rest of the
// paste's complete lines.
func joinPaste(line string, e lineEnd) string {
	if typed, ok := strings.CutSuffix(line, editable(e.first)); ok {
		line = typed + e.first
	}
	if len(e.lines) == 0 {
		return line
	}
	return line + "\n" + strings.Join(e.lines, "\n")
}
