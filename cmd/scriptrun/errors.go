package main

import (
	"errors"
	"fmt"

	"github.com/scriptrun/scriptrun/store"
)

// Exit codes, as the product contract promises them.
const (
	exitOK      = 0
	exitScript  = 1 // the script threw, or an operation failed at the provider
	exitUsage   = 2 // usage or configuration error
	exitTimeout = 124
	exitSignal  = 130 // interrupted (SIGINT or SIGTERM)

	// Exit codes of the store, so that a script or a service manager can
	// tell a passing outage (retry) from a node set up wrong (fix it).
	exitStoreDown = 3 // the etcd cluster cannot be reached or has no quorum (store.ErrUnavailable): retry later
	exitWrongKey  = 4 // the master key does not open the store, or this node has none (store.ErrWrongKey)
	exitNoStore   = 5 // no store at the etcd prefix named (store.ErrNoStore): a wrong --store, or one not created yet
)

// exitCodesHelp documents the exit codes every command may end with, for
// the root command's help.
const exitCodesHelp = `Exit codes: 0 success; 1 the script threw, or an operation failed at the
provider (or the database is damaged); 2 usage or configuration error;
3 the etcd cluster cannot be reached or has no quorum (retry later);
4 the master key does not open the store, or this node has none (every node
needs the same master.key or SCRIPTRUN_MASTER_KEY); 5 no scriptrun store at
the etcd prefix given (check --store, or create one with scriptrun store
init or scriptrun store migrate); 124 the script timed out; 130 interrupted.`

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

// keyErr is a master key that cannot open the store (exit 4).
func keyErr(format string, args ...any) error {
	return &exitError{code: exitWrongKey, err: fmt.Errorf(format, args...)}
}

// storeExit gives the store's own failures their exit codes, nil for any
// other error. The message is the store's: it names the store and the fix,
// and never a password.
func storeExit(err error) error {
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return &exitError{code: exitStoreDown, err: err}
	case errors.Is(err, store.ErrWrongKey):
		return &exitError{code: exitWrongKey, err: err}
	case errors.Is(err, store.ErrNoStore):
		return &exitError{code: exitNoStore, err: err}
	}
	return nil
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
	if errors.As(storeExit(err), &ee) {
		return ee.code
	}
	return exitUsage
}
