package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/models"
)

// maxFormBody bounds token, revocation and login form bodies.
const maxFormBody = 64 << 10

// Errors the library does not define, sent to the redirect URI.
var (
	errLoginRequired   = errors.New("login_required")
	errConsentRequired = errors.New("consent_required")
)

// routes builds the sandbox's handler.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", s.serveAuthorize)
	mux.HandleFunc("/token", s.serveToken)
	mux.HandleFunc("/revoke", s.serveRevoke)
	mux.HandleFunc("/.well-known/oauth-authorization-server", s.serveMetadata)
	mux.Handle("/api/", s.api())
	mux.HandleFunc("/{$}", s.serveIndex)
	return mux
}

// tokenWriter records the status of a token response and carries the base
// URL that writeTokenResponse puts in instance_url.
type tokenWriter struct {
	http.ResponseWriter
	status  int
	baseURL string
}

func (w *tokenWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *tokenWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serveToken is the token endpoint: counting, the fault hook, then the
// library's HandleTokenRequest under grantMu.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	// Buffer the body so the fault hook and the library can both read it.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBody))
	if err != nil {
		s.count(func(st *Stats) { st.FailedRequests++ })
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "request body too large or unreadable"})
		return
	}
	form, _ := url.ParseQuery(string(body)) // only for counting; the library parses for real
	grant := form.Get("grant_type")
	label := grant
	switch grant {
	case "authorization_code", "refresh_token", "client_credentials":
	default:
		label = "other"
	}
	s.mu.Lock()
	s.stats.TokenRequests[label]++
	if grant == "refresh_token" {
		s.stats.RefreshRequests++
	}
	s.statsChangedLocked()
	fault := s.fault
	s.mu.Unlock()

	if fault != nil {
		hr := r.Clone(r.Context())
		hr.Body = io.NopCloser(bytes.NewReader(body))
		if fault(w, hr) {
			s.count(func(st *Stats) { st.InjectedFaults++ })
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	tw := &tokenWriter{ResponseWriter: w, baseURL: baseURL(r)}
	refresh := form.Get("refresh_token")
	s.grantMu.Lock()
	if grant == "refresh_token" && refresh != "" {
		if _, seen := s.redeemed[refresh]; seen {
			s.count(func(st *Stats) { st.RefreshTokenReuse++ })
		}
	}
	_ = s.oauth.HandleTokenRequest(tw, r) // it has written the response; an error here is the client going away
	if grant == "refresh_token" && refresh != "" && tw.status == http.StatusOK {
		s.redeemed[refresh] = struct{}{}
	}
	s.grantMu.Unlock()
	if tw.status >= 400 {
		s.count(func(st *Stats) { st.FailedRequests++ })
	}
}

// serveRevoke is the RFC 7009 revocation endpoint. Unknown tokens are not
// an error (RFC 7009 section 2.2).
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, oauthError{"invalid_request", "use POST"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "unreadable form body"})
		return
	}
	if _, _, err := s.authenticateClient(r); err != nil {
		s.writeOAuthError(w, err)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "token is required"})
		return
	}
	if s.RevokeToken(token) {
		s.count(func(st *Stats) { st.Revocations++ })
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// authenticateClient is the library's ClientInfoHandler, made strict: only
// Options.AuthStyle is accepted, and the client is fully authenticated here
// because the library does not check the secret on refresh_token grants.
// r's form must already be parsed (the library reads grant_type first).
func (s *Server) authenticateClient(r *http.Request) (id, secret string, err error) {
	basicID, basicSecret, hasBasic := r.BasicAuth()
	hasHeader := r.Header.Get("Authorization") != ""
	_, bodySecret := r.PostForm["client_secret"]
	switch s.opts.AuthStyle {
	case AuthStyleHeader:
		if !hasBasic || bodySecret {
			return "", "", oerrors.ErrInvalidClient
		}
		// RFC 6749 section 2.3.1: both are form-urlencoded before Basic encoding.
		id, secret = unescape(basicID), unescape(basicSecret)
		if bodyID := r.PostForm.Get("client_id"); bodyID != "" && bodyID != id {
			return "", "", oerrors.ErrInvalidClient
		}
	case AuthStyleBody:
		if hasHeader {
			return "", "", oerrors.ErrInvalidClient
		}
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	registered := &client{models.Client{ID: s.opts.ClientID, Secret: s.opts.ClientSecret}}
	if id != registered.ID || !registered.VerifyPassword(secret) {
		return "", "", oerrors.ErrInvalidClient
	}
	return id, secret, nil
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// internalError maps errors the library leaves unmapped (which it would send
// as server_error, 500) to RFC 6749 errors.
func internalError(err error) *oerrors.Response {
	grant := func(desc string) *oerrors.Response {
		return &oerrors.Response{Error: oerrors.ErrInvalidGrant, Description: desc}
	}
	switch err {
	case errLoginRequired:
		return &oerrors.Response{Error: err, Description: "The user is not signed in and prompt=none forbids showing the login page"}
	case errConsentRequired:
		return &oerrors.Response{Error: err, Description: "The user has not approved this client and prompt=none forbids asking"}
	case oerrors.ErrMissingCodeVerifier:
		return grant("code_verifier is missing, or was sent for a code issued without code_challenge")
	case oerrors.ErrInvalidCodeChallenge:
		return grant("code_verifier does not match the code_challenge")
	case oerrors.ErrInvalidAuthorizeCode:
		return grant("The authorization code is invalid, expired or already used")
	case oerrors.ErrInvalidRedirectURI:
		return grant("redirect_uri does not match the authorization request")
	case oerrors.ErrInvalidRefreshToken, oerrors.ErrExpiredRefreshToken:
		return grant("The refresh token is invalid, expired or revoked")
	}
	return nil // server_error
}

// fixErrorStatus applies RFC 6749 section 5.2 status codes: the library
// answers 401 for invalid_grant, unauthorized_client and
// unsupported_grant_type, where the RFC says 400.
func fixErrorStatus(re *oerrors.Response) {
	if re.Error == nil {
		return
	}
	switch re.Error.Error() {
	case "invalid_client":
		re.StatusCode = http.StatusUnauthorized
		re.SetHeader("WWW-Authenticate", `Basic realm="sandbox"`)
	case "server_error":
		re.StatusCode = http.StatusInternalServerError
	case "temporarily_unavailable":
		re.StatusCode = http.StatusServiceUnavailable
	default:
		re.StatusCode = http.StatusBadRequest
	}
}

// writeTokenResponse is the library's ResponseTokenHandler: its default
// output plus instance_url on successful responses, like Salesforce, so
// callers can check that extra fields survive.
func writeTokenResponse(w http.ResponseWriter, data map[string]any, header http.Header, statusCode ...int) error {
	if tw, ok := w.(*tokenWriter); ok {
		if _, ok := data["access_token"]; ok {
			data["instance_url"] = tw.baseURL
		}
	}
	status := http.StatusOK
	if len(statusCode) > 0 && statusCode[0] > 0 {
		status = statusCode[0]
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Pragma", "no-cache")
	return writeJSON(w, status, data)
}

// writeOAuthError writes err as an RFC 6749 JSON error.
func (s *Server) writeOAuthError(w http.ResponseWriter, err error) {
	data, status, header := s.oauth.GetErrorData(err)
	for k, v := range header {
		w.Header()[k] = v
	}
	_ = writeJSON(w, status, data)
}

// oauthError is an RFC 6749 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// baseURL is the scheme and host the request was sent to.
func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// bearerToken is the library's AccessTokenResolveHandler, reading only the
// Authorization header (the default also parses the form, which would
// consume the body of /api/echo). The scheme is case-insensitive.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// serveMetadata serves RFC 8414 authorization server metadata.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	auth := "client_secret_basic"
	if s.opts.AuthStyle == AuthStyleBody {
		auth = "client_secret_post"
	}
	_ = writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                     base,
		"authorization_endpoint":                     base + "/authorize",
		"token_endpoint":                             base + "/token",
		"revocation_endpoint":                        base + "/revoke",
		"response_types_supported":                   []string{"code"},
		"grant_types_supported":                      []string{"authorization_code", "refresh_token", "client_credentials"},
		"code_challenge_methods_supported":           []string{"S256"},
		"token_endpoint_auth_methods_supported":      []string{auth},
		"revocation_endpoint_auth_methods_supported": []string{auth},
		"prompt_values_supported":                    []string{"none", "login", "consent", "select_account"},
	})
}
