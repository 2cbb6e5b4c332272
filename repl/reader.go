package repl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/peterh/liner"
)

// errAborted is returned by ReadLine when the user pressed Ctrl-C at the
// prompt on an empty line (or when the reader cannot tell).
var errAborted = errors.New("input aborted")

// errCleared is returned by ReadLine when the user pressed Ctrl-C on a line
// with text: the line is dropped.
var errCleared = errors.New("line cleared")

// input is what ReadLine returns: one line typed, or a pasted block.
type input struct {
	// text is the line without its line break; for a paste, its lines
	// joined with "\n".
	text string
	// paste marks a block that arrived as one paste.
	paste bool
	// open is set for a paste that did not end with a line break: its last
	// line is in the editor, and the next line read completes the paste.
	open bool
	// finish is set when the line was ended with Ctrl-D in the editor mode.
	finish bool
}

// lineReader reads input a line at a time.
type lineReader interface {
	// ReadLine shows prompt (unless the reader has none) and returns a line
	// or a paste: io.EOF at the end of input, errAborted on Ctrl-C on an
	// empty line, errCleared on Ctrl-C on a line with text, ctx.Err() when
	// ctx is done first.
	ReadLine(ctx context.Context, prompt string) (input, error)
	// AddHistory records a line for recalling it (Up, Ctrl-R).
	AddHistory(line string)
	// Editor turns the editor mode (.editor) on or off: in it, Ctrl-D ends
	// the input even on a line with text.
	Editor(on bool)
	Close() error
}

// plainReader reads lines from a stream, without prompts or editing: the
// REPL fed by a pipe or a file.
type plainReader struct {
	lines chan lineResult
	done  chan struct{} // closed by Close: stop handing out lines
	once  sync.Once
}

type lineResult struct {
	line string
	err  error
}

func newPlainReader(r io.Reader) *plainReader {
	p := &plainReader{lines: make(chan lineResult), done: make(chan struct{})}
	go func() {
		defer close(p.lines)
		send := func(l lineResult) bool {
			select {
			case p.lines <- l:
				return true
			case <-p.done:
				return false
			}
		}
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if line != "" || err == nil {
				if !send(lineResult{line: strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")}) {
					return
				}
			}
			if err != nil {
				send(lineResult{err: err})
				return
			}
		}
	}()
	return p
}

// ReadLine returns the next line; the prompt is not shown.
func (p *plainReader) ReadLine(ctx context.Context, _ string) (input, error) {
	select {
	case r, ok := <-p.lines:
		if !ok {
			return input{}, io.EOF
		}
		return input{text: r.line}, r.err
	case <-ctx.Done():
		return input{}, ctx.Err()
	}
}

func (p *plainReader) AddHistory(string) {}

// Editor does nothing: without a terminal the editor ends with the input.
func (p *plainReader) Editor(bool) {}

// Close stops the reader; a read already waiting for input ends with it.
func (p *plainReader) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

// terminalReader edits lines on the terminal with liner: cursor movement,
// history (Up, Down, Ctrl-R), tab completion. liner works on the process's
// standard output, which must be a terminal, and reads os.Stdin, which
// newTerminalReader replaces by a pipe from a keyFilter on the terminal:
// liner takes no other reader, and the filter adds bracketed paste and
// tells Ctrl-C on an empty line from Ctrl-C on a line with text.
type terminalReader struct {
	l       *liner.State
	keys    *keyFilter
	out     io.Writer // the terminal
	paste   bool      // the terminal is one bracketed paste can be turned on for
	stdin   *os.File  // the real standard input, put back by Close
	fromKey *os.File  // liner's end of the pipe
}

// maxListed is the most completion candidates shown: liner lists up to
// 100 without asking first.
const maxListed = 100

func newTerminalReader(complete liner.WordCompleter, history []string) (*terminalReader, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("repl: terminal input: %w", err)
	}
	t := &terminalReader{keys: &keyFilter{in: os.Stdin, out: w}, out: os.Stdout,
		paste: liner.TerminalSupported(), stdin: os.Stdin, fromKey: r}
	// liner reads os.Stdin (in NewLiner, and again when the terminal is too
	// narrow to edit in) but sets the mode of file descriptor 0 itself, so
	// the terminal is still the one put in raw mode.
	os.Stdin = r
	t.l = liner.NewLiner()
	t.l.SetCtrlCAborts(true)
	t.l.SetTabCompletionStyle(liner.TabPrints)
	t.l.SetWordCompleter(func(line string, pos int) (string, []string, string) {
		head, list, tail := complete(line, pos)
		// Over maxListed candidates liner asks "Display all?" and swallows
		// the line breaks keyFilter sends, which would pair the next line
		// with the wrong reason. Typing more narrows the list.
		return head, list[:min(len(list), maxListed)], tail
	})
	t.l.SetMultiLineMode(true)
	for _, h := range history {
		t.l.AppendHistory(h)
	}
	go t.keys.run()
	return t, nil
}

// ReadLine reads a line with editing. It cannot be interrupted by ctx.
// Bracketed paste is on only while the prompt is shown, as in bash: what
// the evaluation runs never sees the paste markers.
func (t *terminalReader) ReadLine(_ context.Context, prompt string) (input, error) {
	if t.paste {
		io.WriteString(t.out, pasteOn)
	}
	line, err := t.l.Prompt(prompt)
	if t.paste {
		io.WriteString(t.out, pasteOff)
	}
	switch {
	case errors.Is(err, liner.ErrPromptAborted):
		return input{}, errAborted
	case err != nil:
		return input{}, err
	}
	switch e := t.keys.next(); e.kind {
	case endInterrupt:
		if strings.TrimSpace(line) == "" {
			return input{}, errAborted
		}
		return input{}, errCleared
	case endFinish:
		return input{text: line, finish: true}, nil
	case endPaste:
		// liner showed the first line; the others are shown as if typed.
		for _, l := range e.lines {
			fmt.Fprintf(t.out, "%s%s\n", continuation, shown(l))
		}
		return input{text: joinPaste(line, e), paste: true, open: e.tail != ""}, nil
	}
	return input{text: line}, nil
}

// shown is a pasted line as it is echoed: a control character other than a
// tab must not act on the terminal.
func shown(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\t' && (r < 0x20 || r == 0x7f || 0x80 <= r && r < 0xa0) {
			return '\uFFFD'
		}
		return r
	}, s)
}

func (t *terminalReader) AddHistory(line string) {
	if strings.TrimSpace(line) != "" {
		t.l.AppendHistory(line)
	}
}

// Editor makes Ctrl-D end the input while on.
func (t *terminalReader) Editor(on bool) { t.keys.finishOnCtrlD.Store(on) }

// Close restores the terminal's mode and standard input.
func (t *terminalReader) Close() error {
	err := t.l.Close()
	if t.paste {
		io.WriteString(t.out, pasteOff)
	}
	os.Stdin = t.stdin
	t.fromKey.Close()
	return err
}
