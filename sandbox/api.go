package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// API limits.
const (
	maxEchoBody = 1 << 20
	maxItems    = 10000
	maxSlow     = time.Minute
)

type tokenInfoKey struct{}

// api returns the /api/ handler: every request needs a valid bearer token,
// checked by the library's ValidationBearerToken against the token store.
func (s *Server) api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/me", s.apiMe)
	mux.HandleFunc("/api/items", s.apiItems)
	mux.HandleFunc("/api/echo", s.apiEcho)
	mux.HandleFunc("/api/slow", s.apiSlow)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		_ = writeJSON(w, http.StatusNotFound, oauthError{"not_found", "no such API endpoint: " + r.URL.Path})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count(func(st *Stats) { st.APICalls++ })
		ti, err := s.oauth.ValidationBearerToken(r)
		if err != nil {
			s.count(func(st *Stats) { st.APIRejected++ })
			writeBearerError(w, r, err)
			return
		}
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenInfoKey{}, ti)))
	})
}

// writeBearerError answers 401 as RFC 6750 section 3 describes.
func writeBearerError(w http.ResponseWriter, r *http.Request, err error) {
	if _, ok := bearerToken(r); !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sandbox"`)
		_ = writeJSON(w, http.StatusUnauthorized, oauthError{"unauthorized", "a bearer access token is required"})
		return
	}
	desc := "the access token is invalid or revoked"
	switch {
	case errors.Is(err, oerrors.ErrExpiredAccessToken):
		desc = "the access token expired"
	case errors.Is(err, oerrors.ErrExpiredRefreshToken):
		desc = "the grant behind the access token expired"
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="sandbox", error="invalid_token", error_description=%q`, desc))
	_ = writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_token", desc})
}

func tokenInfo(r *http.Request) oauth2.TokenInfo {
	return r.Context().Value(tokenInfoKey{}).(oauth2.TokenInfo)
}

// allowMethods answers 405 unless r uses one of methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	_ = writeJSON(w, http.StatusMethodNotAllowed, oauthError{"method_not_allowed", "use " + strings.Join(methods, " or ")})
	return false
}

// apiMe: GET /api/me → {"user", "client", "scope"} of the access token.
func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	ti := tokenInfo(r)
	_ = writeJSON(w, http.StatusOK, map[string]string{
		"user":   ti.GetUserID(),
		"client": ti.GetClientID(),
		"scope":  ti.GetScope(),
	})
}

// Item is one record returned by GET /api/items.
type Item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Done bool   `json:"done"`
}

// apiItems: GET /api/items?n=N → N items (default 3).
func (s *Server) apiItems(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	n := 3
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 || n > maxItems {
			_ = writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", fmt.Sprintf("n must be an integer from 0 to %d", maxItems)})
			return
		}
	}
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{ID: i + 1, Name: fmt.Sprintf("Item %d", i+1), Done: i%2 == 1}
	}
	_ = writeJSON(w, http.StatusOK, items)
}

// Echo is the response of /api/echo.
type Echo struct {
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Query       map[string]string `json:"query"` // first value of each parameter
	RawQuery    string            `json:"raw_query"`
	ContentType string            `json:"content_type"`
	Body        string            `json:"body"`
	// Headers are the request headers with lower-case names, except
	// Authorization, Cookie and Proxy-Authorization.
	Headers map[string]string `json:"headers"`
}

// apiEcho: any method on /api/echo → what was received, never credentials.
func (s *Server) apiEcho(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEchoBody))
	if err != nil {
		_ = writeJSON(w, http.StatusRequestEntityTooLarge, oauthError{"too_large", fmt.Sprintf("body over %d bytes", maxEchoBody)})
		return
	}
	e := Echo{
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       map[string]string{},
		RawQuery:    r.URL.RawQuery,
		ContentType: r.Header.Get("Content-Type"),
		Body:        string(body),
		Headers:     map[string]string{},
	}
	for k, v := range r.URL.Query() {
		e.Query[k] = v[0]
	}
	for k, v := range r.Header {
		switch k = strings.ToLower(k); k {
		case "authorization", "cookie", "proxy-authorization":
			continue
		default:
			e.Headers[k] = strings.Join(v, ", ")
		}
	}
	_ = writeJSON(w, http.StatusOK, e)
}

// apiSlow: GET /api/slow?ms=N waits N ms (default 1000) or until the client
// goes away, which is counted in Stats.APICancelled.
func (s *Server) apiSlow(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) {
		return
	}
	ms := 1000
	if v := r.URL.Query().Get("ms"); v != "" {
		var err error
		if ms, err = strconv.Atoi(v); err != nil || ms < 0 || time.Duration(ms)*time.Millisecond > maxSlow {
			_ = writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", fmt.Sprintf("ms must be an integer from 0 to %d", maxSlow.Milliseconds())})
			return
		}
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		_ = writeJSON(w, http.StatusOK, map[string]int{"waited_ms": ms})
	case <-r.Context().Done():
		s.count(func(st *Stats) { st.APICancelled++ })
	}
}
