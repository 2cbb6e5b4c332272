package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/scriptrun/scriptrun/runtime"
)

// flightWait bounds how long a process ended by exitStuck waits for token
// refreshes in flight to be stored. A refresh is over in well under a second
// unless its provider is slow; the bound keeps the deadline hard. A memory
// or stack stop waits less, since the stuck built-in keeps growing meanwhile.
const (
	flightWait       = 2 * time.Second
	flightWaitMemory = 200 * time.Millisecond
)

// stopExitCode is the exit code of a script that ended with err: 124 for its
// timeout, 130 when interrupted, 1 otherwise (it threw, or went over its
// memory limit).
func stopExitCode(err error) int {
	var te *runtime.TimeoutError
	switch {
	case errors.As(err, &te):
		return exitTimeout
	case errors.Is(err, context.Canceled):
		return exitSignal
	}
	return exitScript
}

// exitStuck is runtime.Options.Stuck for a process that runs one script or
// one REPL: the script was stopped (reason) but is inside a built-in call
// that cannot be interrupted, so the process ends now with the message and
// exit code the stop would have given. Before exiting it waits, briefly
// (flightWait), for token refreshes in flight, so that a rotated refresh
// token that a provider has already issued is stored rather than lost.
func (a *app) exitStuck(reason error) {
	if a.exit == nil {
		return // an app built by a test: the run ends when the built-in does
	}
	msg := reason.Error()
	if errors.Is(reason, context.Canceled) {
		msg = "interrupted"
	}
	fmt.Fprintf(a.stdio.Err, "scriptrun: %s\n(it was inside a built-in call that cannot be interrupted, so scriptrun ended the process)\n",
		strings.TrimRight(msg, "\n"))
	wait := flightWait
	var me *runtime.MemoryError
	var se *runtime.StackError
	if errors.As(reason, &me) || errors.As(reason, &se) {
		wait = flightWaitMemory
	}
	a.waitFlights(wait)
	a.exit(stopExitCode(reason))
}

// waitFlights waits up to d for the token manager's refreshes in flight, if
// the home was opened.
func (a *app) waitFlights(d time.Duration) {
	m := a.liveManager.Load()
	if m == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		m.Close()
		close(done)
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		fmt.Fprintln(a.stdio.Err, a.hint("scriptrun: a token refresh was still in flight and may not have been stored; `scriptrun token show` tells whether the token needs authorizing again"))
	}
}

// exitProcess ends the process; app.exit in production.
func exitProcess(code int) { os.Exit(code) }
