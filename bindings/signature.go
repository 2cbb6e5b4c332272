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

// headersBefore is what a signed request's headers were just before Sign,
// read off the builder's headers instead of copied: the request holds a
// clone of them (which a Signer cannot change the builder's through), plus
// User-Agent when the builder sets none, minus Host, which attempt removes
// from a signed request.
type headersBefore struct{ builder http.Header }

// same reports whether header k was there before Sign (had) and, if so,
// whether now are its values then (same). The default User-Agent is
// compared with its text, not with the slice requests share.
func (b headersBefore) same(k string, now []string) (had, same bool) {
	v, ok := b.builder[k]
	switch {
	case k == "Host":
		return false, false
	case k == "User-Agent" && !ok:
		return true, len(now) == 1 && now[0] == userAgent
	}
	return ok, ok && slices.Equal(v, now)
}

// len is how many headers the request had before Sign.
func (b headersBefore) len() int {
	n := len(b.builder) + 1 // User-Agent
	if _, ok := b.builder["User-Agent"]; ok {
		n--
	}
	if _, ok := b.builder["Host"]; ok {
		n--
	}
	return n
}

// signedState collects the headers a Signer set. The first few live in
// the state itself, so that finding them costs no allocation.
type signedState struct {
	n     int                      // how many headers it holds
	small [smallHeaders]headerMark // the first smallHeaders of them
	more  []headerMark             // the rest
}

// smallHeaders is how many headers signedState holds without allocating.
const smallHeaders = 8

// headerMark is one header the Signer set.
type headerMark struct {
	key  string
	vals []string
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

// signatureOf compares req, just signed, with its headers before Sign and
// its query before Sign (query). The names and values of the headers the
// Signer set share one allocation.
func signatureOf(before headersBefore, query string, req *http.Request) signature {
	var s signature
	var set signedState
	changedHeaders(before, req.Header, &set)
	values := 0
	for i := range min(set.n, smallHeaders) {
		values += len(set.small[i].vals) + credentials(set.small[i].vals)
	}
	for _, m := range set.more {
		values += len(m.vals) + credentials(m.vals)
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
	if req.URL.RawQuery != query {
		old, now := queryValues(query), queryValues(req.URL.RawQuery)
		for k, vs := range now {
			if !slices.Equal(old[k], vs) {
				s.params = append(s.params, k)
				s.values = append(s.values, vs...)
			}
		}
	}
	return s
}

// changedHeaders adds to set the headers of after, the request's headers
// after Sign, that were not there before or had other values.
func changedHeaders(before headersBefore, after http.Header, set *signedState) {
	if changedAuthorization(before, after, set) {
		return
	}
	*set = signedState{}
	for k, v := range after {
		if _, same := before.same(k, v); !same {
			set.add(k, v)
		}
	}
}

// changedAuthorization is changedHeaders for the usual Signer, which sets
// Authorization and nothing else, without walking after (a map walk is
// most of what comparing costs): when every header before is still in
// after, and after holds no other header than those and Authorization
// (counted), the changed headers are found by looking each one up. It
// returns false, having perhaps added some to set, when the count says a
// Signer added or removed another header; changedHeaders then compares
// them all.
func changedAuthorization(before headersBefore, after http.Header, set *signedState) bool {
	const auth = "Authorization"
	signed, hasAuth := after[auth]
	hadAuth, sameAuth := before.same(auth, signed)
	want := before.len()
	if hasAuth && !hadAuth {
		want++
	}
	if len(after) != want || (hadAuth && !hasAuth) {
		return false
	}
	if len(before.builder) > 0 {
		for k, old := range before.builder {
			if k == "Host" || k == auth {
				continue
			}
			now, ok := after[k]
			if !ok {
				return false
			}
			if !slices.Equal(old, now) {
				set.add(k, now)
			}
		}
	}
	if _, ok := before.builder["User-Agent"]; !ok {
		now, ok := after["User-Agent"]
		if !ok {
			return false
		}
		if _, same := before.same("User-Agent", now); !same {
			set.add("User-Agent", now)
		}
	}
	if hasAuth && !sameAuth {
		set.add(auth, signed)
	}
	return true
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
