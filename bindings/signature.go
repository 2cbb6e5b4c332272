package bindings

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Redacted replaces the value of a credential the Signer put in a URL's
// query (an api-key parameter) wherever bindings show that URL to a script:
// res.url, fetch's r.url, Location headers, messages.
const Redacted = "REDACTED"

// signature is what a Signer added to a request: the headers it set, the
// query parameters it set, and their values. bindings learn it by comparing
// the request before and after Sign, so a Signer need not describe itself.
// The values are held only while the request runs, to keep them out of
// messages.
type signature struct {
	headers []string // canonical names
	params  []string // decoded names
	values  []string // what the Signer set them to
}

// signedState is the request as it was before Sign, to compare with after.
// It holds the headers' value slices, not copies: a Signer replaces a
// header's slice (as Header.Set does) rather than writing into it. The
// first few live in the state itself, so that a request's usual handful of
// headers costs no allocation.
type signedState struct {
	n     int                      // how many headers the request had
	small [smallHeaders]headerMark // the first smallHeaders of them
	more  []headerMark             // the rest
	query string
}

// smallHeaders is how many headers signedState holds without allocating.
const smallHeaders = 8

// headerMark is one header as it was before signing.
type headerMark struct {
	key  string
	vals []string
}

// beforeSign records what Sign may change.
func beforeSign(req *http.Request) signedState {
	s := signedState{query: req.URL.RawQuery}
	for k, v := range req.Header {
		s.add(k, v)
	}
	return s
}

// add records header k with its values v.
func (s *signedState) add(k string, v []string) {
	if s.n < smallHeaders {
		s.small[s.n] = headerMark{k, v}
	} else {
		s.more = append(s.more, headerMark{k, v})
	}
	s.n++
}

// changed reports whether header k, now v, was added or changed since s.
func (s *signedState) changed(k string, v []string) bool {
	for i := range min(s.n, smallHeaders) {
		if s.small[i].key == k {
			return !slices.Equal(s.small[i].vals, v)
		}
	}
	for _, m := range s.more {
		if m.key == k {
			return !slices.Equal(m.vals, v)
		}
	}
	return true
}

// signatureOf compares req with its state before Sign. The names and
// values of the headers the Signer set share one allocation.
func signatureOf(before *signedState, req *http.Request) signature {
	var s signature
	var set signedState // the headers the Signer set, as beforeSign holds them
	values := 0
	for k, v := range req.Header {
		if before.changed(k, v) {
			set.add(k, v)
			values += len(v) + credentials(v)
		}
	}
	if set.n > 0 {
		buf := make([]string, set.n+values)
		s.headers, s.values = buf[:0:set.n], buf[set.n:set.n]
		for i := range min(set.n, smallHeaders) {
			s.addHeader(set.small[i])
		}
		for _, m := range set.more {
			s.addHeader(m)
		}
	}
	if req.URL.RawQuery != before.query {
		old, now := queryValues(before.query), queryValues(req.URL.RawQuery)
		for k, vs := range now {
			if !slices.Equal(old[k], vs) {
				s.params = append(s.params, k)
				s.values = append(s.values, vs...)
			}
		}
	}
	return s
}

// addHeader records a header the Signer set, with its values.
func (s *signature) addHeader(m headerMark) {
	s.headers = append(s.headers, m.key)
	for _, v := range m.vals {
		s.values = append(s.values, v)
		// "Bearer abc": the credential alone may turn up too.
		if _, cred, ok := strings.Cut(v, " "); ok {
			s.values = append(s.values, cred)
		}
	}
}

// credentials counts the values that carry a credential after a space
// ("Bearer abc"), which signatureOf records alone too.
func credentials(vals []string) int {
	n := 0
	for _, v := range vals {
		if strings.Contains(v, " ") {
			n++
		}
	}
	return n
}

// queryValues decodes a raw query leniently (a part that does not decode is
// kept as written), keeping the order of repeated keys.
func queryValues(raw string) map[string][]string {
	m := map[string][]string{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		m[unescapeQuery(k)] = append(m[unescapeQuery(k)], unescapeQuery(v))
	}
	return m
}

func unescapeQuery(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// maskQuery replaces the values of the Signer's parameters in a raw query
// with Redacted, keeping every other part as written.
func (s signature) maskQuery(raw string) string {
	if len(s.params) == 0 || raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, part := range parts {
		k, _, _ := strings.Cut(part, "=")
		if slices.Contains(s.params, unescapeQuery(k)) {
			parts[i] = k + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// dropParams removes the Signer's parameters from a raw query.
func (s signature) dropParams(raw string) string {
	if len(s.params) == 0 || raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, part := range parts {
		k, _, _ := strings.Cut(part, "=")
		if !slices.Contains(s.params, unescapeQuery(k)) {
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, "&")
}

// shownURL renders u for a script: without user info, the Signer's
// parameters masked, and its values scrubbed wherever else a server put
// them (a Location may carry them under another name).
func (s signature) shownURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = s.maskQuery(c.RawQuery)
	return s.scrub(c.String())
}

// maskHeaderURLs masks the Signer's parameters and values in the response
// headers that carry URLs (a redirect that was not followed may echo the
// query).
func (s signature) maskHeaderURLs(h http.Header) {
	if len(s.values) == 0 {
		return
	}
	for _, k := range []string{"Location", "Content-Location"} {
		for i, v := range h[k] {
			if u, err := url.Parse(v); err == nil {
				u.RawQuery = s.maskQuery(u.RawQuery)
				v = u.String()
			}
			h[k][i] = s.scrub(v)
		}
	}
}

// scrub replaces the Signer's values in a message, as written and as
// escaped in a URL.
func (s signature) scrub(msg string) string {
	for _, v := range s.values {
		if len(v) < 4 {
			continue // too short to be a credential; replacing it would garble the message
		}
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			msg = strings.ReplaceAll(msg, form, Redacted)
		}
	}
	return msg
}
