package repl

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/peterh/liner"
)

// errAborted is returned by ReadLine when the user pressed Ctrl-C at the
// prompt.
var errAborted = errors.New("input aborted")

// lineReader reads input a line at a time.
type lineReader interface {
	// ReadLine shows prompt (unless the reader has none) and returns a line
	// without its line break: io.EOF at the end of input, errAborted on
	// Ctrl-C at the prompt, ctx.Err() when ctx is done first.
	ReadLine(ctx context.Context, prompt string) (string, error)
	// AddHistory records a line for recalling it (Up, Ctrl-R).
	AddHistory(line string)
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
func (p *plainReader) ReadLine(ctx context.Context, _ string) (string, error) {
	select {
	case r, ok := <-p.lines:
		if !ok {
			return "", io.EOF
		}
		return r.line, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (p *plainReader) AddHistory(string) {}

// Close stops the reader; a read already waiting for input ends with it.
func (p *plainReader) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

// terminalReader edits lines on the terminal with liner: cursor movement,
// history (Up, Down, Ctrl-R), tab completion. liner works on the process's
// standard input and output, which must be a terminal.
type terminalReader struct {
	l *liner.State
}

func newTerminalReader(complete liner.WordCompleter, history []string) *terminalReader {
	l := liner.NewLiner()
	l.SetCtrlCAborts(true)
	l.SetTabCompletionStyle(liner.TabPrints)
	l.SetWordCompleter(complete)
	l.SetMultiLineMode(true)
	for _, h := range history {
		l.AppendHistory(h)
	}
	return &terminalReader{l: l}
}

// ReadLine reads a line with editing. It cannot be interrupted by ctx.
func (t *terminalReader) ReadLine(_ context.Context, prompt string) (string, error) {
	line, err := t.l.Prompt(prompt)
	if errors.Is(err, liner.ErrPromptAborted) {
		return "", errAborted
	}
	return line, err
}

func (t *terminalReader) AddHistory(line string) {
	if strings.TrimSpace(line) != "" {
		t.l.AppendHistory(line)
	}
}

// Close restores the terminal's mode.
func (t *terminalReader) Close() error { return t.l.Close() }
