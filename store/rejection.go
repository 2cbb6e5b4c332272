package store

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
)

// Rejection is how an API says that it refused an access token (it expired
// or was revoked): the answers after which the token is refreshed once and
// the request retried once. The zero value is the standard answer, a 401
// (RFC 6750).
//
// Some APIs answer otherwise: Django OAuth Toolkit behind Django REST
// framework answers 403 (Statuses 401, 403); Marketo answers 200 with
// {"success":false,"errors":[{"code":"601","message":"Access token invalid"}]}
// (BodyPattern `"code":\s*"60[12]"`, BodyStatuses 200).
//
// The body pattern is cheap and bounded by design: it is looked for only in
// answers whose status is in BodyStatuses, only in their first
// RejectionPeekBytes bytes, and it is an RE2 expression (no backtracking:
// time linear in the input times the compiled program) of at most
// MaxRejectionPattern bytes and 100 compiled instructions, which must not
// match an empty body. Whatever an API sends, one search therefore costs at
// most 4 KiB × 100 steps (about 3 ms for the worst pattern we could write,
// such as [a-z]{0,48}Q, on a slow machine); a pattern that names an error
// code, like Marketo's, takes well under a microsecond.
type Rejection struct {
	// Statuses are the answers that by themselves mean the access token was
	// refused, from 400 to 599; empty means 401 alone. A list replaces the
	// default: give 401 and 403 to add 403.
	Statuses []int `json:"statuses,omitempty"`
	// BodyPattern, when set, is a regular expression (Go RE2 syntax) that
	// marks a refusal in the start of the body of an answer whose status is
	// in BodyStatuses.
	BodyPattern string `json:"bodyPattern,omitempty"`
	// BodyStatuses are the statuses whose body is searched for BodyPattern:
	// 200 to 299 or 400 to 599, none of them in Statuses; empty means 200.
	// They need a BodyPattern.
	BodyStatuses []int `json:"bodyStatuses,omitempty"`
}

// Limits of a Rejection. A pattern is matched against at most
// RejectionPeekBytes of a body, so a refusal must show in its start.
const (
	RejectionPeekBytes  = 4 << 10 // bytes of a body searched for the pattern
	MaxRejectionPattern = 256     // bytes of the pattern
	maxRejectionStatus  = 16      // codes in each list
	maxRejectionProgram = 100     // instructions of the compiled pattern
)

// IsZero reports whether r is the default (a 401 alone), so records of
// providers that keep it do not carry the field.
func (r Rejection) IsZero() bool {
	return len(r.Statuses) == 0 && r.BodyPattern == "" && len(r.BodyStatuses) == 0
}

// EffectiveStatuses returns the statuses that by themselves mean a refusal:
// Statuses, else 401.
func (r Rejection) EffectiveStatuses() []int {
	if len(r.Statuses) == 0 {
		return []int{401}
	}
	return r.Statuses
}

// EffectiveBodyStatuses returns the statuses whose body is searched:
// BodyStatuses, else 200 when there is a pattern, else none.
func (r Rejection) EffectiveBodyStatuses() []int {
	switch {
	case r.BodyPattern == "":
		return nil
	case len(r.BodyStatuses) == 0:
		return []int{200}
	}
	return r.BodyStatuses
}

// Fields of a Rejection, as its FieldErrors name them (a provider's are
// under "rejection.").
const (
	RejectionStatuses     = "statuses"
	RejectionBodyPattern  = "bodyPattern"
	RejectionBodyStatuses = "bodyStatuses"
)

// rejectionLabel is the label of a Rejection field in error messages.
func rejectionLabel(field string) string {
	switch field {
	case RejectionStatuses:
		return "rejected statuses"
	case RejectionBodyPattern:
		return "rejected body pattern"
	case RejectionBodyStatuses:
		return "rejected body statuses"
	}
	return ""
}

