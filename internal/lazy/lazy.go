// Package lazy holds package-level values that are built on first use and
// cost nothing at start-up.
//
// Every package whose variables need work to initialise (a call, a map
// literal, a copy of another package's variable) gets an init function, and
// the program runs it at every start, whatever the command: that faults in
// the page of code around it and the data it reads, about 64 KiB of
// resident memory per package. `var re = sync.OnceValue(func...)` is such a
// call. A package-level Regexp{Expr: ...} or Value[T]{New: f} is a
// composite literal of constants and a function with no captured
// variables, which the compiler lays out in the binary: no init work until
// Get is first called.
//
// # Caveats
//
// Declare them only as package-level variables and never copy one (each
// holds a sync.Once); Get has a pointer receiver. New must not capture
// variables, or the variable is initialised at start-up again (check with
// `go tool nm BIN | grep 'PKG\.init'`, or GODEBUG=inittrace=1).
package lazy

import (
	"regexp"
	"sync"
)

// Regexp is a regular expression compiled the first time Get is called.
type Regexp struct {
	// Expr is the expression; Get panics, as regexp.MustCompile does, if
	// it does not compile.
	Expr string

	once sync.Once
	re   *regexp.Regexp
}

// Get returns the compiled expression. It is safe for concurrent use.
func (r *Regexp) Get() *regexp.Regexp {
	r.once.Do(func() { r.re = regexp.MustCompile(r.Expr) })
	return r.re
}

// Value is a value built by New the first time Get is called.
type Value[T any] struct {
	// New builds the value, once.
	New func() T

	once sync.Once
	v    T
}

// Get returns the value New built. It is safe for concurrent use; callers
// share the value, so one that is a map or a slice must not be modified.
func (v *Value[T]) Get() T {
	v.once.Do(func() { v.v = v.New() })
	return v.v
}
