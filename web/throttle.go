package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// Failed sign-ins are slowed down per client address, never locked out:
// after freeFailures wrong passwords in a row, each further attempt must
// wait a delay that doubles from base up to max. Attempts made while
// waiting are refused without checking the password and without counting,
// so an attacker cannot push the wait beyond max, and the admin is never
// kept out longer than max (or at all, from another address).
//
// The records live in the store's ephemeral state under "signin/" + the
// address (which the store keeps only as a hash), so every node of a
// cluster applies the same delay: spreading guesses over the nodes gains
// nothing. Two failures at the same instant on two nodes may count once.
const (
	freeFailures = 3
	// forgetAfter clears an address's record once it has been quiet this long.
	forgetAfter = 30 * time.Minute
)

type throttle struct {
	eph       ephemeralStore
	kind      string // the records' ephemeral kind: "signin", or "reconnect" for unknown links
	log       *slog.Logger
	now       func() time.Time
	base, max time.Duration
}

// attempts is an address's record, as stored.
type attempts struct {
	Failures int       `json:"failures"`
	Last     time.Time `json:"last"`  // last failure
	Until    time.Time `json:"until"` // no attempt before this
	// Epoch is the admin password's Set the record belongs to: a new
	// password clears every delay.
	Epoch time.Time `json:"epoch"`
}

func newThrottle(eph ephemeralStore, log *slog.Logger, now func() time.Time, base, max time.Duration) *throttle {
	return &throttle{eph: eph, kind: "signin", log: log, now: now, base: base, max: max}
}

func (t *throttle) key(client string) string { return t.kind + "/" + client }

// record returns the client's failures under epoch at now, nil when there
// are none (never, forgotten, or of another password). A store failure is
// logged and taken as none: the delay is a brake, not the lock.
func (t *throttle) record(client string, epoch, now time.Time) *attempts {
	b, err := t.eph.Get(t.key(client))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			t.log.Error("sign-in delay not read", "remote", client, "err", err)
		}
		return nil
	}
	var a attempts
	if json.Unmarshal(b, &a) != nil || !a.Epoch.Equal(epoch) || now.Sub(a.Last) >= forgetAfter {
		return nil
	}
	return &a
}

// wait returns how long the client must still wait before its next attempt
// (0: it may try now). A new admin password (epoch) clears every record.
func (t *throttle) wait(client string, epoch time.Time) time.Duration {
	now := t.now()
	if a := t.record(client, epoch, now); a != nil && now.Before(a.Until) {
		return a.Until.Sub(now)
	}
	return 0
}

// failed records a wrong password under epoch and returns the delay now
// imposed.
func (t *throttle) failed(client string, epoch time.Time) time.Duration {
	now := t.now()
	a := t.record(client, epoch, now)
	if a == nil {
		a = &attempts{Epoch: epoch}
	}
	a.Failures++
	a.Last = now
	d := t.delay(a.Failures)
	a.Until = now.Add(d)
	b, err := json.Marshal(a)
	if err == nil {
		err = t.eph.PutTTL(t.key(client), b, forgetAfter, false)
	}
	if err != nil {
		t.log.Error("sign-in delay not stored", "remote", client, "err", err)
	}
	return d
}

// succeeded forgets the client's failures.
func (t *throttle) succeeded(client string) {
	if err := t.eph.Delete(t.key(client)); err != nil {
		t.log.Error("sign-in delay not cleared", "remote", client, "err", err)
	}
}

// delay is 0 for the first freeFailures failures, then base, 2·base, 4·base
// ... up to max.
func (t *throttle) delay(failures int) time.Duration {
	n := failures - freeFailures
	if n <= 0 {
		return 0
	}
	d := t.base
	for i := 1; i < n && d < t.max; i++ {
		d *= 2
	}
	return min(d, t.max)
}
