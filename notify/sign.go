package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Signature is the webhook-signature value of body sent with id at ts,
// keyed with key (the decoded part of a whsec_ secret: store.WebhookKey):
// "v1," and the base64 of HMAC-SHA256(key, id "." ts "." body).
func Signature(key []byte, id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// setHeaders signs a request carrying body.
func setHeaders(h http.Header, key []byte, id string, ts time.Time, body []byte) {
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "scriptrun-webhooks/1")
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Signature(key, id, ts, body))
}
