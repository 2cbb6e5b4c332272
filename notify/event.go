package notify

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// Event is one thing to announce: its type (store.EventTokenRecovered, …),
// its id (the webhook-id of every delivery of it), when it happened, and
// what it is about.
type Event struct {
	ID   string
	Type string
	Time time.Time
	Data map[string]any
}

// eventID derives an event's id from what it is about, so that every
// process that sees the same change names it the same: its type, its
// subject (token:NAME, job:NAME) and what marks the episode (a time, a run
// id).
func eventID(typ, subject, episode string) string {
	sum := sha256.Sum256([]byte(typ + "\x00" + subject + "\x00" + episode))
	return "msg_" + hex.EncodeToString(sum[:16])
}

func randomEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand does not fail on supported systems
	return "msg_" + hex.EncodeToString(b)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// body is the JSON posted for ev: {"type", "timestamp", "data"}.
func (ev Event) body() ([]byte, error) {
	b, err := json.Marshal(struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}{ev.Type, stamp(ev.Time), ev.Data})
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.Type, err)
	}
	return b, nil
}

// tokenData is what an event says of a token: never its credential.
func tokenData(t store.Token) map[string]any {
	d := map[string]any{"token": t.Name, "type": t.Type, "state": string(t.State)}
	if t.Provider != "" {
		d["provider"] = t.Provider
	}
	if t.LastMessage != "" {
		// Built by the token manager from the provider's error code and
		// description, every secret of the request masked (tokens/doc.go).
		d["message"] = t.LastMessage
	}
	if t.RefreshFailures > 0 {
		d["refreshFailures"] = t.RefreshFailures
		d["refreshFailed"] = stamp(t.RefreshFailed)
	}
	return d
}

// runData is what an event says of a run: not its error or output, which
// may hold anything the script handled.
func runData(r store.Run) map[string]any {
	d := map[string]any{"job": r.Job, "runId": r.ID, "status": string(r.Status), "trigger": string(r.Trigger)}
	if !r.Started.IsZero() {
		d["started"] = stamp(r.Started)
	}
	if !r.Finished.IsZero() {
		d["finished"] = stamp(r.Finished)
	}
	return d
}

// enqueue records a delivery of ev to every notifier that wants it and
// reports how many it created (a delivery already there is not created
// again). Called inside an Update.
func enqueue(tx *store.Tx, ev Event, notifiers []store.Notifier) (int, error) {
	body, err := ev.body()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, nf := range notifiers {
		if !nf.Wants(ev.Type) {
			continue
		}
		created, err := tx.CreateDelivery(store.Delivery{
			ID: ev.ID + "." + nf.Name, EventID: ev.ID, Event: ev.Type, Notifier: nf.Name,
			Body: body, Created: ev.Time.UTC(), NextAttempt: ev.Time.UTC(),
		})
		if err != nil {
			return n, fmt.Errorf("record %s for notifier %q: %w", ev.Type, nf.Name, err)
		}
		if created {
			n++
		}
	}
	return n, nil
}
