package cron

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/scriptrun/scriptrun/runtime"
	"github.com/scriptrun/scriptrun/store"
)

// capture keeps the first max bytes a run writes (console.log and
// console.error, interleaved as written) and counts the rest.
type capture struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total += int64(len(p))
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// output returns what was kept, with a note when some was cut, never
// splitting a UTF-8 character.
func (c *capture) output() (out []byte, total int64, truncated bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out = c.buf
	if c.total <= int64(len(c.buf)) {
		return out, c.total, false
	}
	for i := 0; i < utf8.UTFMax && len(out) > 0 && !utf8.Valid(out); i++ {
		out = out[:len(out)-1]
	}
	note := fmt.Sprintf("\n[output truncated: kept the first %s of %s]\n", size(int64(len(out))), size(c.total))
	return append(out[:len(out):len(out)], note...), c.total, true
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// outcome turns what Script.Run returned into a run's status, error text and
// reason. ctx is the run's context, whose cause says why it was cancelled.
func outcome(ctx context.Context, err error) (status store.RunStatus, errText, reason string) {
	var te *runtime.TimeoutError
	var se *runtime.ScriptError
	var ce *runtime.CompileError
	var re *RunError
	switch {
	case err == nil:
		return store.RunSucceeded, "", ""
	case errors.As(err, &te):
		return store.RunTimedOut, te.Error(), ""
	case errors.As(err, &re):
		if re.Status != store.RunTimedOut {
			return store.RunFailed, re.Message, ""
		}
		return store.RunTimedOut, re.Message, ""
	case errors.Is(err, context.Canceled):
		reason := "cancelled"
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			reason = cause.Error()
		}
		return store.RunCancelled, "", reason
	case errors.As(err, &se):
		return store.RunFailed, se.Error(), ""
	case errors.As(err, &ce):
		return store.RunFailed, ce.Error(), ""
	}
	return store.RunFailed, strings.TrimPrefix(err.Error(), "runtime: "), ""
}

// maxErrorKept bounds a run's error text when its record would not fit
// the store otherwise.
const maxErrorKept = 64 << 10

// finishTooLarge writes the final record of a run whose output (or error
// text) is more than one write to the store can carry (an etcd cluster
// with a small --max-request-bytes): the record is kept, with a note in
// place of the output and the error text cut, rather than lost.
func (s *Scheduler) finishTooLarge(a *activeRun, output []byte) error {
	r := a.run
	if len(r.Error) > maxErrorKept {
		r.Error = strings.ToValidUTF8(r.Error[:maxErrorKept], "") + "\n[error text cut: too large for the store]"
	}
	note := []byte(fmt.Sprintf("[output not kept: %s is more than one write to the store accepts (etcd's --max-request-bytes); lower what the script prints, or the cron output cap]\n", size(int64(len(output)))))
	r.Truncated = true
	s.log.Warn("cron: a run's output was too large for the store; recorded without it", "job", r.Job, "run", r.ID, "output", len(output))
	return s.writer.do(func(tx *store.Tx) error { return tx.UpdateRun(r, note) })
}
