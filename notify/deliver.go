package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/scriptrun/scriptrun/store"
)

// DeliverDue attempts every delivery whose time has come and that no other
// process holds, one at a time, and returns how many it delivered.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	s.deliveryMu.Lock()
	defer s.deliveryMu.Unlock()
	var pending []store.Delivery
	err := s.db.View(func(tx *store.Tx) error {
		var err error
		pending, err = tx.Deliveries(0, true)
		if _, other := store.DamagedRecords(err); other != nil {
			return other
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	delivered := 0
	for i := len(pending) - 1; i >= 0; i-- { // oldest first
		if ctx.Err() != nil {
			break
		}
		d := pending[i]
		if d.NextAttempt.After(s.o.Now()) {
			continue
		}
		ok, err := s.attempt(ctx, d.ID)
		if err != nil {
			return delivered, err
		}
		if ok {
			delivered++
		}
	}
	return delivered, nil
}

// attempt claims one delivery, posts it and records the answer. It reports
// whether the delivery was delivered.
func (s *Service) attempt(ctx context.Context, id string) (bool, error) {
	d, n, ok, err := s.claim(id)
	if err != nil || !ok {
		return false, err
	}
	res := s.post(ctx, n, d.EventID, d.Body)
	if ctx.Err() != nil && res.Status == 0 {
		// Shutting down: leave the lease to expire and the attempt to the
		// next serve, without counting it.
		return false, nil
	}
	return res.Delivered(), s.finish(d, res)
}

// claim leases the delivery's next attempt to this process, and returns it
// with its notifier. ok is false when it is not due, held by another
// process, or finished. A delivery whose notifier is gone or disabled is
// marked failed.
func (s *Service) claim(id string) (d store.Delivery, n store.Notifier, ok bool, err error) {
	err = s.db.Update(func(tx *store.Tx) error {
		ok = false
		cur, err := tx.Delivery(id)
		if err != nil {
			return err
		}
		now := s.o.Now().UTC()
		if !cur.Pending() || cur.NextAttempt.After(now) || (cur.ClaimedBy != "" && cur.ClaimedUntil.After(now)) {
			return nil
		}
		nf, err := tx.Notifier(cur.Notifier)
		switch {
		case errors.Is(err, store.ErrNotFound):
			cur.Failed, cur.LastError = now, "the notifier was removed"
			return tx.PutDelivery(cur)
		case err != nil:
			return err
		case nf.Disabled:
			cur.Failed, cur.LastError = now, "the notifier is disabled (its endpoint answered 410 Gone)"
			return tx.PutDelivery(cur)
		}
		cur.ClaimedBy, cur.ClaimedUntil = s.o.Worker, now.Add(s.o.Lease)
		d, n, ok = cur, nf, true
		return tx.PutDelivery(cur)
	})
	return d, n, ok, err
}

// Result is how one attempt went.
type Result struct {
	Status  int           // the HTTP status; 0 when there was no answer
	Err     string        // what went wrong, in words without the URL or a secret
	Latency time.Duration // from sending to the answer
}

// Delivered reports whether the receiver took it (2xx).
func (r Result) Delivered() bool { return r.Status >= 200 && r.Status < 300 }

// post signs body with n's secret and posts it to n's URL.
func (s *Service) post(ctx context.Context, n store.Notifier, id string, body []byte) Result {
	key, err := store.WebhookKey(n.Secret)
	if err != nil {
		return Result{Err: "the notifier's secret is not usable: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: "the notifier's URL is not usable"}
	}
	setHeaders(req.Header, key, id, s.o.Now(), body)
	start := time.Now()
	resp, err := s.o.Client.Do(req)
	took := time.Since(start)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a token of the receiver's (a chat webhook's path)
		}
		return Result{Err: err.Error(), Latency: took}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	r := Result{Status: resp.StatusCode, Latency: took}
	if !r.Delivered() {
		r.Err = "HTTP " + resp.Status
	}
	return r
}

// finish records an attempt's result and releases the lease: delivered, or
// failed for good (410, or GiveUpAfter past the event), or due again after
// the back-off. 410 Gone also disables the notifier.
func (s *Service) finish(d store.Delivery, res Result) error {
	err := s.db.Update(func(tx *store.Tx) error {
		cur, err := tx.Delivery(d.ID)
		if err != nil {
			return err
		}
		if cur.ClaimedBy != s.o.Worker || !cur.Pending() {
			return nil // the lease ran out and another process took over
		}
		now := s.o.Now().UTC()
		cur.Attempts++
		cur.LastStatus, cur.LastError = res.Status, res.Err
		cur.ClaimedBy, cur.ClaimedUntil = "", time.Time{}
		switch {
		case res.Delivered():
			cur.Delivered = now
		case res.Status == http.StatusGone:
			cur.Failed = now
			if err := disable(tx, cur.Notifier); err != nil {
				return err
			}
		case now.Sub(cur.Created) >= s.o.GiveUpAfter:
			cur.Failed = now
		default:
			cur.NextAttempt = now.Add(s.o.Backoff(cur.Attempts))
		}
		return tx.PutDelivery(cur)
	})
	if err != nil {
		return fmt.Errorf("notify: record attempt of %s: %w", d.ID, err)
	}
	level := s.log.Info
	if !res.Delivered() {
		level = s.log.Warn
	}
	level("notify: delivery attempt", "event", d.Event, "id", d.EventID, "notifier", d.Notifier, "status", res.Status, "err", res.Err, "latency", res.Latency.Round(time.Millisecond).String())
	return nil
}

func disable(tx *store.Tx, name string) error {
	n, err := tx.Notifier(name)
	if err != nil {
		return nil // removed meanwhile
	}
	n.Disabled = true
	return tx.PutNotifier(n)
}

// SendTest posts a test event to the named notifier at once, whatever its
// events, records it in the delivery log and returns how it went.
func (s *Service) SendTest(ctx context.Context, name string) (Result, error) {
	var n store.Notifier
	if err := s.db.View(func(tx *store.Tx) (err error) { n, err = tx.Notifier(name); return err }); err != nil {
		return Result{}, err
	}
	ev := Event{ID: randomEventID(), Type: store.EventTest, Time: s.o.Now(), Data: map[string]any{"notifier": name}}
	body, err := ev.body()
	if err != nil {
		return Result{}, err
	}
	res := s.post(ctx, n, ev.ID, body)
	now := s.o.Now().UTC()
	d := store.Delivery{ID: ev.ID + "." + name, EventID: ev.ID, Event: ev.Type, Notifier: name, Body: body,
		Created: now, Attempts: 1, LastStatus: res.Status, LastError: res.Err}
	if res.Delivered() {
		d.Delivered = now
	} else {
		d.Failed = now // a test is not retried
	}
	err = s.db.Update(func(tx *store.Tx) error { _, err := tx.CreateDelivery(d); return err })
	return res, err
}
