package tokens

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/scriptrun/scriptrun/store"
)

// rejection is a provider's store.Rejection, compiled once per cached
// entry. A nil *rejection is the default: a 401, nothing else.
type rejection struct {
	statuses     []int
	bodyStatuses []int
	body         *regexp.Regexp
}

// newRejection compiles p's rejection; nil for the default, for static
// types (no provider) and for a provider that is gone.
func newRejection(p *store.Provider) (*rejection, error) {
	if p == nil || p.Rejection.IsZero() {
		return nil, nil
	}
	r := &rejection{statuses: p.Rejection.EffectiveStatuses(), bodyStatuses: p.Rejection.EffectiveBodyStatuses()}
	if p.Rejection.BodyPattern != "" {
		re, err := store.CompileRejectionPattern(p.Rejection.BodyPattern)
		if err != nil {
			return nil, fmt.Errorf("provider %q: rejected body pattern: %w", p.Name, err)
		}
		r.body = re
	}
	return r, nil
}

// rejects answers Manager.Rejects for this rule.
func (r *rejection) rejects(status int, body []byte) (bool, int) {
	switch {
	case r == nil:
		return status == 401, 0
	case slices.Contains(r.statuses, status):
		return true, 0
	case r.body == nil || !slices.Contains(r.bodyStatuses, status):
		return false, 0
	case body == nil:
		return false, store.RejectionPeekBytes
	}
	return r.body.Match(body[:min(len(body), store.RejectionPeekBytes)]), 0
}

// Rejects reports whether an API's answer to a request Sign signed with the
// named token says that it refused the access token, so that bindings call
// Rejected and retry once. It answers from the token's provider
// (store.Rejection): by default a 401 alone. When the provider has a body
// pattern for this status and body is nil, it asks for the start of the
// body (peek = store.RejectionPeekBytes); asked again with it, it searches
// at most that many bytes. It reads the cached token (a store read only when
// the cache has expired), never calls the network, and for the default rule
// allocates nothing. A token that cannot be read gets the default rule: Sign
// and Rejected report what is wrong with it.
func (m *Manager) Rejects(name string, status int, body []byte) (rejected bool, peek int) {
	e, err := m.lookup(name)
	if err != nil {
		return status == 401, 0
	}
	return e.rejection.rejects(status, body)
}
