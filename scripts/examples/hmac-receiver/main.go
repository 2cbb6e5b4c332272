// Command hmac-receiver is an example API that accepts only requests signed
// by a scriptrun hmac-body token (package hmacsig documents the scheme; its
// testdata/vectors.json has worked examples for other languages).
//
// Run it with the API token and secret it shares with scriptrun:
//
//	export HMAC_API_TOKEN=hooks-token-0001 HMAC_API_SECRET="$(openssl rand -hex 32)"
//	go run ./scripts/examples/hmac-receiver            # listens on 127.0.0.1:8088
//
// and send to it from a script:
//
//	scriptrun token add hooks --type hmac-body --api-token-env HMAC_API_TOKEN \
//	  --api-secret-env HMAC_API_SECRET --base-url http://127.0.0.1:8088
//	scriptrun scripts/examples/hmac-send.js
//
// Every request is checked before its handler runs: the signature over the
// method, path and query, time, nonce and body; the time within 5 minutes of
// this server's clock; the nonce never seen before. A refused request gets
// 401 and the reason (never the expected signature).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/scriptrun/scriptrun/hmacsig"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8088", "address to listen on")
	flag.Parse()
	token, secret := os.Getenv("HMAC_API_TOKEN"), os.Getenv("HMAC_API_SECRET")
	if token == "" || secret == "" {
		fmt.Fprintln(os.Stderr, "hmac-receiver: set HMAC_API_TOKEN and HMAC_API_SECRET to the API token and secret of the scriptrun hmac-body token")
		os.Exit(2)
	}
	keys := map[string]string{token: secret}
	h := newHandler(keys, log.New(os.Stderr, "hmac-receiver: ", log.LstdFlags))
	log.Printf("hmac-receiver: listening on http://%s", *addr)
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// newHandler verifies each request with the keys (API token to API secret)
// and answers what it received. A real receiver would hand the verified
// request to its own handler instead.
func newHandler(keys map[string]string, logger *log.Logger) http.Handler {
	v := &hmacsig.Verifier{
		Secret: func(token string) (string, bool) { s, ok := keys[token]; return s, ok },
		Nonce:  (&hmacsig.NonceCache{}).Check,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := v.Verify(r)
		if err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, hmacsig.ErrBodyTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			logger.Printf("refused %s %s: %v", r.Method, r.URL.Path, err)
			w.Header().Set("WWW-Authenticate", `HMAC-SHA256 realm="hmac-receiver"`)
			writeJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		body, _ := io.ReadAll(r.Body) // Verify put the body back
		logger.Printf("accepted %s %s from token %s (%d bytes, signed %s)", r.Method, r.URL.Path, res.Token, len(body), res.Signed.UTC().Format(time.RFC3339))
		writeJSON(w, http.StatusOK, map[string]any{
			"ok": true, "method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "bytes": len(body),
			"algorithm": res.Algorithm, "signed": res.Signed.UTC().Format(time.RFC3339),
		})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
