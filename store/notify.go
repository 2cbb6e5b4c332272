package store

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// Notification records: webhook endpoints (notifiers), the outbox of their
// deliveries, and the watch state from which package notify derives events
// (what it last saw of each token and job, so that an event is announced
// once per episode, by one process, even when several watch one store).
// All three are authenticated records: a forged delivery would be signed
// with a notifier's secret and posted, a forged notifier would send events
// elsewhere.
const (
	spaceNotifiers   = "notifiers"
	spaceNotifyOut   = "notifyoutbox"
	spaceNotifyState = "notifystate"
	// spaceNotifyPending indexes the deliveries still to be sent, so that
	// a worker's poll reads those, not the whole log.
	spaceNotifyPending = "notifypending"

	kindNotifier       = "notifier"
	kindNotifyDelivery = "notify delivery"
	kindNotifyState    = "notify state"
)

// Notification event types, as webhook bodies name them.
const (
	EventTokenReauthRequired = "token.reauth_required"
	EventTokenRecovered      = "token.recovered"
	EventTokenRefreshFailing = "token.refresh_failing"
	EventTokenExpiring       = "token.expiring"
	EventCronFailed          = "cron.failed"
	EventCronRecovered       = "cron.recovered"
	EventCronLost            = "cron.lost"
	// EventTest is sent by `scriptrun notify test` and the console's Test
	// button, whatever a notifier's events.
	EventTest = "test"
)

// NotifyEvents lists the event types a notifier may subscribe to.
var NotifyEvents = []string{
	EventTokenReauthRequired, EventTokenRecovered, EventTokenRefreshFailing, EventTokenExpiring,
	EventCronFailed, EventCronRecovered, EventCronLost,
}

// WebhookSecretPrefix starts a webhook secret in the Standard Webhooks form:
// "whsec_" then the base64 of the HMAC key.
const WebhookSecretPrefix = "whsec_"

