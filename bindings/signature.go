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
type signedState struct {
	header []headerMark
	query  string
}

// beforeSign records what Sign may change.
func beforeSign(req *http.Request) signedState {
	return signedState{header: headerSnapshot(req.Header), query: req.URL.RawQuery}
}

// signatureOf compares req with its state before Sign.
func signatureOf(before signedState, req *http.Request) signature {
	var s signature
	s.headers = changedHeaders(before.header, req.Header)
	for _, k := range s.headers {
		for _, v := range req.Header[k] {
			s.values = append(s.values, v)
			// "Bearer abc": the credential alone may turn up too.
			if _, cred, ok := strings.Cut(v, " "); ok {
				s.values = append(s.values, cred)
			}
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
