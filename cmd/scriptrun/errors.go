package main

import (
	"errors"
	"fmt"
)

// Exit codes, as the product contract promises them.
const (
	exitOK      = 0
	exitScript  = 1 // the script threw, or an operation failed at the provider
	exitUsage   = 2 // usage or configuration error
	exitTimeout = 124
	exitSignal  = 130 // interrupted (SIGINT or SIGTERM)
)

// exitError carries the exit code a failure should end the process with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr is a mistake in how scriptrun was called (exit 2).
func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// configErr is a problem with the home, key, database or records (exit 2).
func configErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// failErr is an operation that failed for a reason outside the command line,
// e.g. a provider refusing (exit 1).
func failErr(err error) error {
	return &exitError{code: exitScript, err: err}
}

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage
}