// Validate checks r and returns every problem at once (FieldErrors, each
// Field one of RejectionStatuses, RejectionBodyPattern or
// RejectionBodyStatuses), or nil.
func (r Rejection) Validate() error {
	var es FieldErrors
	bad := func(field, format string, args ...any) {
		es.add(field, rejectionLabel(field), format, args...)
	}
	if msg := checkStatuses(r.Statuses, false); msg != "" {
		bad(RejectionStatuses, "%s", msg)
	}
	if msg := checkStatuses(r.BodyStatuses, true); msg != "" {
		bad(RejectionBodyStatuses, "%s", msg)
	}
	if r.BodyPattern == "" && len(r.BodyStatuses) > 0 {
		bad(RejectionBodyStatuses, "they say which answers' bodies to search, but there is no body pattern: give one, or leave them empty")
	}
	for _, s := range r.BodyStatuses {
		if slices.Contains(r.EffectiveStatuses(), s) {
			bad(RejectionBodyStatuses, "%d is also a rejected status, which means a refusal whatever the body: keep it in one list", s)
			break
		}
	}
	if r.BodyPattern != "" {
		if _, err := CompileRejectionPattern(r.BodyPattern); err != nil {
			bad(RejectionBodyPattern, "%v", err)
		}
	}
	return es.err()
}

// checkStatuses checks a list of status codes: 400–599, and 200–299 too
// when the body decides; no repeats; a bounded count. It returns what is
// wrong, or "".
func checkStatuses(codes []int, bodyDecides bool) string {
	if len(codes) > maxRejectionStatus {
		return fmt.Sprintf("%d codes is too many: give at most %d", len(codes), maxRejectionStatus)
	}
	for i, c := range codes {
		switch {
		case c >= 400 && c <= 599:
		case bodyDecides && c >= 200 && c <= 299:
		case bodyDecides:
			return fmt.Sprintf("%d is not a status whose body can say the token was refused: give codes from 200 to 299 or 400 to 599 (e.g. 200)", c)
		default:
			return fmt.Sprintf("%d is not a status that refuses a token: give codes from 400 to 599 (e.g. 401,403); a 2xx answer can only refuse a token through a body pattern", c)
		}
		if slices.Contains(codes[:i], c) {
			return fmt.Sprintf("%d is given twice", c)
		}
	}
	return ""
}

// CompileRejectionPattern compiles a Rejection's BodyPattern, refusing one
// that is longer than MaxRejectionPattern bytes, compiles to a large
// program, or matches an empty body (every answer would then be a refusal).
// Messages quote no more of the pattern than its own author wrote.
func CompileRejectionPattern(pattern string) (*regexp.Regexp, error) {
	if len(pattern) > MaxRejectionPattern {
		return nil, fmt.Errorf("%d bytes is too long: give at most %d (the pattern needs only to recognise the API's error code, e.g. \"code\":\\s*\"60[12]\")", len(pattern), MaxRejectionPattern)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("not a valid regular expression (Go RE2 syntax): %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	parsed, err := syntax.Parse(pattern, syntax.Perl)
	if err == nil {
		var prog *syntax.Prog
		if prog, err = syntax.Compile(parsed.Simplify()); err == nil && len(prog.Inst) > maxRejectionProgram {
			err = errors.New("too large")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("too complex once compiled (more than %d instructions, e.g. from repeat counts such as {0,50}): write a shorter pattern that names the error code", maxRejectionProgram)
	}
	if re.MatchString("") {
		return nil, errors.New("it matches an empty body, so every answer would be taken for a refusal: make it name the API's error code, e.g. \"code\":\\s*\"60[12]\"")
	}
	return re, nil
}

// ParseStatuses reads a list of status codes as people write it: "401,403",
// "401, 403" or "401 403"; "" is an empty list. The codes are sorted, and
// repeats dropped. Validate checks their ranges.
func ParseStatuses(s string) ([]int, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	var codes []int
	for _, f := range fields {
		c, err := strconv.Atoi(f)
		if err != nil || c < 100 || c > 999 {
			return nil, fmt.Errorf("%q is not an HTTP status code: give codes such as 401,403", shortText(f, 20))
		}
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return slices.Compact(codes), nil
}

// ParseProviderStatuses reads one of a provider's status lists as
// ParseStatuses does: field is RejectionStatuses or RejectionBodyStatuses.
// A list that cannot be read is a FieldError on that field of the
// provider ("rejection.statuses"), to be shown with validation's
// (JoinFieldErrors).
func ParseProviderStatuses(field, s string) ([]int, *FieldError) {
	codes, err := ParseStatuses(s)
	if err != nil {
		return nil, &FieldError{Field: "rejection." + field, Label: rejectionLabel(field), Message: err.Error()}
	}
	return codes, nil
}

// FormatStatuses writes codes as ParseStatuses reads them: "401,403".
func FormatStatuses(codes []int) string {
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = strconv.Itoa(c)
	}
	return strings.Join(parts, ",")
}

// shortText cuts s to n bytes for a message, on a rune boundary.
func shortText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
