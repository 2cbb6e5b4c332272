package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scriptrun/scriptrun/internal/benchdata"
)

// servers is the loopback world every peer talks to: an API that checks a
// bearer token, a lighter one (lightURL) and an authorization server whose
// refresh grant mints new ones (rotating refresh tokens, a configurable
// answer delay).
type servers struct {
	api, auth  *http.Server
	apiURL     string
	tokenURL   string
	light      *http.Server
	lightURL   string
	lightAuth  atomic.Pointer[[]string] // the Authorization header the light API accepts
	tokenDelay time.Duration
	accessTTL  int // seconds, sent as expires_in

	mu      sync.RWMutex
	access  map[string]bool
	refresh map[string]bool

	tokenCalls atomic.Int64
	rejected   atomic.Int64
	big        []byte
}

func startServers(tokenDelay time.Duration) (*servers, error) {
	s := &servers{tokenDelay: tokenDelay, accessTTL: 3600, access: map[string]bool{}, refresh: map[string]bool{}}
	s.big = benchdata.Records(20000)

	api := http.NewServeMux()
	api.HandleFunc("/data", s.data)
	api.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.big)
	})
	api.HandleFunc("/summary", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(w, r) {
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"stored":true}`)
	})
	auth := http.NewServeMux()
	auth.HandleFunc("/token", s.token)

	var err error
	if s.api, s.apiURL, err = serve(api); err != nil {
		return nil, err
	}
	if s.light, s.lightURL, err = serve(http.HandlerFunc(s.lightData)); err != nil {
		return nil, err
	}
	var authURL string
	if s.auth, authURL, err = serve(auth); err != nil {
		return nil, err
	}
	s.tokenURL = authURL + "/token"
	return s, nil
}

func serve(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

func (s *servers) close() {
	s.api.Close()
	s.light.Close()
	s.auth.Close()
}

// authorized accepts a request with a valid bearer token; unsigned requests
// are accepted too when allowUnsigned (the signing-overhead comparison).
func (s *servers) authorized(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	s.mu.RLock()
	valid := ok && s.access[tok]
	s.mu.RUnlock()
	if !valid {
		s.rejected.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
		return false
	}
	return true
}

// data answers a small JSON document; it checks the token when one is sent,
// so the same endpoint serves signed and unsigned runs.
func (s *servers) data(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" && !s.authorized(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true,"items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"}]}`)
}

// lightBody is what the light API answers: 70 bytes of JSON.
var lightBody = []byte(`{"ok":true,"items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"}]}`)

// Header values of the light API's answers, shared by every answer (the
// server only reads them).
var (
	lightType   = []string{"application/json"}
	lightLength = []string{strconv.Itoa(len(lightBody))}
)

// allowLight makes access the one token the light API accepts.
func (s *servers) allowLight(access string) {
	s.lightAuth.Store(&[]string{"Bearer " + access})
}

// lightData is the light API: it accepts one access token (allowLight) as
// a bearer header and answers a fixed body, at any path. It does as little
// as a server can (no routing, no lock, no map, no Date header) so that the
// client's own cost per request is what shows on a shared machine.
func (s *servers) lightData(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	want := s.lightAuth.Load()
	got := r.Header["Authorization"]
	if want == nil || len(got) != 1 || got[0] != (*want)[0] {
		s.rejected.Add(1)
		h["Www-Authenticate"] = []string{`Bearer error="invalid_token"`}
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h["Content-Type"] = lightType
	h["Content-Length"] = lightLength
	h["Date"] = nil
	w.Write(lightBody)
}

func (s *servers) token(w http.ResponseWriter, r *http.Request) {
	s.tokenCalls.Add(1)
	time.Sleep(s.tokenDelay)
	r.ParseForm()
	rt := r.PostForm.Get("refresh_token")
	s.mu.Lock()
	ok := r.PostForm.Get("grant_type") == "refresh_token" && s.refresh[rt]
	if ok {
		delete(s.refresh, rt) // rotation: a refresh token works once
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant"}`)
		return
	}
	access, refresh := s.mint()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": s.accessTTL})
}

// mint issues a valid access and refresh token pair.
func (s *servers) mint() (access, refresh string) {
	access, refresh = randomHex(16), randomHex(16)
	s.mu.Lock()
	s.access[access] = true
	s.refresh[refresh] = true
	s.mu.Unlock()
	return access, refresh
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
