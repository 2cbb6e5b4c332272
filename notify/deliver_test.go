package notify

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/scriptrun/scriptrun/store"
	"github.com/scriptrun/scriptrun/store/storetest"
)

func newService(t *testing.T, db *store.DB, c *clock, worker string) *Service {
	t.Helper()
	return New(Options{DB: db, Now: c.Now, Worker: worker, Backoff: func(int) time.Duration { return time.Minute }})
}

// emit records ev for every notifier, as Check does.
func emit(t *testing.T, db *store.DB, ev Event) {
	t.Helper()
	err := db.Update(func(tx *store.Tx) error {
		ns, err := tx.Notifiers()
		if err != nil {
			return err
		}
		_, err = enqueue(tx, ev, ns)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testEvent(c *clock, n int) Event {
	return Event{ID: fmt.Sprintf("msg_test%d", n), Type: store.EventCronFailed, Time: c.Now(), Data: map[string]any{"job": "nightly", "runId": n}}
}

func deliveryOf(t *testing.T, db *store.DB, id string) store.Delivery {
	t.Helper()
	var d store.Delivery
	if err := db.View(func(tx *store.Tx) (err error) { d, err = tx.Delivery(id); return err }); err != nil {
		t.Fatal(err)
	}
	return d
}

func deliverDue(t *testing.T, s *Service) int {
	t.Helper()
	n, err := s.DeliverDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeliverySignedAndVerified(t *testing.T) {
	db := storetest.Open(t)
	c := newClock()
	r := newReceiver(t, c.Now)
	r.addNotifier(t, db, "ops")
	other := newReceiver(t, c.Now)
	other.addNotifier(t, db, "tokens-only", store.EventTokenReauthRequired)
	s := newService(t, db, c, "w1")
	emit(t, db, testEvent(c, 1))
	if n := deliverDue(t, s); n != 1 {
		t.Fatalf("delivered %d, want 1", n)
	}
	got := r.deliveries()
	if len(got) != 1 || got[0].ID != "msg_test1" || got[0].Type != store.EventCronFailed || got[0].Data["job"] != "nightly" {
		t.Errorf("receiver got %+v, want one verified cron.failed for nightly with webhook-id msg_test1", got)
	}
	if other.postCount() != 0 {
		t.Errorf("a notifier for token events only got %d posts of cron.failed", other.postCount())
	}
	d := deliveryOf(t, db, "msg_test1.ops")
	if d.Status() != "delivered" || d.Attempts != 1 || d.LastStatus != http.StatusNoContent || d.ClaimedBy != "" {
		t.Errorf("delivery recorded as %+v, want delivered after 1 attempt with 204 and no lease", d)
	}
	if n := deliverDue(t, s); n != 0 || r.postCount() != 1 {
		t.Errorf("a delivered event was posted again (%d posts)", r.postCount())
	}
}

func TestRetriesWithBackoffThenDelivers(t *testing.T) {
	db := storetest.Open(t)
	c := newClock()
	r := newReceiver(t, c.Now, http.StatusInternalServerError, http.StatusServiceUnavailable)
	r.addNotifier(t, db, "ops")
	s := newService(t, db, c, "w1")
	emit(t, db, testEvent(c, 1))
	deliverDue(t, s) // 500
	c.Add(30 * time.Second)
	deliverDue(t, s) // not due yet
	if n := r.postCount(); n != 1 {
		t.Fatalf("posts before the back-off ran out: %d, want 1", n)
	}
	d := deliveryOf(t, db, "msg_test1.ops")
	if d.Status() != "retrying" || d.LastStatus != 500 || d.LastError != "HTTP 500 Internal Server Error" {
		t.Errorf("after a 500: %+v", d)
	}
	c.Add(30 * time.Second)
	deliverDue(t, s) // 503
	c.Add(time.Minute)
	if n := deliverDue(t, s); n != 1 {
		t.Errorf("third attempt delivered %d, want 1", n)
	}
	d = deliveryOf(t, db, "msg_test1.ops")
	if d.Status() != "delivered" || d.Attempts != 3 || r.postCount() != 3 || len(r.deliveries()) != 1 {
		t.Errorf("after 500, 503, 204: %+v with %d posts", d, r.postCount())
	}
}

func TestGivesUpAfter24Hours(t *testing.T) {
	db := storetest.Open(t)
	c := newClock()
	fail := make([]int, 100)
	for i := range fail {
		fail[i] = http.StatusBadGateway
	}
	r := newReceiver(t, c.Now, fail...)
	r.addNotifier(t, db, "ops")
	s := New(Options{DB: db, Now: c.Now, Worker: "w1"}) // the real back-off, with its jitter
	emit(t, db, testEvent(c, 1))
	for range 200 {
		deliverDue(t, s)
		if deliveryOf(t, db, "msg_test1.ops").Status() == "failed" {
			break
		}
		c.Add(10 * time.Minute)
	}
	d := deliveryOf(t, db, "msg_test1.ops")
	took := d.Failed.Sub(d.Created)
	if d.Status() != "failed" || took < 24*time.Hour || took > 26*time.Hour {
		t.Fatalf("delivery %+v: want failed 24 to 26 h after the event (took %s)", d, took)
	}
	// 30 s doubling up to 1 h, ±25 %: about 7 attempts to reach 1 h, then one an hour.
	if d.Attempts < 20 || d.Attempts > 40 {
		t.Errorf("%d attempts in 24 h, want about 30", d.Attempts)
	}
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	for _, tc := range []struct {
		n        int
		min, max time.Duration
	}{
		{1, 22 * time.Second, 38 * time.Second},
		{2, 45 * time.Second, 75 * time.Second},
		{5, 6 * time.Minute, 10 * time.Minute},
		{20, 45 * time.Minute, 75 * time.Minute},
	} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := Backoff(tc.n)
			seen[d] = true
			if d < tc.min || d > tc.max {
				t.Errorf("Backoff(%d) = %s, want %s to %s", tc.n, d, tc.min, tc.max)
			}
		}
		if len(seen) < 2 {
			t.Errorf("Backoff(%d) has no jitter", tc.n)
		}
	}
}

// A serve that stops (or dies holding a lease) leaves its deliveries in
// the store; the next one, on a new handle, sends them.
func TestDeliveryResumesAfterRestart(t *testing.T) {
	db := storetest.Open(t)
	c := newClock()
	r := newReceiver(t, c.Now)
	r.addNotifier(t, db, "ops")
	first := newService(t, db, c, "first")
	emit(t, db, testEvent(c, 1))
	emit(t, db, testEvent(c, 2))
	// The first process leases one attempt and dies before posting it.
	if _, _, ok, err := first.claim("msg_test1.ops"); !ok || err != nil {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	db2, err := store.Open(db.Path(), storetest.Key(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	second := newService(t, db2, c, "second")
	if n := deliverDue(t, second); n != 1 {
		t.Errorf("second process delivered %d at once, want 1 (the other is leased)", n)
	}
	c.Add(DefaultLease + time.Second)
	if n := deliverDue(t, second); n != 1 {
		t.Errorf("after the lease ran out the second process delivered %d, want 1", n)
	}
	if got := types(r.deliveries()); len(got) != 2 {
		t.Errorf("receiver got %v, want both events", got)
	}
}

// Two processes on one store deliver each event exactly once.
func TestTwoWorkersPostEachEventOnce(t *testing.T) {
	db := storetest.Open(t)
	c := newClock()
	r := newReceiver(t, c.Now)
	r.addNotifier(t, db, "ops")
	const events = 20
	for i := range events {
		emit(t, db, testEvent(c, i))
	}
	db2, err := store.Open(db.Path(), storetest.Key(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	workers := []*Service{newService(t, db, c, "a"), newService(t, db2, c, "b")}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for range 3 {
				if _, err := w.DeliverDue(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	count := map[string]int{}
	for _, d := range r.deliveries() {
		count[d.ID]++
	}
	if len(count) != events || r.postCount() != events {
		t.Errorf("%d posts of %d events, want %d of %d", r.postCount(), len(count), events, events)
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("event %s posted %d times", id, n)
		}
	}
}

// 410 Gone disables the notifier, as the specification suggests.
func TestGoneDisablesTheNotifier(t *testing.T) {
	db := storetest.Open(t)
	c := newClock()
	r := newReceiver(t, c.Now, http.StatusGone)
	r.addNotifier(t, db, "ops")
	s := newService(t, db, c, "w1")
	emit(t, db, testEvent(c, 1))
	emit(t, db, testEvent(c, 2))
	deliverDue(t, s)
	var n store.Notifier
	if err := db.View(func(tx *store.Tx) (err error) { n, err = tx.Notifier("ops"); return err }); err != nil {
		t.Fatal(err)
	}
	if !n.Disabled {
		t.Error("notifier not disabled after 410")
	}
	for _, id := range []string{"msg_test1.ops", "msg_test2.ops"} {
		if d := deliveryOf(t, db, id); d.Status() != "failed" {
			t.Errorf("%s: %s, want failed", id, d.Status())
		}
	}
	if r.postCount() != 1 {
		t.Errorf("%d posts, want 1 (none after 410)", r.postCount())
	}
}

func TestSendTest(t *testing.T) {
	db := storetest.Open(t)
	c := newClock()
	r := newReceiver(t, c.Now)
	r.addNotifier(t, db, "ops", store.EventCronFailed)
	s := newService(t, db, c, "w1")
	res, err := s.SendTest(context.Background(), "ops")
	if err != nil || !res.Delivered() || res.Status != http.StatusNoContent {
		t.Fatalf("SendTest = %+v, %v", res, err)
	}
	if got := types(r.deliveries()); fmt.Sprint(got) != "[test]" {
		t.Errorf("receiver got %v, want [test]", got)
	}
	var log []store.Delivery
	if err := db.View(func(tx *store.Tx) (err error) { log, err = tx.Deliveries(0, false); return err }); err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Event != "test" || log[0].Status() != "delivered" {
		t.Errorf("delivery log %+v, want the test delivered", log)
	}
	if _, err := s.SendTest(context.Background(), "nope"); err == nil {
		t.Error("SendTest to a missing notifier succeeded")
	}
}

// A connection error is recorded without the URL, which may carry the
// receiver's own token.
func TestConnectionErrorHidesTheURL(t *testing.T) {
	db := storetest.Open(t)
	c := newClock()
	r := newReceiver(t, c.Now)
	n := store.Notifier{Name: "ops", URL: r.srv.URL + "/hooks/T000/SECRETPATH", Secret: r.secret}
	if err := db.Update(func(tx *store.Tx) error { return tx.CreateNotifier(n) }); err != nil {
		t.Fatal(err)
	}
	r.srv.Close()
	s := newService(t, db, c, "w1")
	res, err := s.SendTest(context.Background(), "ops")
	if err != nil || res.Delivered() || res.Err == "" {
		t.Fatalf("SendTest to a closed server = %+v, %v", res, err)
	}
	if contains(res.Err, "SECRETPATH") {
		t.Errorf("error %q shows the URL", res.Err)
	}
}
