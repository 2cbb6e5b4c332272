package web

import (
	"github.com/scriptrun/scriptrun/store"
)

// formProblems is what a refused provider or token form shows: each
// problem the store's validation found next to its form field, and all of
// them listed above the form. The rules are the store's; this only places
// their messages.
type formProblems struct {
	// List is every problem, labelled ("Token URL: …"), in the store's order.
	List []string
	// byField holds the messages of each form field, by its name.
	byField map[string]string
}

// Err returns the problems of a form field, or "".
func (p formProblems) Err(name string) string { return p.byField[name] }

// set places the field errors err holds; formField maps a store field
// (store.FieldError.Field) to its form field, "" for one the form has not
// (which is then only listed). It returns what err holds besides (a name
// taken, a missing provider), or nil.
func (p *formProblems) set(err error, formField func(string) string) error {
	fes, rest := store.SplitFieldErrors(err)
	p.byField = map[string]string{}
	for _, fe := range fes {
		p.List = append(p.List, upperFirst(fe.Error())+".")
		name := formField(fe.Field)
		if name == "" {
			continue
		}
		msg := upperFirst(fe.Message) + "."
		if prev := p.byField[name]; prev != "" {
			msg = prev + " " + msg
		}
		p.byField[name] = msg
	}
	return rest
}
