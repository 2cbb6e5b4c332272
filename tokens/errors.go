package tokens

import (
	"errors"
	"fmt"
)

// Error codes, as scripts see them in err.code.
const (
	CodeNotFound       = "TOKEN_NOT_FOUND"
	CodeInactive       = "TOKEN_INACTIVE"
	CodeUnauthorized   = "TOKEN_UNAUTHORIZED"
	CodeReauthRequired = "REAUTH_REQUIRED"
	CodeHostMismatch   = "TOKEN_HOST_MISMATCH"
	// CodeHostHeader: a signed request sets a Host header other than its
	// URL's host.
	CodeHostHeader       = "HOST_MISMATCH"
	CodeRefreshFailed    = "REFRESH_FAILED"
	CodeAuthorizeFailed  = "AUTHORIZE_FAILED"
	CodeProviderNotFound = "PROVIDER_NOT_FOUND"
	CodeStateMismatch    = "STATE_MISMATCH"
	CodeAuthorizeExpired = "AUTHORIZATION_EXPIRED"
	CodeUnsupportedGrant = "UNSUPPORTED_GRANT"
	CodeStore            = "STORE"
	// CodeExpired: a static credential (bearer, api-key, basic, hmac-body)
	// is past the expiry an admin gave it; nothing can renew it.
	CodeExpired = "TOKEN_EXPIRED"
	// CodeSignFailed: the request could not be signed (an hmac-body token
	// could not read the request body).
	CodeSignFailed = "SIGN_FAILED"
	// CodeRevokeFailed: the provider's revocation endpoint refused or could
	// not be reached; nothing was cleared.
	CodeRevokeFailed = "REVOKE_FAILED"
)

// Error is a failure to use, refresh or authorize a token. Its message is
// written for people and never contains a secret.
type Error struct {
	Code  string // one of the Code constants
	Token string // the token's name
	Msg   string // what happened and what to do
	Err   error  // the cause, if any; its text is already summarised in Msg
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code scripts see.
func (e *Error) ErrorCode() string { return e.Code }

func newError(code, token string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Token: token, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// CodeOf returns err's code, or "" when err is not an *Error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