// Notifier is a webhook endpoint that receives events.
type Notifier struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Events are the event types it receives; empty means all of them.
	Events []string `json:"events,omitempty"`
	// AllowHTTP permits a plain http URL to a host that is not loopback.
	AllowHTTP bool `json:"allowHttp,omitempty"`
	// SecretEnv names the environment variable the secret was read from,
	// for export; "" when scriptrun generated the secret.
	SecretEnv string `json:"secretEnv,omitempty"`
	// Disabled is set when the endpoint answered 410 Gone: nothing more is
	// sent until it is updated.
	Disabled bool      `json:"disabled,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	// Secret is the signing secret, "whsec_" and base64; sealed at rest.
	Secret string `json:"-"`
}

// Wants reports whether n receives events of type event.
func (n Notifier) Wants(event string) bool {
	return !n.Disabled && (len(n.Events) == 0 || slices.Contains(n.Events, event))
}

type notifierRecord struct {
	Notifier
	Sealed []byte `json:"sealed,omitempty"`
}

type notifierSecret struct {
	Secret string `json:"secret"`
}

func notifierAD(name string) []byte { return []byte("notifier\x00" + name) }

// NewWebhookSecret returns a new random secret in the whsec_ form (32
// bytes of key).
func NewWebhookSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("store: no randomness for a webhook secret: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// WebhookKey returns the HMAC key of a whsec_ secret.
func WebhookKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, WebhookSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("the webhook secret does not start with %s: give one in the Standard Webhooks form %s<base64>, or leave it out to have one generated", WebhookSecretPrefix, WebhookSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("the webhook secret is not %s followed by standard base64", WebhookSecretPrefix)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("the webhook secret's key has %d bytes; use 24 to 64", len(key))
	}
	return key, nil
}

// Validate checks that n can be stored and returns every problem at once,
// by field (FieldErrors), or nil. Its messages never repeat the secret.
func (n Notifier) Validate() error {
	var es FieldErrors
	if msg := nameProblem(n.Name); msg != "" {
		es.add("name", "notifier name", "%s", msg)
	}
	if msg := notifierURLProblem(n.URL, n.AllowHTTP); msg != "" {
		es.add("url", "URL", "%s", msg)
	}
	for _, e := range n.Events {
		if !slices.Contains(NotifyEvents, e) {
			es.add("events", "events", "%q is not an event: use any of %s", e, strings.Join(NotifyEvents, ", "))
			break
		}
	}
	if n.SecretEnv != "" && !envNameRE(n.SecretEnv) {
		es.add("secretEnv", "secret variable", "%q is not an environment variable name (letters, digits and _)", n.SecretEnv)
	}
	if _, err := WebhookKey(n.Secret); err != nil {
		es.add("secret", "secret", "%s", err)
	}
	return es.err()
}

func envNameRE(s string) bool {
	for i, c := range s {
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// notifierURLProblem says what is wrong with a webhook URL, or "".
func notifierURLProblem(raw string, allowHTTP bool) string {
	if raw == "" {
		return "required: give the receiver's address, like https://hooks.example.com/scriptrun"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Sprintf("%q is not an absolute http(s) URL: give it like https://hooks.example.com/scriptrun", raw)
	}
	if u.User != nil {
		return fmt.Sprintf("%q must not carry a user name or password", redactUserinfo(u))
	}
	if u.Fragment != "" {
		return fmt.Sprintf("%q must not have a #fragment", raw)
	}
	if u.Scheme == "http" && !allowHTTP && !IsLoopback(u.Hostname()) {
		return fmt.Sprintf("%q uses plain http: events would travel unencrypted; use https, or allow it with --allow-http (http is allowed for loopback hosts)", raw)
	}
	return ""
}

// Notifier returns the named notifier, or an error wrapping ErrNotFound.
func (tx *Tx) Notifier(name string) (Notifier, error) {
	v, err := tx.kv.Get(key(spaceNotifiers, name))
	if err != nil {
		return Notifier{}, tx.readError("notifier", name, err)
	}
	if v == nil {
		return Notifier{}, fmt.Errorf("notifier %q %w: list them with `scriptrun notify list`", name, ErrNotFound)
	}
	return tx.decodeNotifier(name, v)
}

// Notifiers returns every notifier, ordered by name. Damaged ones are left
// out and reported in the error (see DamagedRecords).
func (tx *Tx) Notifiers() ([]Notifier, error) {
	var out []Notifier
	var damaged []error
	err := tx.kv.List(key(spaceNotifiers, ""), func(k string, v []byte) error {
		n, err := tx.decodeNotifier(k, v)
		if err != nil {
			if asRecordError(err, &damaged) {
				return nil
			}
			return err
		}
		out = append(out, n)
		return nil
	})
	if err != nil {
		return out, err
	}
	return out, listDamaged(damaged)
}

func (tx *Tx) decodeNotifier(name string, v []byte) (Notifier, error) {
	var rec notifierRecord
	if err := tx.getRecord(kindNotifier, []byte(name), name, v, &rec); err != nil {
		return Notifier{}, err
	}
	if rec.Name != name {
		return Notifier{}, tx.recordError(kindNotifier, name, errUnreadable)
	}
	if len(rec.Sealed) > 0 {
		var sec notifierSecret
		if err := tx.db.unseal(rec.Sealed, notifierAD(name), &sec); err != nil {
			return Notifier{}, tx.recordError(kindNotifier, name, err)
		}
		rec.Secret = sec.Secret
	}
	return rec.Notifier, nil
}

// CreateNotifier stores a new notifier; an existing name gives ErrExists.
func (tx *Tx) CreateNotifier(n Notifier) error {
	if ok, err := tx.exists(spaceNotifiers, "notifier", n.Name); err != nil || ok {
		if err != nil {
			return err
		}
		return fmt.Errorf("notifier %q %w: remove it first with `scriptrun notify rm %s`, or choose another name", n.Name, ErrExists, n.Name)
	}
	return tx.PutNotifier(n)
}

// PutNotifier validates n and stores it, replacing any notifier of that
// name, its secret sealed. It sets Updated, and Created when it is new.
func (tx *Tx) PutNotifier(n Notifier) error {
	if err := n.Validate(); err != nil {
		return err
	}
	now := tx.db.now().UTC()
	n.Created = now
	if old, err := tx.Notifier(n.Name); err == nil {
		n.Created = old.Created
	}
	n.Updated = now
	sealed, err := tx.db.sealJSON(notifierSecret{Secret: n.Secret}, notifierAD(n.Name))
	if err != nil {
		return err
	}
	return tx.putRecord(spaceNotifiers, kindNotifier, n.Name, notifierRecord{Notifier: n, Sealed: sealed})
}

// DeleteNotifier removes a notifier (damaged or not). Its deliveries stay
// in the log and are no longer attempted.
func (tx *Tx) DeleteNotifier(name string) error {
	if ok, err := tx.exists(spaceNotifiers, "notifier", name); err != nil || !ok {
		if err != nil {
			return err
		}
		return fmt.Errorf("notifier %q %w: list them with `scriptrun notify list`", name, ErrNotFound)
	}
	return tx.kv.Delete(key(spaceNotifiers, name))
}

// Delivery is one event to send to one notifier, and how sending it went.
// Its ID (the event's id, a dot, the notifier's name) is chosen by the
// caller so that the same event is recorded once however many processes
// see it (CreateDelivery is create-only).
type Delivery struct {
	ID       string `json:"id"`
	EventID  string `json:"eventId"` // the webhook-id header: the same for every attempt
	Event    string `json:"event"`   // the event type
	Notifier string `json:"notifier"`
	// Body is the JSON posted; it never holds a secret.
	Body        json.RawMessage `json:"body"`
	Created     time.Time       `json:"created"`
	Attempts    int             `json:"attempts,omitempty"`
	NextAttempt time.Time       `json:"nextAttempt,omitzero"`
	LastStatus  int             `json:"lastStatus,omitempty"`
	LastError   string          `json:"lastError,omitempty"`
	Delivered   time.Time       `json:"delivered,omitzero"`
	// Failed is when sending was given up (retries exhausted, notifier
	// gone or disabled).
	Failed time.Time `json:"failed,omitzero"`
	// ClaimedBy and ClaimedUntil lease the next attempt to one process.
	ClaimedBy    string    `json:"claimedBy,omitempty"`
	ClaimedUntil time.Time `json:"claimedUntil,omitzero"`
}

// Pending reports whether d is still to be sent.
func (d Delivery) Pending() bool { return d.Delivered.IsZero() && d.Failed.IsZero() }

// Status is the delivery's state in a word: delivered, failed, retrying or
// pending.
func (d Delivery) Status() string {
	switch {
	case !d.Delivered.IsZero():
		return "delivered"
	case !d.Failed.IsZero():
		return "failed"
	case d.Attempts > 0:
		return "retrying"
	}
	return "pending"
}

func (d Delivery) check() error {
	var es FieldErrors
	if d.ID == "" || len(d.ID) > 200 || strings.ContainsRune(d.ID, '/') {
		es.add("id", "delivery id", "%q is not valid", d.ID)
	}
	if d.EventID == "" {
		es.add("eventId", "event id", "required")
	}
	if msg := nameProblem(d.Notifier); msg != "" {
		es.add("notifier", "notifier name", "%s", msg)
	}
	if !json.Valid(d.Body) {
		es.add("body", "body", "is not JSON")
	}
	return es.err()
}

// Delivery returns one delivery, or an error wrapping ErrNotFound.
func (tx *Tx) Delivery(id string) (Delivery, error) {
	v, err := tx.kv.Get(key(spaceNotifyOut, id))
	if err != nil {
		return Delivery{}, tx.readError("delivery", id, err)
	}
	if v == nil {
		return Delivery{}, fmt.Errorf("delivery %q %w", id, ErrNotFound)
	}
	var d Delivery
	if err := tx.getRecord(kindNotifyDelivery, []byte(id), id, v, &d); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

// CreateDelivery stores d unless a delivery with its ID exists, and
// reports whether it did: an event seen by several processes is recorded
// once.
func (tx *Tx) CreateDelivery(d Delivery) (bool, error) {
	if ok, err := tx.exists(spaceNotifyOut, "delivery", d.ID); err != nil || ok {
		return false, err
	}
	if d.Created.IsZero() {
		d.Created = tx.db.now().UTC()
	}
	return true, tx.PutDelivery(d)
}

// PutDelivery stores d, replacing the delivery with its ID.
func (tx *Tx) PutDelivery(d Delivery) error {
	if err := d.check(); err != nil {
		return err
	}
	if err := tx.putRecord(spaceNotifyOut, kindNotifyDelivery, d.ID, d); err != nil {
		return err
	}
	if d.Pending() {
		return tx.kv.Put(key(spaceNotifyPending, d.ID), nil)
	}
	return tx.kv.Delete(key(spaceNotifyPending, d.ID))
}

// Deliveries returns the deliveries, newest first, at most limit (all when
// limit <= 0); pendingOnly keeps those still to be sent. Damaged ones are
// left out and reported in the error (see DamagedRecords).
func (tx *Tx) Deliveries(limit int, pendingOnly bool) ([]Delivery, error) {
	var out []Delivery
	var damaged []error
	add := func(k string, v []byte) error {
		var d Delivery
		if err := tx.getRecord(kindNotifyDelivery, []byte(k), k, v, &d); err != nil {
			if asRecordError(err, &damaged) {
				return nil
			}
			return err
		}
		if !pendingOnly || d.Pending() {
			out = append(out, d)
		}
		return nil
	}
	var err error
	if pendingOnly {
		err = tx.kv.List(key(spaceNotifyPending, ""), func(k string, _ []byte) error {
			v, err := tx.kv.Get(key(spaceNotifyOut, k))
			if err != nil || v == nil {
				return err
			}
			return add(k, v)
		})
	} else {
		err = tx.kv.List(key(spaceNotifyOut, ""), add)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	if err != nil {
		return out, err
	}
	return out, listDamaged(damaged)
}

// TrimDeliveries removes finished deliveries created before cutoff, and the
// oldest finished ones beyond keep, and returns how many it removed.
// Pending deliveries are never removed.
func (tx *Tx) TrimDeliveries(keep int, cutoff time.Time) (int, error) {
	all, err := tx.Deliveries(0, false)
	if _, other := DamagedRecords(err); other != nil {
		return 0, other
	}
	n, kept := 0, 0
	for _, d := range all { // newest first
		if d.Pending() {
			continue
		}
		if kept < keep && !d.Created.Before(cutoff) {
			kept++
			continue
		}
		if err := tx.kv.Delete(key(spaceNotifyOut, d.ID)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// WatchState is what package notify last saw of one token or job, so that
// it announces each change once.
type WatchState struct {
	// Subject is "token:NAME" or "job:NAME".
	Subject string `json:"subject"`
	// Condition is the subject's condition in notify's words (ok, failing,
	// reauth, idle).
	Condition string    `json:"condition,omitempty"`
	Since     time.Time `json:"since,omitzero"` // when the condition began
	// Notified says the condition has been announced.
	Notified bool `json:"notified,omitempty"`
	// LastRun is the newest run of a job already looked at.
	LastRun uint64 `json:"lastRun,omitempty"`
	// Expiring is the expiry of a static token already announced.
	Expiring time.Time `json:"expiring,omitzero"`
}

// WatchStates returns every watch state by subject.
func (tx *Tx) WatchStates() (map[string]WatchState, error) {
	out := map[string]WatchState{}
	err := tx.kv.List(key(spaceNotifyState, ""), func(k string, v []byte) error {
		var s WatchState
		if err := tx.getRecord(kindNotifyState, []byte(k), k, v, &s); err != nil {
			return nil // a damaged state is seen afresh
		}
		out[k] = s
		return nil
	})
	return out, err
}

// WatchStatesOf returns the watch states of subjects that have one, by
// subject, read as WatchStates reads them (a damaged one is left out: seen
// afresh) but only those keys (on etcd in one round trip per batch, each
// fenced in an Update as a Get is).
func (tx *Tx) WatchStatesOf(subjects []string) (map[string]WatchState, error) {
	keys := make([]string, len(subjects))
	for i, s := range subjects {
		keys[i] = key(spaceNotifyState, s)
	}
	prefix := key(spaceNotifyState, "")
	out := make(map[string]WatchState, len(subjects))
	err := tx.kv.GetMany(keys, func(k string, v []byte) error {
		subject := k[len(prefix):]
		var s WatchState
		if err := tx.getRecord(kindNotifyState, []byte(subject), subject, v, &s); err != nil {
			return nil // a damaged state is seen afresh
		}
		out[subject] = s
		return nil
	})
	return out, err
}

// PutWatchState stores s under its subject.
func (tx *Tx) PutWatchState(s WatchState) error {
	if s.Subject == "" || len(s.Subject) > 100 {
		return fmt.Errorf("watch state subject %q is not valid", s.Subject)
	}
	return tx.putRecord(spaceNotifyState, kindNotifyState, s.Subject, s)
}

// DeleteWatchState removes the state of a subject (a token or job that is
// gone).
func (tx *Tx) DeleteWatchState(subject string) error {
	return tx.kv.Delete(key(spaceNotifyState, subject))
}
