package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// FieldError is a problem with one field of a record. Validation returns
// them, every problem at once, in FieldErrors; the command line, the
// console and `apply` show each one next to what they call the field (a
// flag, a form field, a document path) rather than restating the rule.
type FieldError struct {
	// Field is the field's key as `export` writes it and `apply` reads it,
	// dotted for a nested field: "tokenUrl", "rejection.statuses",
	// "username".
	Field string
	// Label names the field in words: "token URL".
	Label string
	// Message says what is wrong and how to fix it, without the label. It
	// never holds a secret.
	Message string
}

// Error is the label and the message: "token URL: …".
func (e FieldError) Error() string { return e.Label + ": " + e.Message }

// FieldErrors is every problem found in one record, in the order of its
// fields. Validate methods return it as their error (find it with
// errors.As or AsFieldErrors); it is never empty.
type FieldErrors []FieldError

// Error joins the problems, each with its label.
func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// AsFieldErrors returns the field errors err holds, or nil when it holds
// none (a missing record, a damaged file).
func AsFieldErrors(err error) FieldErrors {
	var es FieldErrors
	if errors.As(err, &es) {
		return es
	}
	return nil
}

// add records a problem with field.
func (es *FieldErrors) add(field, label, format string, args ...any) {
	*es = append(*es, FieldError{Field: field, Label: label, Message: fmt.Sprintf(format, args...)})
}

// nest adds the problems of a nested record (a provider's rejection) under
// the prefix of its field.
func (es *FieldErrors) nest(prefix string, err error) {
	for _, e := range AsFieldErrors(err) {
		e.Field = prefix + "." + e.Field
		*es = append(*es, e)
	}
}

// err returns es as an error, nil when there is no problem.
func (es FieldErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// JoinFieldErrors adds the problems found while reading a record's fields
// (a list of status codes, a time: first) to those its validation found in
// the rest (err). A validation problem on a field already in first is left
// out: it would only say that the field is empty. An err without field
// errors (a missing record) is kept beside them.
func JoinFieldErrors(first FieldErrors, err error) error {
	if len(first) == 0 {
		return err
	}
	rest := AsFieldErrors(err)
	if err != nil && rest == nil {
		return errors.Join(first, err)
	}
	out := append(FieldErrors(nil), first...)
	for _, fe := range rest {
		if !slices.ContainsFunc(first, func(p FieldError) bool { return p.Field == fe.Field }) {
			out = append(out, fe)
		}
	}
	return out
}

// SplitFieldErrors separates the field errors err holds from a failure
// JoinFieldErrors joined with them (a missing record, a damaged file):
// rest is nil when there is none, and err itself when err holds no field
// errors.
func SplitFieldErrors(err error) (fes FieldErrors, rest error) {
	if fes = AsFieldErrors(err); fes == nil {
		return nil, err
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return fes, nil
	}
	var others []error
	for _, e := range joined.Unwrap() {
		if AsFieldErrors(e) == nil {
			others = append(others, e)
		}
	}
	return fes, errors.Join(others...)
}
