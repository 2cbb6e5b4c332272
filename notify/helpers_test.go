package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// clock is a settable time source, so tests go past back-offs and leases
// without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// delivery is one POST the receiver verified.
type delivery struct {
	ID   string
	Type string
	Data map[string]any
}

// receiver is a webhook endpoint that verifies each POST as the Standard
// Webhooks specification tells receivers to, written apart from Signature:
// the three headers present, the timestamp within 5 minutes of its clock,
// and one of the space-separated v1 signatures equal (in constant time)
// to HMAC-SHA256 of id.timestamp.body keyed with the base64-decoded part of
// the whsec_ secret. It answers with the statuses in fail first, then 204.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	now    func() time.Time

	mu    sync.Mutex
	fail  []int
	got   []delivery
	posts int
}

func newReceiver(t *testing.T, now func() time.Time, fail ...int) *receiver {
	r := &receiver{t: t, secret: store.NewWebhookSecret(), now: now, fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if problem := r.verify(req.Header, body); problem != "" {
		r.t.Errorf("receiver: refused a delivery: %s", problem)
		http.Error(w, problem, http.StatusUnauthorized)
		return
	}
	var msg struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Type == "" || msg.Timestamp == "" {
		r.t.Errorf("receiver: body %s is not {type, timestamp, data}", body)
	}
	r.mu.Lock()
	r.posts++
	status := http.StatusNoContent
	if len(r.fail) > 0 {
		status, r.fail = r.fail[0], r.fail[1:]
	} else {
		r.got = append(r.got, delivery{ID: req.Header.Get("webhook-id"), Type: msg.Type, Data: msg.Data})
	}
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *receiver) verify(h http.Header, body []byte) string {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return "missing a webhook-* header"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "timestamp is not Unix seconds"
	}
	if d := r.now().Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return "timestamp outside the tolerance"
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.secret, "whsec_"))
	if err != nil {
		return "bad secret"
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return ""
		}
	}
	return "no signature matches"
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func (r *receiver) postCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.posts
}

// addNotifier registers r as notifier name for events (all when none).
func (r *receiver) addNotifier(t *testing.T, db *store.DB, name string, events ...string) {
	t.Helper()
	n := store.Notifier{Name: name, URL: r.srv.URL + "/hook", Events: events, Secret: r.secret}
	if err := db.Update(func(tx *store.Tx) error { return tx.CreateNotifier(n) }); err != nil {
		t.Fatal(err)
	}
}

func types(ds []delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Type)
	}
	return out
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
